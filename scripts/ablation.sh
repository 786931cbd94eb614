#!/usr/bin/env bash
# MCL-NER ablation (paper Fig. 3): full / w/o sc / w/o tc / w/o both / spaCy `ner`, trained on
# English CoNLL-2003 (+ its code-switched views) with the same encoder, data and budget, and
# scored on the dev sets of CoNLL de/es/nl and PAN-X de/es/ru/ar/hi/zh.
# Sizes come from the environment; the defaults are a CPU-sized run.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data}
ENCODER=${ENCODER:-assets/encoder}
TRAIN_SENTS=${TRAIN_SENTS:-4000}
STEPS=${STEPS:-250}                # optimizer steps of every row
BATCH_WORDS=${BATCH_WORDS:-500}    # padded words per batch, sentences of similar length together (about 32 sentences)
DEV_SELECT=${DEV_SELECT:-250}      # dev docs per language that pick each row's checkpoint
LANGS=${LANGS:-de,es,nl,ru,ar,hi,zh}  # code-switched view languages
LANGS_PER_DOC=${LANGS_PER_DOC:-1}  # views per English sentence, each in a language drawn at random (0: one per language)
OUT=${OUT:-training/ablation}      # the rows' runs
EVAL_LIMIT=${EVAL_LIMIT:-0}        # dev docs per language in the final scores (0: all)
METRICS=${METRICS:-metrics}        # the scores and the table
MCLNER_ARGS=${MCLNER_ARGS:-}     # extra `spacy train` overrides for the four mclner rows, e.g. none_weight
NER_LR=${NER_LR:-0.00005}        # the ner row's peak rate: the smoke runs' (docs/smoke-runs.md); the config's is 2e-4

# shellcheck source=scripts/prepare_benchmarks.sh
. scripts/prepare_benchmarks.sh
# shellcheck source=scripts/train_once.sh
. scripts/train_once.sh
mkdir -p "$METRICS"
views="corpus/en-train-cs-${TRAIN_SENTS}-${LANGS//,/-}-${LANGS_PER_DOC}.spacy"
# made as learning_curves.sh makes the views of the same name: FreeDict (copied or fetched) and CLDR names
if [ ! -f "$views" ]; then
    python -m spacy_mclner dictionaries corpus/freedict --langs "$LANGS"
    python -m spacy_mclner codeswitch corpus/en-train.spacy "$views" --langs "$LANGS" --langs-per-doc "$LANGS_PER_DOC" \
        --limit "$TRAIN_SENTS" --seed 0 --freedict-dir corpus/freedict --report "${views%.spacy}.coverage.json"
fi

common=(--paths.train corpus/en-train.spacy --paths.dev corpus/dev --paths.encoder "$ENCODER"
        --paths.train_limit "$TRAIN_SENTS" --paths.dev_limit "$DEV_SELECT" --training.max_epochs 0
        --training.max_steps "$STEPS" --training.optimizer.learn_rate.total_steps "$STEPS" --training.eval_frequency 50
        --training.batcher.size "$BATCH_WORDS")
train() {  # name config extra-args...
    local name=$1 config=$2; shift 2
    train_once "$OUT/$name" python -m spacy train "$config" --output "$OUT/$name" "${common[@]}" "$@"
}
# shellcheck disable=SC2086  # MCLNER_ARGS holds several words on purpose
train full configs/mclner_multiview.cfg --paths.views "$views" $MCLNER_ARGS
train wo_sc configs/mclner_multiview.cfg --paths.views "$views" --components.mclner.sc_weight 0 $MCLNER_ARGS
train wo_tc configs/mclner_multiview.cfg --paths.views "$views" --components.mclner.tc_weight 0 $MCLNER_ARGS
train wo_both configs/mclner_multiview.cfg --paths.views "$views" --components.mclner.sc_weight 0 \
    --components.mclner.tc_weight 0 $MCLNER_ARGS
train ner_baseline configs/ner_baseline.cfg --training.optimizer.learn_rate.initial_rate "$NER_LR"
# The table: F1 per language and the macro average over the targets, each benchmark on its own
# (they share languages); PAN-X has no MISC, so the CoNLL-trained models' MISC is left out there.
rows=()
for name in full wo_sc wo_tc wo_both ner_baseline; do rows+=("$name=$OUT/$name/model-best"); done
python -m spacy_mclner report "${rows[@]}" --data corpus/dev --source en --limit "$EVAL_LIMIT" --output "$METRICS/ablation_conll"
python -m spacy_mclner report "${rows[@]}" --data corpus/panx-dev --labels PER,LOC,ORG --limit "$EVAL_LIMIT" \
    --output "$METRICS/ablation_panx"
