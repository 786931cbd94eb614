import importlib.metadata
import random
import subprocess
import sys
from pathlib import Path
from typing import List

import numpy
import pytest
import spacy
from hypothesis import given, settings
from hypothesis import strategies as st
from spacy.tokens import Doc
from spacy_transformers.architectures import transformer_tok2vec_v3
from spacy_transformers.span_getters import configure_strided_spans
from thinc.api import reduce_mean
from transformers import AutoTokenizer

from spacy_mclner.ml.span_getters import configure_bounded_strided_spans, worst_case_pieces

from .helpers import GIANT

VOCAB = spacy.blank("xx").vocab


def make_doc(words: List[str]) -> Doc:
    return Doc(VOCAB, words=words)


@pytest.mark.parametrize("n_tokens", [0, 1, 95, 96, 97, 128, 129, 192, 200, 1000])
def test_same_windows_as_strided_spans_where_pieces_fit(n_tokens: int):
    doc = make_doc(["ab"] * n_tokens)
    expected = configure_strided_spans(128, 96)([doc])
    bounded = configure_bounded_strided_spans(128, 96, 510)([doc])
    assert [[(s.start, s.end) for s in spans] for spans in bounded] == [
        [(s.start, s.end) for s in spans] for spans in expected
    ]


@settings(max_examples=200, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 40), max_size=120),
    window=st.integers(1, 20),
    stride_share=st.floats(0.01, 1.0),
    max_pieces=st.integers(1, 60),
)
def test_windows_cover_every_token_within_both_bounds(
    lengths: List[int], window: int, stride_share: float, max_pieces: int
):
    stride = max(1, int(window * stride_share))
    doc = make_doc(["x" * n for n in lengths])
    windows = configure_bounded_strided_spans(window, stride, max_pieces)([doc])[0]
    covered = numpy.zeros(len(doc), dtype=bool)
    for span in windows:
        covered[span.start : span.end] = True
        assert 1 <= len(span) <= window
        pieces = sum(worst_case_pieces(token.text) for token in span)
        assert pieces <= max_pieces or len(span) == 1, (span.start, span.end, pieces)
    assert covered.all()
    assert [s.start for s in windows] == sorted({s.start for s in windows})


def test_an_oversized_token_gets_a_window_of_its_own():
    words = ["Angela", "Merkel", "besuchte", "Paris", ".", GIANT, "Barack", "Obama", "."]
    windows = configure_bounded_strided_spans(128, 96, 510)([make_doc(words)])[0]
    assert [(s.start, s.end) for s in windows] == [(0, 5), (5, 6), (6, 9)]


@pytest.mark.parametrize("window,stride,max_pieces", [(0, 1, 10), (4, 5, 10), (4, 0, 10), (4, 2, 0)])
def test_bad_settings_are_errors(window: int, stride: int, max_pieces: int):
    with pytest.raises(ValueError, match="bounded_strided_spans needs"):
        configure_bounded_strided_spans(window, stride, max_pieces)


def test_worst_case_bounds_the_real_tokenizer(encoder_dir: Path):
    """Characters whose pieces outnumber len(text) + 1, and random mixed-script spans."""
    tokenizer = AutoTokenizer.from_pretrained(str(encoder_dir), use_fast=False)
    tricky = ["\ufdfa", "\u3300", "\uff8a\uff9f", "\u0677", "\u2037", "\u01c5", "\u337b", "e\u0301"]
    for text in tricky:
        assert len(tokenizer.tokenize(text)) <= worst_case_pieces(text), text
    assert any(len(tokenizer.tokenize(text)) > len(text) + 1 for text in tricky)
    rng = random.Random(0)
    alphabet = tricky + list("abc XYZ.,") + ["\u5317", "\u4eac", "\uc11c", "\u0627", "\u3000", "\n"]
    for _ in range(300):
        words = ["".join(rng.choices(alphabet, k=rng.randint(1, 6))) for _ in range(rng.randint(1, 10))]
        doc = Doc(VOCAB, words=words, spaces=[rng.random() < 0.5 for _ in words])
        assert len(tokenizer.tokenize(doc.text)) <= sum(worst_case_pieces(t.text) for t in doc), doc.text


def test_tokens_after_a_giant_token_keep_their_vectors(encoder_dir: Path):
    """strided_spans.v1 lets the giant token's pieces push its neighbours past the 512-piece cut."""
    first, second = "Angela Merkel besuchte Paris .".split(), "Barack Obama works for Google in New York .".split()
    words = first + [GIANT] + second
    sent_starts = [i in (0, len(first), len(first) + 1) for i in range(len(words))]
    doc = Doc(VOCAB, words=words, sent_starts=sent_starts)
    after = slice(len(first) + 1, None)
    norms = {}
    for name, get_spans in (
        ("strided", configure_strided_spans(128, 96)),
        ("bounded", configure_bounded_strided_spans(128, 96, 510)),
    ):
        tok2vec = transformer_tok2vec_v3(
            name=str(encoder_dir),
            get_spans=get_spans,
            tokenizer_config={"use_fast": False},
            transformer_config={},
            pooling=reduce_mean(),
        )
        tok2vec.initialize([doc])
        norms[name] = numpy.linalg.norm(tok2vec.predict([doc])[0], axis=1)
    assert (norms["strided"][after] == 0).all()
    assert (norms["bounded"] > 0).all()


def test_registered_by_entry_point():
    """Saved pipelines find the getter without importing spacy_mclner."""
    name = "spacy_mclner.bounded_strided_spans.v1"
    assert name in {entry.name for entry in importlib.metadata.entry_points(group="spacy_span_getters")}
    code = f"import spacy_transformers\nfrom spacy.util import registry\nregistry.span_getters.get({name!r})"
    subprocess.run([sys.executable, "-c", code], check=True)
