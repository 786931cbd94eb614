import numpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spacy_mclner.grid import (
    FIRST_THW,
    NNW,
    NONE,
    ScoredSpans,
    band_mask,
    decode_grid,
    resolve_overlaps,
    segment_bounds,
    spans_to_grid,
)

N_LABELS = 4


@st.composite
def flat_spans(draw):
    """A sentence length and a random flat span set inside it."""
    n_words = draw(st.integers(min_value=1, max_value=40))
    cuts = sorted(draw(st.sets(st.integers(min_value=0, max_value=n_words), max_size=12)) | {0, n_words})
    spans = []
    for start, end in zip(cuts[:-1], cuts[1:]):
        if draw(st.booleans()):
            spans.append((start, end, draw(st.integers(min_value=0, max_value=N_LABELS - 1))))
    return n_words, spans


def one_hot(grid: numpy.ndarray) -> numpy.ndarray:
    return numpy.eye(FIRST_THW + N_LABELS, dtype="float32")[grid]


@settings(max_examples=300, deadline=None)
@given(flat_spans())
def test_encode_then_decode_returns_the_spans(case):
    n_words, spans = case
    starts, ends, labels = (list(x) for x in zip(*spans)) if spans else ([], [], [])
    grid = spans_to_grid(starts, ends, labels, n_words)
    decoded = resolve_overlaps(decode_grid(one_hot(grid), max_width=n_words))
    got = list(zip(decoded.starts.tolist(), decoded.ends.tolist(), decoded.labels.tolist()))
    assert got == sorted(spans)
    assert numpy.all(decoded.scores == 1.0)


def test_grid_layout_follows_w2ner():
    grid = spans_to_grid([1], [4], [2], 5)
    assert grid[3, 1] == FIRST_THW + 2  # THW: row = tail, column = head
    assert grid[1, 2] == NNW and grid[2, 3] == NNW
    assert (grid != NONE).sum() == 3


def test_overlapping_spans_are_rejected():
    with pytest.raises(ValueError, match="Overlapping"):
        spans_to_grid([0, 1], [2, 3], [0, 0], 4)
    with pytest.raises(ValueError, match="outside"):
        spans_to_grid([0], [5], [0], 4)


def test_decoding_requires_a_continuous_nnw_chain():
    grid = spans_to_grid([0], [4], [1], 4)
    grid[1, 2] = NONE  # break the chain in the middle
    assert len(decode_grid(one_hot(grid), max_width=8)) == 0
    loose = decode_grid(one_hot(grid), max_width=8, require_nnw=False)
    assert list(zip(loose.starts, loose.ends)) == [(0, 4)]


def test_decoding_respects_width_and_threshold():
    grid = spans_to_grid([0], [5], [0], 6)
    assert len(decode_grid(one_hot(grid), max_width=4)) == 0
    probs = one_hot(grid) * 0.6
    assert len(decode_grid(probs, max_width=8, threshold=0.7)) == 0
    assert len(decode_grid(probs, max_width=8, threshold=0.5)) == 1


def test_resolve_overlaps_keeps_best_scores():
    spans = ScoredSpans(
        starts=numpy.array([0, 1, 3, 5]),
        ends=numpy.array([3, 2, 5, 6]),
        labels=numpy.array([0, 1, 2, 3]),
        scores=numpy.array([0.5, 0.9, 0.8, 0.1], dtype="float32"),
    )
    flat = resolve_overlaps(spans)
    assert list(zip(flat.starts.tolist(), flat.ends.tolist())) == [(1, 2), (3, 5), (5, 6)]


def test_band_mask_holds_thw_band_and_nnw_cells():
    mask = band_mask(5, 2)
    assert mask[0, 0] and mask[1, 0] and not mask[2, 0]
    assert mask[0, 1] and not mask[0, 2]


def test_segment_bounds_split_long_sentences():
    assert segment_bounds(10, [0, 4], 3) == [(0, 3), (3, 4), (4, 7), (7, 10)]
    assert segment_bounds(0, [], 5) == []
    with pytest.raises(ValueError):
        segment_bounds(4, [0], 0)
