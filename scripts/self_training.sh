#!/usr/bin/env bash
# MCL-NER self-training (docs/method.md section 5) on CoNLL (de, es, nl) and PAN-X (PANX_TARGETS):
# a source model trained on English (SOURCE: CoNLL-2003 unless set) is the first teacher; each of ROUNDS rounds
# pseudo-labels LIMIT unlabelled sentences per language and trains a student for STEPS steps on
# STUDENT_SOURCE English sentences + the pseudo-labels (with VIEWS, a codeswitch file of the
# English corpus, those sentences bring their code-switched views and L_tc). Every round has its own folder under
# OUT/<benchmark> (OUT: training/self), so a rerun resumes after the last finished round.
# Results: OUT/<benchmark>/quality.{md,json,png}.
# Sizes come from the environment; the defaults are a CPU-sized run. BENCHMARKS: which of conll, panx to run.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data}
ENCODER=${ENCODER:-assets/encoder}
TEACHER=${TEACHER:-}                # the first teacher, a finished pipeline (empty: train one from SOURCE)
OUT=${OUT:-training/self}
TRAIN_SENTS=${TRAIN_SENTS:-4000}   # the trained teacher's English sentences and epochs (picked on 250 CoNLL dev docs a language)
EPOCHS=${EPOCHS:-2}
DEV_SELECT=${DEV_SELECT:-100}      # dev docs per language that pick a student's checkpoint
ROUNDS=${ROUNDS:-2}
LIMIT=${LIMIT:-300}                # unlabelled sentences per language and round
EVAL_LIMIT=${EVAL_LIMIT:-300}      # dev docs per language for pseudo-label quality and round scores (0: all)
STEPS=${STEPS:-30}                 # student training steps per round
EVAL_EVERY=${EVAL_EVERY:-$STEPS}   # steps between the students' dev evaluations (round-K/curve.jsonl)
STUDENT_SOURCE=${STUDENT_SOURCE:-500}  # English sentences beside the pseudo-labels in a student's corpus
STUDENT_LR=${STUDENT_LR:-0.001}    # the students' peak learning rate (they start as their teacher)
THRESHOLD=${THRESHOLD:-0.9}        # pseudo-label filter: minimal score of every entity of a kept sentence
NONE_WEIGHT=${NONE_WEIGHT:-1.0}    # teacher's and students' weight of `none` cells: the smoke runs' (the configs': 0.1)
VIEWS=${VIEWS:-}                   # code-switched views of corpus/en-train.spacy (empty: students train without L_tc)
BATCH_WORDS=${BATCH_WORDS:-}       # students' batches: padded words of sentences of similar length (empty: BATCH sentences)
BENCHMARKS=${BENCHMARKS:-"conll panx"}
SOURCE=${SOURCE:-corpus/en-train.spacy}        # the students' English sentences (and the default teacher's)
PANX_TARGETS=${PANX_TARGETS:-de,es,ru,ar,hi,zh}  # PAN-X targets to pseudo-label and score
PANX_DEV_DIR=${PANX_DEV_DIR:-corpus/panx-dev}   # their dev sets, one .spacy file a language
SEED=${SEED:-0}                    # the students' seed (their batches and dropout)
BATCH=32
# The configs batch sentences of similar length by padded words; the source stage (whose
# learning-rate schedule counts batches of BATCH sentences) and, without BATCH_WORDS, the
# students keep random batches of BATCH sentences (spacy.batch_by_sequence.v1).
by_sentences=(--training.batcher "{\"@batchers\": \"spacy.batch_by_sequence.v1\", \"size\": $BATCH, \"get_length\": null}")

# shellcheck source=scripts/prepare_benchmarks.sh
. scripts/prepare_benchmarks.sh
# shellcheck source=scripts/train_once.sh
. scripts/train_once.sh
if [ -n "$TEACHER" ]; then
    [ -f "$TEACHER/meta.json" ] || { echo "TEACHER=$TEACHER: no pipeline there (no meta.json)" >&2; exit 2; }
else
    source_run=training/self/source-$(basename "$SOURCE" .spacy)
    TEACHER=$source_run/model-best
    train_once "$source_run" python -m spacy train configs/mclner.cfg --output "$source_run" \
        --paths.train "$SOURCE" --paths.dev corpus/dev --paths.encoder "$ENCODER" \
        --paths.train_limit "$TRAIN_SENTS" --paths.dev_limit 250 --training.max_epochs "$EPOCHS" --training.eval_frequency 50 \
        --components.mclner.none_weight "$NONE_WEIGHT" \
        "${by_sentences[@]}" --training.optimizer.learn_rate.total_steps $(( (TRAIN_SENTS + BATCH - 1) / BATCH * EPOCHS ))
fi

student=(--paths.encoder "$ENCODER" --paths.train_limit "$STUDENT_SOURCE" --paths.dev_limit "$DEV_SELECT"
         --components.mclner.none_weight "$NONE_WEIGHT" --system.seed "$SEED"
         --training.max_epochs 0 --training.max_steps "$STEPS" --training.eval_frequency "$EVAL_EVERY"
         --training.optimizer.learn_rate.initial_rate "$STUDENT_LR"
         --training.optimizer.learn_rate.warmup_steps $(( STEPS / 5 )) --training.optimizer.learn_rate.total_steps "$STEPS")
if [ -n "$BATCH_WORDS" ]; then
    student+=(--training.batcher.size "$BATCH_WORDS")
else
    student+=("${by_sentences[@]}")
fi
views=()
if [ -n "$VIEWS" ]; then views=(--views "$VIEWS"); fi
if [[ " $BENCHMARKS " == *" conll "* ]]; then
    python -m spacy_mclner self-train "$TEACHER" "$OUT/conll" --source "$SOURCE" "${views[@]}" --dev corpus/dev \
        --unlabeled de="$DATA/conll2003/de/unlabeled" --unlabeled es="$DATA/conll2002/es/unlabeled" \
        --unlabeled nl="$DATA/conll2002/nl/unlabeled" \
        --rounds "$ROUNDS" --limit "$LIMIT" --eval-limit "$EVAL_LIMIT" --threshold "$THRESHOLD" "${student[@]}"
fi
# PAN-X has no MISC: a CoNLL-trained model's MISC entities are left out of the scores.
if [[ " $BENCHMARKS " == *" panx "* ]]; then
    python -m spacy_mclner self-train "$TEACHER" "$OUT/panx" --source "$SOURCE" "${views[@]}" --dev "$PANX_DEV_DIR" \
        --data "$DATA" --benchmark panx --targets "$PANX_TARGETS" --labels PER,LOC,ORG \
        --rounds "$ROUNDS" --limit "$LIMIT" --eval-limit "$EVAL_LIMIT" --threshold "$THRESHOLD" "${student[@]}"
fi
