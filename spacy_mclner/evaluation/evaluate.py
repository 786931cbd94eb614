"""Evaluate any spaCy NER pipeline on labelled files: strict entity scores per language.

Test data may be .spacy files (from `convert`), folders of them, or
token<TAB>label files converted on the fly, so that users can score a
pipeline on held-out sets of their own.
"""
import re
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from seqeval.metrics import classification_report
from seqeval.scheme import IOB2
from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example
from spacy.vocab import Vocab

from ..data.annotations import get_doc_lang, set_doc_lang
from ..data.corpus import corpus_files, example_from_reference, read_conll_docs, read_references
from ..pipeline.scoring import UNKNOWN_LANG, restrict_labels, score_entities
from ..util import progress

# seqeval's name for the score over all types, and ours.
_SEQEVAL_ALL = "micro avg"
ALL_TYPES = "all"
_NAME_LANG = re.compile(r"[a-z]{2}")


def evaluate_pipeline(
    nlp: Language,
    paths: Sequence[Path],
    *,
    lang: Optional[str] = None,
    limit: int = 0,
    batch_size: int = 64,
    labels: Optional[Sequence[str]] = None,
    desc: str = "evaluate",
) -> Dict[str, Any]:
    """Run `nlp` over the test files' texts (their own tokens) and score its `Doc.ents`.

    Scoring reads only `Doc.ents`, so the pipeline may be `mclner`, spaCy's
    `ner` or anything else that sets entities. `labels` keeps only predictions
    of those types, for test sets with fewer types than the training data
    (a CoNLL model, which knows MISC, on PAN-X). Besides the scorer's keys
    (see scoring.score_entities), `seqeval` holds seqeval's strict IOB2 report
    per language and type, and `speed` the inference words/s.
    """
    examples = read_test_examples(nlp.vocab, paths, lang=lang, limit=limit)
    start = time.perf_counter()
    docs = nlp.pipe((eg.predicted for eg in examples), batch_size=batch_size)
    predicted = list(progress(docs, total=len(examples), desc=desc))
    seconds = time.perf_counter() - start
    if labels is not None:
        restrict_labels(predicted, labels)
    scored = [Example(doc, eg.reference) for doc, eg in zip(predicted, examples)]
    scores = score_entities(scored)
    scores["seqeval"] = seqeval_per_lang(scored)
    n_words = sum(len(doc) for doc in predicted)
    scores["speed"] = {"words": n_words, "seconds": seconds, "words_per_second": n_words / seconds}
    return scores


def read_test_examples(
    vocab: Vocab, paths: Sequence[Path], *, lang: Optional[str] = None, limit: int = 0
) -> List[Example]:
    """Read labelled Examples from .spacy files, folders of them and token<TAB>label files.

    A token<TAB>label file (CoNLL / PAN-X layout, IOB1 or IOB2) is converted on
    the fly; its language is `lang`, else the one its path names (see
    lang_from_path). Docs of .spacy files keep the language they record and
    take that one where they record none. `limit` keeps the first N docs of
    each file, so that every language of a folder stays in.
    """
    examples: List[Example] = []
    for path in corpus_files(paths, docbin_only=False):
        file_lang = lang or lang_from_path(path)
        if path.suffix == ".spacy":
            docs = list(read_references(path, vocab, limit))
            for doc in docs:
                if get_doc_lang(doc) is None and file_lang is not None:
                    set_doc_lang(doc, file_lang)
        elif file_lang is None:
            raise ValueError(
                f"Cannot tell the language of {path}: pass --lang, or name the file "
                "after it (de-test.tsv) or put it in a folder named after it (de/test)"
            )
        else:
            docs = read_conll_docs(path, vocab, file_lang, limit=limit)
        if not docs:
            raise ValueError(f"No documents in test file {path}")
        examples.extend(example_from_reference(doc) for doc in docs)
    return examples


def lang_from_path(path: Path) -> Optional[str]:
    """The two-letter language code that leads the file name (de-test.tsv,
    de.spacy, de_dev) or, failing that, names its folder (panx/de/dev)."""
    lead = re.split(r"[-_.]", path.name, maxsplit=1)[0]
    for candidate in (lead, path.parent.name):
        if _NAME_LANG.fullmatch(candidate):
            return candidate
    return None


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
