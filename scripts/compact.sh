#!/usr/bin/env bash
# Issue 16's table in one command: the converged 12-layer pipelines (scripts/learning_curves.sh)
# trimmed to the word pieces of English, German, Spanish and Dutch text (training text and the
# targets' unlabelled text, never dev), run in int8, beside spaCy's `ner` on the same encoder;
# each also in float32, the precision spacy-transformers runs a transformer in (the converged runs
# train and run it in bfloat16, through this project's encoder settings, ner's included);
# `footprint` measures size, load time and memory, inference words/s and dev F1 of each.
#   MCLNER, NER: the pipelines; MIN_COUNT, STORAGE: trim's frequency floor and table dtype.
#   OUT: the trimmed and converted copies, named by the trim settings; one OUT holds the copies of
#   one MCLNER and NER (a copy that exists is kept), so give other pipelines another OUT.
#   RESULTS: the table's files; the dev scores beside them are kept too (new pipelines: new RESULTS).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data}
MCLNER=${MCLNER:-training/curves/mclner/model-best}
NER=${NER:-training/curves-ner-lr0.0002-6k/ner/model-best}
MIN_COUNT=${MIN_COUNT:-1}
STORAGE=${STORAGE:-float16}
OUT=${OUT:-training/compact}
RESULTS=${RESULTS:-results/compact/footprint}

texts=(--text en=$DATA/conll2003/en/train --text de=$DATA/conll2003/de/unlabeled
    --text es=$DATA/conll2002/es/unlabeled --text nl=$DATA/conll2002/nl/unlabeled
    --text en=$DATA/panx/en/train --text de=$DATA/panx/de/unlabeled
    --text es=$DATA/panx/es/unlabeled --text nl=$DATA/panx/nl/unlabeled)
# Names are shared across languages that write the Latin alphabet: counting the pieces of their
# PAN-X text too (the first LATIN_LIMIT sentences of each; the files above have at most 20,000)
# keeps the pieces of more of the names the dev sets hold.
LATIN_LIMIT=${LATIN_LIMIT:-20000}
latin=()
for lang in af et eu fi fr hu id it jv ms pt sw tl tr vi yo; do latin+=(--text "$lang=$DATA/panx/$lang/unlabeled"); done
checks=(--check en=$DATA/conll2003/en/dev --check de=$DATA/conll2003/de/dev
    --check es=$DATA/conll2002/es/dev --check nl=$DATA/conll2002/nl/dev)

trimmed() {  # PIPELINE OUTPUT [TRIM OPTIONS...]
    local pipeline=$1 output=$2; shift 2
    [ -d "$output" ] || python -m spacy_mclner trim "$pipeline" "$output" "${texts[@]}" "${checks[@]}" \
        --min-count "$MIN_COUNT" --storage-dtype "$STORAGE" "$@"
}
with_precision() {  # PIPELINE SECTION PRECISION OUTPUT: a copy whose config runs SECTION's encoder in PRECISION
    [ -d "$4" ] && return
    rm -rf "$4.partial"
    cp -r "$1" "$4.partial"
    python - "$4.partial/config.cfg" "$2" "$3" <<'PY'
import sys
from spacy.util import load_config
path, section, precision = sys.argv[1:]
config = load_config(path, interpolate=False)
node = config
for key in section.split("."):
    node = node[key]
node["precision"] = precision
config.to_disk(path)
PY
    mv "$4.partial" "$4"
}
# a copy's name carries the settings it was made with, so a changed setting makes a new one
trim=$OUT/mclner-trimmed-min$MIN_COUNT-$STORAGE
trim_latin=$OUT/mclner-trimmed-min$MIN_COUNT-$STORAGE-latin$LATIN_LIMIT
trimmed "$MCLNER" "$trim"
trimmed "$MCLNER" "$trim_latin" "${latin[@]}" --text-limit "$LATIN_LIMIT"
with_precision "$trim" components.mclner.model int8 "$trim-int8"
with_precision "$NER" components.ner.model.tok2vec int8 "$OUT/ner-int8"
with_precision "$NER" components.ner.model.tok2vec float32 "$OUT/ner-fp32"
with_precision "$MCLNER" components.mclner.model float32 "$OUT/mclner-fp32"
python -m spacy_mclner footprint ner-fp32="$OUT/ner-fp32" ner="$NER" ner-int8="$OUT/ner-int8" \
    mclner-fp32="$OUT/mclner-fp32" mclner="$MCLNER" \
    mclner-trimmed="$trim" mclner-trimmed-latin="$trim_latin" mclner-trimmed-int8="$trim-int8" \
    --speed-data corpus/dev/de-dev.spacy --dev corpus/dev --output "$RESULTS"
# What trimming changes, measured exactly: float32 copies scored with `evaluate` (in bfloat16 the
# untrimmed pipeline itself moves by up to 0.14 F1 from its float32 scores).
with_precision "$trim" components.mclner.model float32 "$trim-fp32"
with_precision "$trim_latin" components.mclner.model float32 "$trim_latin-fp32"
for pair in mclner-fp32="$OUT/mclner-fp32" mclner-trimmed-fp32="$trim-fp32" mclner-trimmed-latin-fp32="$trim_latin-fp32"; do
    scores=$(dirname "$RESULTS")/dev_${pair%%=*}.json
    [ -f "$scores" ] || python -m spacy_mclner evaluate "${pair#*=}" corpus/dev --output "$scores"
done
