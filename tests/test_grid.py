import numpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spacy_mclner.grid import (
    FIRST_THW,
    NNW,
    NONE,
    ScoredSpans,
    band_index,
    band_mask,
    band_size,
    concat_spans,
    decode_grid,
    grid_windows,
    resolve_overlaps,
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


def test_a_thw_class_on_an_nnw_cell_proposes_no_span():
    """Cell (i, i+1) lies above the diagonal: read as THW it would be the empty span i+1..i."""
    grid = spans_to_grid([0], [2], [1], 4)
    grid[2, 3] = FIRST_THW
    for require_nnw in (True, False):
        spans = decode_grid(one_hot(grid), max_width=8, require_nnw=require_nnw)
        assert list(zip(spans.starts, spans.ends)) == [(0, 2)]


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


@pytest.mark.parametrize("n_words,max_width", [(1, 4), (5, 2), (7, 7), (9, 20), (40, 6)])
def test_band_index_numbers_the_band_cells_in_row_major_order(n_words: int, max_width: int):
    rows, cols = numpy.nonzero(band_mask(n_words, max_width))
    assert band_size(n_words, max_width) == len(rows)
    numpy.testing.assert_array_equal(band_index(n_words, max_width, rows, cols), numpy.arange(len(rows)))
    with pytest.raises(ValueError, match="outside the band"):
        band_index(n_words, max_width, numpy.array([0]), numpy.array([max(2, n_words)]))


def test_grid_windows_short_sentence_is_one_window():
    assert grid_windows(10, 16, 4, 2) == [(0, 10, 0, 10)]
    assert grid_windows(0, 16, 4, 2) == []
    with pytest.raises(ValueError, match="too short"):
        grid_windows(100, 6, 4, 2)


@settings(max_examples=200, deadline=None)
@given(
    n_words=st.integers(1, 400),
    max_width=st.integers(1, 12),
    radius=st.integers(0, 6),
    extra=st.integers(1, 40),
)
def test_grid_windows_own_every_entity_with_its_context(n_words, max_width, radius, extra):
    window = max_width + 2 * radius + extra - 1
    windows = grid_windows(n_words, window, max_width, radius)
    owned = [position for _, _, own_start, own_end in windows for position in range(own_start, own_end)]
    assert owned == list(range(n_words))  # own ranges partition the sentence, in order
    for start, end, own_start, own_end in windows:
        assert 0 <= start <= own_start and end <= n_words and end - start <= window
        for first in range(own_start, own_end):
            # Any entity starting here, with the receptive field around its cells, fits.
            assert start <= max(0, first - radius)
            assert end >= min(n_words, first + max_width + radius)


def test_concat_spans_shifts_offsets():
    a = ScoredSpans(numpy.array([0]), numpy.array([2]), numpy.array([1]), numpy.array([0.5], dtype="float32"))
    b = ScoredSpans(numpy.array([1]), numpy.array([3]), numpy.array([0]), numpy.array([0.9], dtype="float32"))
    joined = concat_spans([(0, a), (10, b)])
    assert joined.starts.tolist() == [0, 11] and joined.ends.tolist() == [2, 13]
    assert joined.labels.tolist() == [1, 0] and joined.scores.tolist() == pytest.approx([0.5, 0.9])
    assert len(concat_spans([])) == 0
