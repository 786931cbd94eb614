"""Strict entity scores, overall, per entity type and per language.

The paper chooses checkpoints by the F-score averaged over the target
languages, so besides spaCy's usual ents_p/r/f this scorer reports every
language on its own and their macro average (ents_macro_f).
"""

from collections import defaultdict
from statistics import mean
from typing import Any, Callable, Dict, Iterable, Sequence, Set, Tuple

import spacy
from spacy.scorer import PRFScore
from spacy.tokens import Doc
from spacy.training import Example

from ..data.annotations import get_doc_lang

# Where references without a recorded language are counted.
UNKNOWN_LANG = "xx"


def score_entities(examples: Iterable[Example], **_: Any) -> Dict[str, Any]:
    """Score predicted against reference entities: a match needs the exact
    span and type, as in seqeval's strict IOB2 mode.

    Scores whose denominator is zero are 0.0, like seqeval's default
    zero_division: precision without predictions, recall without gold
    entities, and F when precision and recall are both 0. References without
    NER annotation are skipped. Spans are compared by character offsets, so
    a prediction made on another tokenization of the same text still counts.
    """
    overall = PRFScore()
    per_type: Dict[str, PRFScore] = defaultdict(PRFScore)
    per_lang: Dict[str, PRFScore] = defaultdict(PRFScore)
    docs_per_lang: Dict[str, int] = defaultdict(int)
    for example in examples:
        reference = example.reference
        if not reference.has_annotation("ENT_IOB"):
            continue
        if example.predicted.text != reference.text:
            raise ValueError(
                "Predicted and reference texts differ, so their entities "
                f"cannot be compared: {example.predicted.text!r} vs {reference.text!r}"
            )
        lang = get_doc_lang(reference) or UNKNOWN_LANG
        docs_per_lang[lang] += 1
        gold = _entity_offsets(reference)
        predicted = _entity_offsets(example.predicted)
        for label in gold.keys() | predicted.keys():
            score = PRFScore()
            score.score_set(predicted.get(label, set()), gold.get(label, set()))
            per_type[label] += score
            per_lang[lang] += score
            overall += score
    lang_scores = {
        lang: {**per_lang[lang].to_dict(), "n_docs": n_docs}
        for lang, n_docs in sorted(docs_per_lang.items())
    }
    return {
        "ents_p": overall.precision,
        "ents_r": overall.recall,
        "ents_f": overall.fscore,
        "ents_per_type": {
            label: score.to_dict() for label, score in sorted(per_type.items())
        },
        "ents_per_lang": lang_scores,
        "ents_macro_f": (
            mean(s["f"] for s in lang_scores.values()) if lang_scores else 0.0
        ),
    }


def restrict_labels(docs: Iterable[Doc], labels: Sequence[str]) -> None:
    """Drop the entities of other types than `labels`, for gold with fewer types than the model (CoNLL on PAN-X)."""
    for doc in docs:
        doc.set_ents([ent for ent in doc.ents if ent.label_ in labels], default="outside")


def _entity_offsets(doc: Doc) -> Dict[str, Set[Tuple[int, int]]]:
    """Group a doc's entities by label as (start_char, end_char) pairs."""
    offsets: Dict[str, Set[Tuple[int, int]]] = defaultdict(set)
    for ent in doc.ents:
        offsets[ent.label_].add((ent.start_char, ent.end_char))
    return offsets


@spacy.registry.scorers("spacy_mclner.scorer.v1")
def make_mclner_scorer() -> Callable[..., Dict[str, Any]]:
    """Registered scorer for the mclner component (see score_entities).

    A module-level function, not a closure, so that a pipeline pickles (as
    `nlp.pipe(n_process=N)` does under the spawn start method).
    """
    return score_entities
