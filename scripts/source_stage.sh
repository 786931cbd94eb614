#!/usr/bin/env bash
# Source stage of MCL-NER on CoNLL: English training, zero-shot dev scores in de/es/nl,
# next to spaCy's built-in `ner` on the same encoder, data and budget; then speed.
# Sizes come from the environment (defaults: the CPU run reported in the README).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data}
TRAIN_SENTS=${TRAIN_SENTS:-4000}
EPOCHS=${EPOCHS:-2}
DEV_SELECT=${DEV_SELECT:-250}     # dev docs per language used to pick the checkpoint
# The smoke runs' settings (docs/smoke-runs.md), which the configs no longer default to:
NONE_WEIGHT=${NONE_WEIGHT:-1.0}   # mclner's weight of `none` cells (the configs': 0.1)
NER_LR=${NER_LR:-0.00005}         # ner's peak rate (the config's: 2e-4)
BATCH=32
STEPS=$(( (TRAIN_SENTS + BATCH - 1) / BATCH * EPOCHS ))
# The configs batch sentences of similar length by padded words; this run keeps random batches of
# BATCH sentences (spacy.batch_by_sequence.v1), as STEPS and the README's numbers assume.
by_sentences=(--training.batcher "{\"@batchers\": \"spacy.batch_by_sequence.v1\", \"size\": $BATCH, \"get_length\": null}")

[ -f assets/encoder/config.json ] || python -m spacy_mclner encoder assets/encoder
[ -f corpus/en-train.spacy ] || python -m spacy_mclner convert "$DATA/conll2003/en/train" corpus/en-train.spacy --lang en
for pair in conll2003/en:en conll2003/de:de conll2002/es:es conll2002/nl:nl; do
    lang=${pair#*:}
    [ -f "corpus/dev/$lang-dev.spacy" ] || python -m spacy_mclner convert "$DATA/${pair%:*}/dev" "corpus/dev/$lang-dev.spacy" --lang "$lang"
done

mkdir -p metrics
declare -A settings=([mclner]="--components.mclner.none_weight $NONE_WEIGHT"
    [ner_baseline]="--training.optimizer.learn_rate.initial_rate $NER_LR")
# shellcheck disable=SC2086  # each settings entry holds an option and its value
for name in mclner ner_baseline; do
    # finished when its wall time is written, after the last step; a stopped run starts again
    if [ ! -f "metrics/train_$name.seconds" ]; then
        rm -rf "training/$name"
        start=$SECONDS
        python -m spacy train "configs/$name.cfg" --output "training/$name" \
            --paths.train corpus/en-train.spacy --paths.dev corpus/dev \
            --paths.train_limit "$TRAIN_SENTS" --paths.dev_limit "$DEV_SELECT" \
            --training.max_epochs "$EPOCHS" --training.eval_frequency 50 "${by_sentences[@]}" \
            --training.optimizer.learn_rate.total_steps "$STEPS" ${settings[$name]} | tee "metrics/train_$name.log"
        echo "$(( SECONDS - start ))" > "metrics/train_$name.seconds"
    fi
    python -m spacy_mclner evaluate "training/$name/model-best" corpus/dev --output "metrics/dev_$name.json"
done
python -m spacy_mclner bench training/mclner/model-best training/ner_baseline/model-best \
    --data corpus/dev/en-dev.spacy --limit 512 --train-batches 4 --output metrics/bench
