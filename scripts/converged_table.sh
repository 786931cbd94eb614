#!/usr/bin/env bash
# The converged CoNLL table in one command: each row of ROWS trained to its plateau with each seed
# of SEEDS (scripts/learning_curves.sh: 12-layer encoder, bottom 8 layers frozen and cached,
# bfloat16, 4,000 English sentences), scored on the full dev sets, then one table of the mean and
# standard deviation over seeds (scripts/results_table.py). Finished runs and scores are kept, so
# a rerun continues where the last one stopped; a seed whose score file exists is not trained again.
# Rows: ner (lr 2e-4) and mclner_ce (L_ce only), 6,000 steps each (at 3,000, two of mclner_ce's
# three seeds were still climbing), and the other learning_curves.sh rows of mclner, the ones with
# views: mclner_views, mclner_sc, mclner_tc, mclner (VIEWS_STEPS: 3,000 on CoNLL, where they
# plateaued; 6,000 on PAN-X, where the full row had not plateaued at 3,000);
# and mclner_self: the full row's model as the teacher of ROUNDS self-training rounds on the
# benchmark's targets (scripts/self_training.sh), each pseudo-labelling the first SELF_LIMIT unlabelled sentences per
# target and training its student SELF_STEPS steps on them, the same English sentences and views.
# BENCHMARK=panx trains on PAN-X English and scores the PAN-X dev sets of all 38 targets (the first
# PANX_DEV sentences of each; learning_curves.sh); its mclner_self pseudo-labels all 38 targets.
# OUT: the runs' folder; RESULTS: the scores' and the table's; ENCODER, DATA and PRECISION (bfloat16 unless
# set) go to learning_curves.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS=${SEEDS:-"0 1 2"}
ROWS=${ROWS:-"ner mclner_ce mclner"}
# Runs and scores of another precision than the committed bfloat16 ones go to folders of their own
# (training/converged-float32, results/converged/seeds-float32), so that a seed scored in one is
# never taken for the other's.
precision_suffix=$([ "${PRECISION:-bfloat16}" = bfloat16 ] || echo "-$PRECISION")
OUT=${OUT:-training/converged$precision_suffix}
RESULTS=${RESULTS:-results/converged/seeds$precision_suffix}
BENCHMARK=${BENCHMARK:-conll}
DATA=${DATA:-../shared/data}
PANX_DEV=${PANX_DEV:-500}
export BENCHMARK DATA PANX_DEV
# SELF_SELECT: dev sentences per language that pick a student's checkpoint (the source stage's);
# SELF_LIMIT: unlabelled sentences pseudo-labelled per target and round, about 6,000 in all on both.
case $BENCHMARK in
    conll) DEV=corpus/dev PREFIX=dev SELF_SELECT=200 SELF_LIMIT=${SELF_LIMIT:-2000} PANX_TARGETS= VIEWS_STEPS=${VIEWS_STEPS:-3000} ;;
    panx) DEV=corpus/panx-dev-$PANX_DEV PREFIX=panx_dev SELF_SELECT=50 SELF_LIMIT=${SELF_LIMIT:-160}
        PANX_TARGETS=$(ls "$DATA/panx" | grep -vx en | paste -sd,) VIEWS_STEPS=${VIEWS_STEPS:-6000} ;;
    *) echo "unknown BENCHMARK $BENCHMARK (conll or panx)" >&2; exit 2 ;;
esac
TRAIN_SENTS=${TRAIN_SENTS:-4000}  # learning_curves.sh's English sentences, also the students'
export TRAIN_SENTS
ROUNDS=${ROUNDS:-2}
SELF_STEPS=${SELF_STEPS:-1500}
SELF_LR=${SELF_LR:-0.0001}  # the students' peak rate: at the source stage's 1e-3 no student beat its teacher

# Rows with views of other than 3,000 steps are runs and scores of their own (-6k, _6k), so that
# PAN-X's 3,000-step full row of session 15 is never taken for a 6,000-step one.
steps_tag=$([ "$VIEWS_STEPS" = 3000 ] || echo "$((VIEWS_STEPS / 1000))k")

mkdir -p "$RESULTS"
table=()
for row in $ROWS; do
    files=()
    tag=$([ -z "$steps_tag" ] || [[ $row =~ ^(ner|mclner_ce)$ ]] || echo "_$steps_tag")  # the row's, every seed's
    for seed in $SEEDS; do
        run=$OUT/$([ "$BENCHMARK" = conll ] || echo "$BENCHMARK-")seed$seed
        # a self-training row's scores name its rounds: a rerun with more rounds scores the new model
        scores=$RESULTS/${PREFIX}_${row}$tag$([ "$row" != mclner_self ] || echo "_r$ROUNDS")_seed$seed.json
        files+=("$scores")
        [ -f "$scores" ] && continue  # scored: its runs are not needed again (nor kept on disk)
        row_run=$run${tag/_/-}  # the row's runs: $run, or $run-6k for a row with views on PAN-X
        model=$row_run/$row/model-best
        case $row in
            ner) SEED=$seed RUNS=ner NER_LR=0.0002 STEPS=6000 OUT=$run bash scripts/learning_curves.sh ;;
            mclner_ce) SEED=$seed RUNS=mclner_ce STEPS=6000 OUT=$run-ce6k bash scripts/learning_curves.sh
                model=$run-ce6k/$row/model-best ;;
            mclner_self)
                SEED=$seed RUNS=mclner STEPS=$VIEWS_STEPS OUT=$row_run bash scripts/learning_curves.sh
                teacher=$row_run/mclner/model-best
                # the students train on the English sentences and views their first teacher trained on
                read -r source views < <(python -c 'import sys, spacy; paths = spacy.util.load_config(sys.argv[1])["paths"]; print(paths["train"], paths["views"])' "$teacher/config.cfg")
                SEED=$seed TEACHER=$teacher OUT=$row_run/$row BENCHMARKS=$BENCHMARK ROUNDS=$ROUNDS LIMIT=$SELF_LIMIT \
                    STEPS=$SELF_STEPS STUDENT_LR=$SELF_LR EVAL_EVERY=150 SOURCE=$source STUDENT_SOURCE=$TRAIN_SENTS VIEWS=$views \
                    BATCH_WORDS=250 NONE_WEIGHT=0.1 DEV_SELECT=$SELF_SELECT EVAL_LIMIT=0 \
                    PANX_DEV_DIR=$DEV PANX_TARGETS=$PANX_TARGETS bash scripts/self_training.sh
                model=$row_run/$row/$BENCHMARK/round-$ROUNDS/model/model-best ;;
            *) SEED=$seed RUNS=$row STEPS=$VIEWS_STEPS OUT=$row_run bash scripts/learning_curves.sh ;;
        esac
        python -m spacy_mclner evaluate "$model" "$DEV" --output "$scores"  # written whole
    done
    table+=("$row=$(IFS=,; echo "${files[*]}")")
done
# one table a benchmark (table.md, panx_table.md), written whole
table_file=$RESULTS/$([ "$BENCHMARK" = conll ] || echo "${BENCHMARK}_")table.md
python scripts/results_table.py "${table[@]}" > "$table_file.partial"
mv "$table_file.partial" "$table_file"
cat "$table_file"
