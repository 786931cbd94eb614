#!/usr/bin/env bash
# Annotate words/s with the local engine, nlp.pipe(n_process=1, 2) and the Ray engine (1 and 2 workers) on the same
# PAN-X German sentences, into results/scaling/ray.{json,md}. Run it on an otherwise idle machine.
# Sizes come from the environment (defaults: the measurement in docs/scaling.md).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data}
MODEL=${MODEL:-training/conll/mclner/model-best}
SENTENCES=${SENTENCES:-2000}
SHARD_SIZE=${SHARD_SIZE:-250}
OUTPUT=${OUTPUT:-results/scaling}

python scripts/bench_ray.py "$MODEL" "$DATA/panx/de/unlabeled" \
    --sentences "$SENTENCES" --shard-size "$SHARD_SIZE" --lang de --output "$OUTPUT"
