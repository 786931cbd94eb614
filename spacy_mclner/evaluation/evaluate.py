"""Evaluate any spaCy NER pipeline on labelled files: strict entity scores per language.

Test data may be .spacy files (from `convert`), folders of them, or
token<TAB>label files converted on the fly, so that users can score a
pipeline on held-out sets of their own.
"""
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from seqeval.metrics import classification_report
from seqeval.scheme import IOB2
from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example

from ..data.annotations import get_doc_lang
from ..data.corpus import example_from_reference, read_labelled_docs
from ..pipeline.scoring import UNKNOWN_LANG, restrict_labels, score_entities
from ..util import progress

# seqeval's name for the score over all types, and ours.
_SEQEVAL_ALL = "micro avg"
ALL_TYPES = "all"


def evaluate_pipeline(nlp: Language, paths: Sequence[Path], **options: Any) -> Dict[str, Any]:
    """Run `nlp` over the test files' texts (their own tokens) and score its `Doc.ents`.

    Scoring reads only `Doc.ents`, so the pipeline may be `mclner`, spaCy's
    `ner` or anything else that sets entities. The options are predict_examples'
    (lang, limit, batch_size, labels, desc). Besides the scorer's keys (see
    scoring.score_entities), `seqeval` holds seqeval's strict IOB2 report per
    language and type, and `speed` the inference words/s.
    """
    return score_examples(*predict_examples(nlp, paths, **options))


def predict_examples(
    nlp: Language,
    paths: Sequence[Path],
    *,
    lang: Optional[str] = None,
    limit: int = 0,
    batch_size: int = 64,
    labels: Optional[Sequence[str]] = None,
    desc: str = "evaluate",
) -> Tuple[List[Example], float]:
    """(predicted, gold) Examples of the test files, and the seconds the pipeline took.

    `labels` keeps only predictions of those types, for test sets with fewer
    types than the training data (a CoNLL model, which knows MISC, on PAN-X).
    """
    examples = [example_from_reference(doc) for doc in read_labelled_docs(nlp.vocab, paths, lang=lang, limit=limit)]
    start = time.perf_counter()
    docs = nlp.pipe((eg.predicted for eg in examples), batch_size=batch_size)
    predicted = list(progress(docs, total=len(examples), desc=desc))
    seconds = time.perf_counter() - start
    if labels is not None:
        restrict_labels(predicted, labels)
    return [Example(doc, eg.reference) for doc, eg in zip(predicted, examples)], seconds


def score_examples(scored: Sequence[Example], seconds: float) -> Dict[str, Any]:
    """The scores evaluate_pipeline reports, of predictions made in `seconds`."""
    scores = score_entities(scored)
    scores["seqeval"] = seqeval_per_lang(scored)
    n_words = sum(len(eg.predicted) for eg in scored)
    scores["speed"] = {"words": n_words, "seconds": seconds, "words_per_second": n_words / seconds}
    return scores


def seqeval_per_lang(examples: Sequence[Example]) -> Dict[str, Dict[str, Dict[str, float]]]:
    """seqeval's strict IOB2 precision, recall, F1 and support per language and
    entity type, with `all` for the micro average over types.

    Predicted and reference docs must share their tokens, as the docs of
    read_test_examples do. Scores with a zero denominator are 0.0.
    """
    tags: Dict[str, Dict[str, List[List[str]]]] = defaultdict(lambda: {"true": [], "pred": []})
    for example in examples:
        if not example.reference.has_annotation("ENT_IOB"):
            continue
        lang = get_doc_lang(example.reference) or UNKNOWN_LANG
        tags[lang]["true"].append(_iob2_tags(example.reference))
        tags[lang]["pred"].append(_iob2_tags(example.predicted))
    report = {}
    for lang, lang_tags in sorted(tags.items()):
        table = classification_report(
            lang_tags["true"], lang_tags["pred"], mode="strict", scheme=IOB2, output_dict=True, zero_division=0
        )
        report[lang] = {
            (ALL_TYPES if name == _SEQEVAL_ALL else name): {
                "p": float(row["precision"]),
                "r": float(row["recall"]),
                "f": float(row["f1-score"]),
                "support": int(row["support"]),
            }
            for name, row in table.items()
            if name == _SEQEVAL_ALL or not name.endswith(" avg")
        }
    return report


def _iob2_tags(doc: Doc) -> List[str]:
    """IOB2 tags of a doc's entities: spaCy marks every entity start with B."""
    return [f"{token.ent_iob_}-{token.ent_type_}" if token.ent_type_ else "O" for token in doc]
