"""Count how often pipelines take PAN-X's redirect keyword into an entity, and what it costs.

Many PAN-X dev sentences of some languages start with the Wikipedia redirect keyword of that
language (Persian `تغییرمسیر`, Urdu `رجوع_مکرر`, ...), labelled O. An entity whose first token
is that keyword is a boundary error; the F1 with the keyword cut off the predicted entities
says how much of a language's score those errors cost.

Usage: python scripts/redirect_errors.py OUTPUT.json DEV_DIR LIMIT NAME=PIPELINE [NAME=PIPELINE...]
"""
import json
import sys
from pathlib import Path
from typing import Dict, Set, Tuple

import spacy
from spacy.language import Language
from spacy.tokens import Doc, DocBin

# The first token of the redirect sentences in PAN-X dev (read from the data: the most frequent
# first tokens of these languages' dev files).
REDIRECT_KEYWORDS: Dict[str, Set[str]] = {
    "fa": {"تغییرمسیر", "تغییر_مسیر"},
    "ur": {"رجوع_مکرر"},
    "ar": {"تحويل"},
    "mr": {"पुनर्निर्देशन"},
    "eu": {"BIRZUZENDU"},
}
Span = Tuple[int, int, str]


def f1(true_positives: int, gold: int, predicted: int) -> float:
    return round(100 * 2 * true_positives / max(gold + predicted, 1), 1)


def redirect_counts(nlp: Language, docs: list, keywords: Set[str]) -> Dict[str, float]:
    """Entity counts of `nlp` on the gold `docs`, as predicted and with the keyword cut off."""
    counts = {"sentences": len(docs), "redirect_sentences": 0, "gold": 0, "predicted": 0, "true_positives": 0,
              "predictions_with_keyword": 0, "true_positives_keyword_cut": 0, "predicted_keyword_cut": 0}
    predictions = nlp.pipe(Doc(nlp.vocab, words=[token.text for token in doc]) for doc in docs)
    for gold_doc, predicted_doc in zip(docs, predictions):
        gold: Set[Span] = {(ent.start, ent.end, ent.label_) for ent in gold_doc.ents}
        predicted: Set[Span] = {(ent.start, ent.end, ent.label_) for ent in predicted_doc.ents}
        cut = {(start + 1, end, label) if predicted_doc[start].text in keywords else (start, end, label)
               for start, end, label in predicted}
        cut = {(start, end, label) for start, end, label in cut if start < end}
        counts["redirect_sentences"] += gold_doc[0].text in keywords
        counts["gold"] += len(gold)
        counts["predicted"] += len(predicted)
        counts["true_positives"] += len(gold & predicted)
        counts["predictions_with_keyword"] += sum(predicted_doc[start].text in keywords for start, _, _ in predicted)
        counts["predicted_keyword_cut"] += len(cut)
        counts["true_positives_keyword_cut"] += len(gold & cut)
    counts["f1"] = f1(counts["true_positives"], counts["gold"], counts["predicted"])
    counts["f1_keyword_cut"] = f1(counts["true_positives_keyword_cut"], counts["gold"], counts["predicted_keyword_cut"])
    return counts


def main(output: Path, dev_dir: Path, limit: int, pipelines: Dict[str, Path]) -> None:
    results: Dict[str, Dict[str, Dict[str, float]]] = {}
    for name, path in pipelines.items():
        nlp = spacy.load(path)
        for lang, keywords in REDIRECT_KEYWORDS.items():
            docs = list(DocBin().from_disk(dev_dir / f"{lang}-dev.spacy").get_docs(nlp.vocab))[:limit]
            results.setdefault(lang, {})[name] = counts = redirect_counts(nlp, docs, keywords)
            print(f"{lang} {name}: F1 {counts['f1']}, keyword cut off {counts['f1_keyword_cut']}, "
                  f"{counts['predictions_with_keyword']} entities take the keyword", flush=True)
    output.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf8")


if __name__ == "__main__":
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    named = dict(argument.split("=", 1) for argument in sys.argv[4:])
    main(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), {name: Path(path) for name, path in named.items()})
