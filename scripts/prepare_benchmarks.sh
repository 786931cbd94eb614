# Sourced by the benchmark scripts: the encoder, English CoNLL train and the dev sets they score on
# (CoNLL en/de/es/nl in corpus/dev, PAN-X de/es/ru/ar/hi/zh in corpus/panx-dev), each made once.
# Needs DATA and ENCODER set.
[ -f "$ENCODER/config.json" ] || python -m spacy_mclner encoder "$ENCODER"
[ -f corpus/en-train.spacy ] || python -m spacy_mclner convert "$DATA/conll2003/en/train" corpus/en-train.spacy --lang en
mkdir -p corpus/dev corpus/panx-dev
for pair in conll2003/en:en conll2003/de:de conll2002/es:es conll2002/nl:nl; do
    lang=${pair#*:}
    [ -f "corpus/dev/$lang-dev.spacy" ] || python -m spacy_mclner convert "$DATA/${pair%:*}/dev" "corpus/dev/$lang-dev.spacy" --lang "$lang"
done
for lang in de es ru ar hi zh; do
    [ -f "corpus/panx-dev/$lang-dev.spacy" ] || python -m spacy_mclner convert "$DATA/panx/$lang/dev" "corpus/panx-dev/$lang-dev.spacy" --lang "$lang"
done
