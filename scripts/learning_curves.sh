#!/usr/bin/env bash
# Learning curves to a plateau: spaCy's `ner` and `mclner` (source stage with code-switched
# views, L_sc and L_tc) on the same encoder, English sentences, encoder regime, batches and dev
# sentences, each trained for STEPS steps with dev F1 every EVAL_EVERY steps (one JSON line per
# evaluation in OUT/NAME/curve.jsonl); then one plot of the target macro F1 against steps and the
# plateau check of every finished run in OUT (python -m spacy_mclner curves).
# Sizes come from the environment; besides those below: SEED, BATCH_WORDS (padded words a batch),
# FREEZE, PRECISION and CACHE_MB (the encoder regime of both pipelines), OUT (the runs' folder).
#   BENCHMARK: conll (CoNLL-2003 English; CoNLL dev en, de, es, nl) or panx (PAN-X English; the PAN-X
#   dev sets of all 39 languages, the first PANX_DEV sentences of each, in corpus/panx-dev-PANX_DEV).
#   RUNS: which rows to train (see the case below; a finished run is kept); NER_LR: ner's peak rate;
#   MCLNER_LR and NONE_WEIGHT: mclner's; SC_WEIGHT, TC_WEIGHT and SC_TEMPERATURE: the full row's (a
#   remedy tried on L_sc is an OUT of its own); WORD_PROB: the views' share of switched phrases outside entities.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data}
ENCODER=${ENCODER:-assets/encoder}
TRAIN_SENTS=${TRAIN_SENTS:-4000}
BENCHMARK=${BENCHMARK:-conll}
DEV_SELECT=${DEV_SELECT:-$([ "$BENCHMARK" = panx ] && echo 50 || echo 200)}  # dev sentences per language at each evaluation
PANX_DEV=${PANX_DEV:-500}
STEPS=${STEPS:-3000}
TOTAL_STEPS=${TOTAL_STEPS:-$STEPS}  # where the learning rate's linear decay ends: a shorter run of a longer schedule
EVAL_EVERY=${EVAL_EVERY:-150}
BATCH_WORDS=${BATCH_WORDS:-250}
FREEZE=${FREEZE:-8}                 # encoder layers frozen (and cached) in both pipelines
PRECISION=${PRECISION:-bfloat16}
CACHE_MB=${CACHE_MB:-4096}
NER_LR=${NER_LR:-0.00005}
MCLNER_LR=${MCLNER_LR:-0.001}
NONE_WEIGHT=${NONE_WEIGHT:-0.1}        # mclner's weight of `none` cells in L_ce
SC_WEIGHT=${SC_WEIGHT:-0.5}            # the full row's weights of L_sc and L_tc
TC_WEIGHT=${TC_WEIGHT:-0.5}
SC_TEMPERATURE=${SC_TEMPERATURE:-null}  # null: L_sc takes `temperature` (0.1), as L_tc does
WORD_PROB=${WORD_PROB:-0.3}
SEED=${SEED:-0}
RUNS=${RUNS:-"mclner ner"}
OUT=${OUT:-training/curves}

source scripts/prepare_benchmarks.sh
# shellcheck source=scripts/train_once.sh
source scripts/train_once.sh
case $BENCHMARK in
    conll) TRAIN=corpus/en-train.spacy DEV=corpus/dev TARGETS=de,es,nl SWITCHED=$TARGETS VIEW_LANGS=de-es-nl ;;
    panx)
        TRAIN=corpus/panx-en-train.spacy DEV=corpus/panx-dev-$PANX_DEV
        [ -f "$TRAIN" ] || python -m spacy_mclner convert "$DATA/panx/en/train" "$TRAIN" --lang en
        mkdir -p "$DEV"
        for lang_dir in "$DATA"/panx/*/; do
            lang=$(basename "$lang_dir")
            [ -f "$DEV/$lang-dev.spacy" ] || python -m spacy_mclner convert "$lang_dir/dev" "$DEV/$lang-dev.spacy" --lang "$lang" --limit "$PANX_DEV"
        done
        TARGETS=$(for file in "$DEV"/*-dev.spacy; do lang=$(basename "$file" -dev.spacy); [ "$lang" = en ] || echo "$lang"; done | paste -sd,)
        # Views in every target with a dictionary here: tl has neither CLDR names nor a FreeDict
        # package, so it has no views (it is still scored).
        SWITCHED=$(echo "$TARGETS" | tr , '\n' | grep -vx tl | paste -sd,) VIEW_LANGS=all ;;
    *) echo "unknown BENCHMARK $BENCHMARK (conll or panx)" >&2; exit 2 ;;
esac
VIEWS=${TRAIN%.spacy}-cs-$TRAIN_SENTS-$VIEW_LANGS-1$([ "$WORD_PROB" = 0.3 ] || echo "-p$WORD_PROB").spacy
needs_views() { [[ " $RUNS " =~ \ mclner(_views|_sc|_tc)?\  ]]; }
if needs_views && [ ! -f "$VIEWS" ]; then
    # FreeDict where Debian has a dictionary for the target (copied or fetched), CLDR names for all
    python -m spacy_mclner dictionaries corpus/freedict --langs "$SWITCHED"
    python -m spacy_mclner codeswitch "$TRAIN" "$VIEWS" --langs "$SWITCHED" --langs-per-doc 1 --seed 0 \
        --freedict-dir corpus/freedict --limit "$TRAIN_SENTS" --word-prob "$WORD_PROB" --report "${VIEWS%.spacy}.coverage.json"
fi

common=(--paths.train "$TRAIN" --paths.dev "$DEV" --paths.encoder "$ENCODER"
    --paths.train_limit "$TRAIN_SENTS" --paths.dev_limit "$DEV_SELECT"
    --training.max_epochs 0 --training.max_steps "$STEPS" --training.optimizer.learn_rate.total_steps "$TOTAL_STEPS"
    --training.eval_frequency "$EVAL_EVERY" --training.batcher.@batchers spacy.batch_by_padded.v1
    --training.batcher.size "$BATCH_WORDS" --training.batcher.buffer 256 --training.batcher.discard_oversize false
    --system.seed "$SEED")
runtime=(freeze_layers "$FREEZE" frozen_cache_mb "$CACHE_MB" precision "$PRECISION" freeze_word_embeddings true)

train() {  # NAME CONFIG PREFIX-OF-ENCODER-SETTINGS LEARN-RATE [OVERRIDES...]
    local name=$1 config=$2 prefix=$3 rate=$4; shift 4
    local settings=() i
    for ((i = 0; i < ${#runtime[@]}; i += 2)); do settings+=("--$prefix.${runtime[i]}" "${runtime[i+1]}"); done
    # every setting is an argument of the recorded command, so a rerun with another SEED, STEPS, ...
    # is told apart from the finished run (train_once)
    train_once "$OUT/$name" spacy_train "$OUT/$name" "$config" "${common[@]}" "${settings[@]}" \
        --training.optimizer.learn_rate.initial_rate "$rate" "$@"
}
spacy_train() {  # FOLDER CONFIG [OVERRIDES...]: dev F1 of each evaluation in FOLDER/curve.jsonl
    local folder=$1 config=$2; shift 2
    python -m spacy train "$config" --output "$folder" \
        --training.logger.output_file "$folder/curve.jsonl" "$@" 2>&1 | tee "$folder/train.log"
}

# The rows of the comparison: spaCy's ner; mclner with L_ce only; + L_ce on the views; + L_sc; + L_tc;
# the full source stage (views, L_sc, L_tc), named mclner.
views_run() {  # NAME SC_WEIGHT TC_WEIGHT [OVERRIDES...]
    local name=$1 sc=$2 tc=$3; shift 3
    train "$name" configs/mclner_multiview.cfg components.mclner.model "$MCLNER_LR" --paths.views "$VIEWS" \
        --components.mclner.none_weight "$NONE_WEIGHT" --components.mclner.sc_weight "$sc" --components.mclner.tc_weight "$tc" "$@"
}
for run in $RUNS; do
    case $run in
        ner) train ner configs/ner_baseline.cfg components.ner.model.tok2vec "$NER_LR" ;;
        mclner_ce) train mclner_ce configs/mclner.cfg components.mclner.model "$MCLNER_LR" --components.mclner.none_weight "$NONE_WEIGHT" ;;
        mclner_views) views_run mclner_views 0 0 ;;
        mclner_sc) views_run mclner_sc 0.5 0 ;;
        mclner_tc) views_run mclner_tc 0 0.5 ;;
        mclner) views_run mclner "$SC_WEIGHT" "$TC_WEIGHT" --components.mclner.sc_temperature "$SC_TEMPERATURE" ;;
        *) echo "unknown run $run (RUNS takes ner, mclner_ce, mclner_views, mclner_sc, mclner_tc, mclner)" >&2; exit 2 ;;
    esac
done
# every finished run in OUT, not only this call's RUNS: converged_table.sh trains one row a call
finished=()
for marker in "$OUT"/*/seconds; do run=$(dirname "$marker"); finished+=("$(basename "$run")=$run"); done
python -m spacy_mclner curves "${finished[@]}" --targets "$TARGETS" --output "$OUT/curves"
