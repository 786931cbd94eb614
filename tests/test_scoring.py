import random
import warnings
from pathlib import Path
from typing import List, Optional, Tuple

import pytest
import spacy
from seqeval.metrics import classification_report, f1_score, precision_score, recall_score
from seqeval.scheme import IOB2
from spacy.tokens import Doc, Span
from spacy.training import Example
from spacy.util import filter_spans

from spacy_mclner.data.annotations import set_doc_lang
from spacy_mclner.data.corpus import read_conll_docs
from spacy_mclner.pipeline.scoring import make_mclner_scorer, score_entities

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"
GERMAN_DEV = DATA_DIR / "conll2003" / "de" / "dev"
LABELS = ["LOC", "MISC", "ORG", "PER"]
VOCAB = spacy.blank("xx").vocab


def make_doc(
    words: List[str],
    spans: List[Tuple[int, int, str]],
    lang: Optional[str] = None,
    spaces: Optional[List[bool]] = None,
) -> Doc:
    doc = Doc(VOCAB, words=words, spaces=spaces)
    doc.ents = [Span(doc, start, end, label) for start, end, label in spans]
    if lang is not None:
        set_doc_lang(doc, lang)
    return doc


def synthetic_docs(n_docs: int, seed: int) -> List[Doc]:
    rng = random.Random(seed)
    docs = []
    for _ in range(n_docs):
        length = rng.randint(1, 30)
        spans = []
        start = rng.randint(0, 3)
        while start < length:
            end = min(length, start + rng.randint(1, 4))
            spans.append((start, end, rng.choice(LABELS)))
            start = end + rng.randint(0, 6)
        docs.append(make_doc([f"w{i}" for i in range(length)], spans))
    return docs


def perturb(doc: Doc, rng: random.Random) -> Doc:
    """Predict the gold entities with some dropped, moved, retyped or added."""
    spans = []
    for ent in doc.ents:
        start, end, label = ent.start, ent.end, ent.label_
        action = rng.random()
        if action < 0.15:
            continue
        elif action < 0.3:
            start = max(0, start + rng.choice([-1, 1]))
        elif action < 0.45:
            end = min(len(doc), end + rng.choice([-1, 1]))
        elif action < 0.55:
            label = rng.choice([other for other in LABELS if other != label])
        if start < end:
            spans.append((start, end, label))
    if rng.random() < 0.3:
        start = rng.randrange(len(doc))
        spans.append(
            (start, min(len(doc), start + rng.randint(1, 3)), rng.choice(LABELS))
        )
    predicted = make_doc(
        [t.text for t in doc], [], spaces=[bool(t.whitespace_) for t in doc]
    )
    candidates = [Span(predicted, start, end, label) for start, end, label in spans]
    predicted.ents = filter_spans(candidates)
    return predicted


def iob2_tags(doc: Doc) -> List[str]:
    return [
        f"{token.ent_iob_}-{token.ent_type_}" if token.ent_type_ else "O"
        for token in doc
    ]


def gold_docs(source: str) -> List[Doc]:
    if source == "synthetic":
        return synthetic_docs(300, seed=7)
    if not GERMAN_DEV.exists():
        pytest.skip("no shared data")
    return read_conll_docs(GERMAN_DEV, VOCAB, "de", limit=300)


@pytest.mark.parametrize("source", ["conll2003-de-dev", "synthetic"])
def test_scores_agree_with_seqeval_strict(source):
    references = gold_docs(source)
    rng = random.Random(0)
    examples = [Example(perturb(reference, rng), reference) for reference in references]
    y_true = [iob2_tags(eg.reference) for eg in examples]
    y_pred = [iob2_tags(eg.predicted) for eg in examples]
    assert y_true != y_pred
    strict = {"mode": "strict", "scheme": IOB2}
    scores = score_entities(examples)
    assert scores["ents_p"] == pytest.approx(
        precision_score(y_true, y_pred, **strict), abs=1e-9
    )
    assert scores["ents_r"] == pytest.approx(
        recall_score(y_true, y_pred, **strict), abs=1e-9
    )
    assert scores["ents_f"] == pytest.approx(
        f1_score(y_true, y_pred, **strict), abs=1e-9
    )
    report = classification_report(y_true, y_pred, output_dict=True, **strict)
    per_type = {label: report[label] for label in report if label in LABELS}
    assert per_type.keys() == scores["ents_per_type"].keys()
    for label, expected in per_type.items():
        got = scores["ents_per_type"][label]
        assert got["p"] == pytest.approx(expected["precision"], abs=1e-9)
        assert got["r"] == pytest.approx(expected["recall"], abs=1e-9)
        assert got["f"] == pytest.approx(expected["f1-score"], abs=1e-9)
    assert 0.3 < scores["ents_f"] < 0.9


def test_per_language_and_macro_scores():
    words = ["Anna", "met", "Bob", "in", "Rome"]
    examples = [
        # en: one right, one wrong type, one missed -> tp 1, fp 1, fn 2
        Example(
            make_doc(words, [(0, 1, "PER"), (2, 3, "ORG")]),
            make_doc(words, [(0, 1, "PER"), (2, 3, "PER"), (4, 5, "LOC")], "en"),
        ),
        # de: tp 1, fp 0, fn 0
        Example(
            make_doc(words, [(4, 5, "LOC")]), make_doc(words, [(4, 5, "LOC")], "de")
        ),
        # no language: tp 0, fp 1, fn 0
        Example(make_doc(words, [(3, 5, "LOC")]), make_doc(words, [])),
    ]
    scores = score_entities(examples)
    assert scores["ents_p"] == pytest.approx(2 / 4)
    assert scores["ents_r"] == pytest.approx(2 / 4)
    assert scores["ents_f"] == pytest.approx(0.5)
    assert scores["ents_per_lang"]["en"] == pytest.approx(
        {"p": 1 / 2, "r": 1 / 3, "f": 0.4, "n_docs": 1}
    )
    assert scores["ents_per_lang"]["de"] == pytest.approx(
        {"p": 1.0, "r": 1.0, "f": 1.0, "n_docs": 1}
    )
    assert scores["ents_per_lang"]["xx"] == {"p": 0.0, "r": 0.0, "f": 0.0, "n_docs": 1}
    assert scores["ents_macro_f"] == pytest.approx((0.4 + 1.0 + 0.0) / 3)
    assert scores["ents_per_type"]["PER"] == pytest.approx(
        {"p": 1.0, "r": 0.5, "f": 2 / 3}
    )
    assert scores["ents_per_type"]["ORG"] == {"p": 0.0, "r": 0.0, "f": 0.0}
    assert scores["ents_per_type"]["LOC"] == pytest.approx(
        {"p": 0.5, "r": 0.5, "f": 0.5}
    )


@pytest.mark.parametrize(
    "predicted,gold",
    [([], [(0, 1, "PER")]), ([(0, 1, "PER")], []), ([], [])],
)
def test_undefined_scores_are_zero_like_seqeval(predicted, gold):
    words = ["Anna", "sings"]
    example = Example(make_doc(words, predicted), make_doc(words, gold))
    scores = score_entities([example])
    y_true, y_pred = [iob2_tags(example.reference)], [iob2_tags(example.predicted)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = [
            metric(y_true, y_pred, mode="strict", scheme=IOB2)
            for metric in (precision_score, recall_score, f1_score)
        ]
    assert (
        [scores["ents_p"], scores["ents_r"], scores["ents_f"]] == expected == [0.0] * 3
    )


def test_no_examples_score_zero():
    scores = score_entities([])
    assert scores["ents_f"] == scores["ents_macro_f"] == 0.0
    assert scores["ents_per_lang"] == scores["ents_per_type"] == {}


def test_references_without_ner_annotation_are_skipped():
    words = ["Anna", "sings"]
    unannotated = Doc(VOCAB, words=words)
    example = Example(make_doc(words, [(0, 1, "PER")]), unannotated)
    assert score_entities([example])["ents_per_lang"] == {}


def test_predictions_on_another_tokenization_match_by_characters():
    reference = Doc(
        VOCAB, words=["New", "York", "-", "based"], spaces=[True, False, False, False]
    )
    reference.ents = [Span(reference, 0, 2, "LOC")]
    predicted = Doc(VOCAB, words=["New", "York", "-based"], spaces=[True, False, False])
    predicted.ents = [Span(predicted, 0, 2, "LOC")]
    assert score_entities([Example(predicted, reference)])["ents_f"] == 1.0
    predicted.ents = [Span(predicted, 0, 3, "LOC")]
    assert score_entities([Example(predicted, reference)])["ents_f"] == 0.0


def test_different_texts_are_an_error():
    reference = make_doc(["New", "York"], [(0, 2, "LOC")])
    predicted = Doc(VOCAB, words=["New", "York"], spaces=[False, False])
    with pytest.raises(ValueError, match="texts differ"):
        score_entities([Example(predicted, reference)])


def test_registered_scorer_takes_keyword_arguments():
    assert spacy.registry.scorers.get("spacy_mclner.scorer.v1") is make_mclner_scorer
    scorer = make_mclner_scorer()
    words = ["Anna", "sings"]
    example = Example(
        make_doc(words, [(0, 1, "PER")]), make_doc(words, [(0, 1, "PER")], "sw")
    )
    scores = scorer([example], getter=None)
    assert scores["ents_f"] == scores["ents_macro_f"] == 1.0
    assert scores["ents_per_lang"]["sw"]["n_docs"] == 1
