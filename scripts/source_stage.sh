#!/usr/bin/env bash
# Source stage of MCL-NER on CoNLL: English training, zero-shot dev scores in de/es/nl,
# next to spaCy's built-in `ner` on the same encoder, data and budget; then speed.
# Sizes come from the environment (defaults: the CPU run reported in the README).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data}
ENCODER=${ENCODER:-assets/encoder}  # the encoder folder both pipelines load (made if missing)
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

# shellcheck source=scripts/prepare_benchmarks.sh
. scripts/prepare_benchmarks.sh
# shellcheck source=scripts/train_once.sh
. scripts/train_once.sh

mkdir -p metrics
declare -A settings=([mclner]="--components.mclner.none_weight $NONE_WEIGHT"
    [ner_baseline]="--training.optimizer.learn_rate.initial_rate $NER_LR")
common=(--paths.train corpus/en-train.spacy --paths.dev corpus/dev --paths.encoder "$ENCODER"
    --paths.train_limit "$TRAIN_SENTS" --paths.dev_limit "$DEV_SELECT"
    --training.max_epochs "$EPOCHS" --training.eval_frequency 50 "${by_sentences[@]}"
    --training.optimizer.learn_rate.total_steps "$STEPS")
spacy_train() {  # NAME [OVERRIDES...]: configs/NAME.cfg into training/NAME, its log in metrics/train_NAME.log
    local name=$1; shift
    python -m spacy train "configs/$name.cfg" --output "training/$name" "$@" | tee "metrics/train_$name.log"
}
for name in mclner ner_baseline; do
    # every setting is an argument of the recorded command (train_once), so a rerun with other sizes
    # is told apart from the finished run
    # shellcheck disable=SC2086  # each settings entry holds an option and its value
    train_once "training/$name" spacy_train "$name" "${common[@]}" ${settings[$name]}
    cp "training/$name/seconds" "metrics/train_$name.seconds"
    python -m spacy_mclner evaluate "training/$name/model-best" corpus/dev --output "metrics/dev_$name.json"
done
python -m spacy_mclner bench training/mclner/model-best training/ner_baseline/model-best \
    --data corpus/dev/en-dev.spacy --limit 512 --train-batches 4 --output metrics/bench
