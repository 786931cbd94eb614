#!/usr/bin/env bash
# The converged CoNLL table in one command: each row of ROWS trained to its plateau with each seed
# of SEEDS (scripts/learning_curves.sh: 12-layer encoder, bottom 8 layers frozen and cached,
# bfloat16, 4,000 English sentences), scored on the full dev sets, then one table of the mean and
# standard deviation over seeds (scripts/results_table.py). Finished runs and scores are kept, so
# a rerun continues where the last one stopped. Rows: ner (lr 2e-4, 6,000 steps) and the
# learning_curves.sh rows of mclner (3,000 steps): mclner_ce, mclner_views, mclner_sc, mclner_tc, mclner.
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS=${SEEDS:-"0 1 2"}
ROWS=${ROWS:-"ner mclner_ce mclner"}
OUT=${OUT:-training/converged}
RESULTS=${RESULTS:-results/converged/seeds}

mkdir -p "$RESULTS"
table=()
for row in $ROWS; do
    files=()
    for seed in $SEEDS; do
        run=$OUT/seed$seed
        if [ "$row" = ner ]; then
            SEED=$seed RUNS=ner NER_LR=0.0002 STEPS=6000 OUT=$run bash scripts/learning_curves.sh
        else
            SEED=$seed RUNS=$row OUT=$run bash scripts/learning_curves.sh
        fi
        scores=$RESULTS/dev_${row}_seed$seed.json
        [ -f "$scores" ] || python -m spacy_mclner evaluate "$run/$row/model-best" corpus/dev --output "$scores"
        files+=("$scores")
    done
    table+=("$row=$(IFS=,; echo "${files[*]}")")
done
python scripts/results_table.py "${table[@]}" | tee "$RESULTS/table.md"
