"""Word-pair relation grids: flat entity spans <-> per-sentence grids, and decoding.

The encoding follows W2NER (Li et al. 2022): for a sentence of N words,
cell (i, i+1) holds NNW when words i and i+1 sit in one entity (upper
triangle), cell (end, start) holds THW-<type> for an entity over words
start..end (lower triangle, diagonal for one-word entities); every other cell
is `none`. Everything here is numpy and vectorised over cells: the only Python
loop runs over the (few) decoded candidates when overlaps are resolved.
"""
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy
from spacy.tokens import Doc

NONE = 0
NNW = 1
FIRST_THW = 2
# Loss targets use this value for cells that do not count (padding, outside the band).
IGNORE = -1


def n_relation_classes(n_labels: int) -> int:
    """Number of grid classes for `n_labels` entity types: none, NNW and one THW per type."""
    return FIRST_THW + n_labels


def relation_names(labels: Sequence[str]) -> List[str]:
    """Human-readable names of the grid classes, in class-id order."""
    return ["none", "NNW"] + [f"THW-{label}" for label in labels]


@dataclass
class ScoredSpans:
    """Decoded entity candidates of one sentence: word offsets (end exclusive), label ids, scores."""

    starts: numpy.ndarray
    ends: numpy.ndarray
    labels: numpy.ndarray
    scores: numpy.ndarray

    def __len__(self) -> int:
        return int(self.starts.shape[0])

    def select(self, keep: numpy.ndarray) -> "ScoredSpans":
        return ScoredSpans(self.starts[keep], self.ends[keep], self.labels[keep], self.scores[keep])


# (doc index in the batch, first token, end token) of one sentence.
Sentence = Tuple[int, int, int]


@dataclass
class GridWindow:
    """One grid: tokens start..end of a doc, deciding the entities that start in own_start..own_end."""

    doc: int
    sentence: int
    start: int
    end: int
    own_start: int
    own_end: int


def band_mask(n_words: int, max_width: int) -> numpy.ndarray:
    """Cells that can hold a relation: THW cells of entities up to `max_width` words, NNW cells.

    Cells outside the band are always `none`; leaving them out of the loss and the
    decoding keeps the far-off, trivially empty cells from dominating either.
    """
    offsets = numpy.arange(n_words)[:, None] - numpy.arange(n_words)[None, :]
    return ((offsets >= 0) & (offsets < max_width)) | (offsets == -1)


def band_size(n_words: int, max_width: int) -> int:
    """Number of cells in the band of a sentence (see band_mask), without building the grid."""
    return int(_band_row_counts(n_words, max_width).sum())


def band_index(n_words: int, max_width: int, rows: numpy.ndarray, cols: numpy.ndarray) -> numpy.ndarray:
    """Position of band cells (rows, cols) among the band's cells in row-major order.

    The band of a long sentence is stored compactly as that flat list of cells
    (teacher distributions of pseudo-labelled text); this finds a cell in it in
    memory linear in the number of cells looked up, whatever the sentence length.
    """
    rows = numpy.asarray(rows, dtype="int64")
    cols = numpy.asarray(cols, dtype="int64")
    offsets = rows - cols
    if ((offsets < -1) | (offsets >= max_width) | (rows < 0) | (cols < 0) | (rows >= n_words) | (cols >= n_words)).any():
        raise ValueError(f"Cells outside the band of a sentence of {n_words} words (max width {max_width})")
    counts = _band_row_counts(n_words, max_width)
    row_starts = numpy.cumsum(counts) - counts
    return row_starts[rows] + cols - numpy.maximum(0, rows - max_width + 1)


def _band_row_counts(n_words: int, max_width: int) -> numpy.ndarray:
    """Band cells per row: columns max(0, row - max_width + 1) up to min(n_words - 1, row + 1)."""
    rows = numpy.arange(n_words, dtype="int64")
    return numpy.minimum(n_words - 1, rows + 1) - numpy.maximum(0, rows - max_width + 1) + 1


def spans_to_grid(
    starts: Sequence[int], ends: Sequence[int], labels: Sequence[int], n_words: int
) -> numpy.ndarray:
    """Grid of class ids (n_words x n_words) for entity spans given as word offsets.

    `ends` are exclusive and `labels` are indices into the component's label list.
    Spans must lie inside the sentence and must not overlap, since a grid cell holds
    one class: overlapping spans would silently overwrite each other's NNW cells.
    """
    starts_a = numpy.asarray(starts, dtype="int64")
    ends_a = numpy.asarray(ends, dtype="int64")
    labels_a = numpy.asarray(labels, dtype="int64")
    grid = numpy.full((n_words, n_words), NONE, dtype="int64")
    if starts_a.size == 0:
        return grid
    if (starts_a < 0).any() or (ends_a > n_words).any() or (ends_a <= starts_a).any():
        raise ValueError(f"Span offsets outside a sentence of {n_words} words: {list(zip(starts, ends))}")
    order = numpy.argsort(starts_a, kind="stable")
    if (starts_a[order][1:] < ends_a[order][:-1]).any():
        raise ValueError(f"Overlapping spans cannot share one grid: {list(zip(starts, ends))}")
    grid[ends_a - 1, starts_a] = FIRST_THW + labels_a
    widths = ends_a - starts_a - 1
    rows = numpy.repeat(starts_a, widths) + _ranges(widths)
    grid[rows, rows + 1] = NNW
    return grid


def _ranges(lengths: numpy.ndarray) -> numpy.ndarray:
    """Concatenation of arange(n) for each n in `lengths`, without a Python loop."""
    total = int(lengths.sum())
    if total == 0:
        return numpy.zeros((0,), dtype="int64")
    offsets = numpy.repeat(numpy.cumsum(lengths) - lengths, lengths)
    return numpy.arange(total, dtype="int64") - offsets


def decode_grid(
    probs: numpy.ndarray, max_width: int, *, require_nnw: bool = True, threshold: float = 0.0
) -> ScoredSpans:
    """Entity candidates of one sentence from its class probabilities (n x n x classes).

    A lower-triangle cell (end, start) whose most likely class is a THW type proposes
    span start..end with that type; its score is that class's probability. A proposal
    is kept when its score clears `threshold` and, with `require_nnw`, when every
    NNW cell inside the span is predicted as NNW. The result may overlap (nested or
    crossing candidates); `resolve_overlaps` makes it flat.
    """
    n_words = probs.shape[0]
    if n_words == 0:
        return _empty_spans()
    best = probs.argmax(axis=-1)
    # THW cells lie on or below the diagonal; the band's NNW cells above it propose nothing.
    ends_incl, starts = numpy.nonzero((best >= FIRST_THW) & numpy.tril(band_mask(n_words, max_width)))
    labels = best[ends_incl, starts] - FIRST_THW
    scores = probs[ends_incl, starts, best[ends_incl, starts]]
    ends = ends_incl + 1
    keep = scores >= threshold
    if require_nnw:
        # links[i] is 1 when words i and i+1 are predicted to be neighbours in one entity.
        links = (best[numpy.arange(n_words - 1), numpy.arange(1, n_words)] == NNW).astype("int64")
        linked_before = numpy.concatenate([[0], numpy.cumsum(links)])
        keep &= (linked_before[ends - 1] - linked_before[starts]) == (ends - 1 - starts)
    return ScoredSpans(starts[keep], ends[keep], labels[keep], scores[keep].astype("float32"))


def _empty_spans() -> ScoredSpans:
    empty = numpy.zeros((0,), dtype="int64")
    return ScoredSpans(empty, empty.copy(), empty.copy(), numpy.zeros((0,), dtype="float32"))


def concat_spans(parts: Sequence[Tuple[int, ScoredSpans]]) -> ScoredSpans:
    """One ScoredSpans from several (offset, spans) parts, offsets added to their positions."""
    if not parts:
        return _empty_spans()
    return ScoredSpans(
        numpy.concatenate([spans.starts + offset for offset, spans in parts]),
        numpy.concatenate([spans.ends + offset for offset, spans in parts]),
        numpy.concatenate([spans.labels for _, spans in parts]),
        numpy.concatenate([spans.scores for _, spans in parts]),
    )


def resolve_overlaps(spans: ScoredSpans) -> ScoredSpans:
    """Flat subset of `spans`: greedily keep the best-scored span that overlaps no kept one.

    Ties are broken towards the earlier, then the shorter span, so the result is
    deterministic. The result is sorted by start.
    """
    if len(spans) == 0:
        return spans
    order = numpy.lexsort((spans.ends - spans.starts, spans.starts, -spans.scores))
    taken = numpy.zeros((int(spans.ends.max()),), dtype=bool)
    kept: List[int] = []
    for idx in order:
        start, end = spans.starts[idx], spans.ends[idx]
        if not taken[start:end].any():
            taken[start:end] = True
            kept.append(int(idx))
    kept_a = numpy.asarray(sorted(kept, key=lambda i: spans.starts[i]), dtype="int64")
    return spans.select(kept_a)


def grid_windows(
    n_words: int, window: int, max_width: int, radius: int
) -> List[Tuple[int, int, int, int]]:
    """Overlapping windows (start, end, own_start, own_end) that cover a sentence's band.

    A grid over a whole sentence costs memory quadratic in its length, so a long
    sentence (or a doc with no sentence boundaries) is cut into windows of at most
    `window` words. Each window decodes only the entities that start in its own
    range [own_start, own_end); the own ranges partition the sentence. A window
    reaches `radius` words (the convolutions' receptive radius) before its own
    range and `max_width - 1 + radius` words after it, so every cell of an entity
    it owns sees the same context as in one grid over the whole sentence: no
    entity is lost at a cut and windowed logits equal unwindowed ones.
    """
    if n_words == 0:
        return []
    if n_words <= window:
        return [(0, n_words, 0, n_words)]
    stride = window - (max_width - 1) - 2 * radius
    if stride < 1:
        raise ValueError(
            f"A grid window of {window} words is too short for entities of up to {max_width} words "
            f"with a receptive radius of {radius}: it needs at least {max_width + 2 * radius} words"
        )
    windows: List[Tuple[int, int, int, int]] = []
    for own_start in range(0, n_words, stride):
        start = max(0, own_start - radius)
        end = min(n_words, start + window)
        if end == n_words:
            windows.append((start, end, own_start, n_words))
            break
        windows.append((start, end, own_start, own_start + stride))
    return windows


def decode_windows(
    windows: Sequence[GridWindow],
    probs: numpy.ndarray,
    n_docs: int,
    max_width: int,
    *,
    require_nnw: bool,
    threshold: float,
) -> List[ScoredSpans]:
    """Entity candidates of each doc, in doc token offsets, from its windows' class probabilities.

    A window keeps the candidates that start in its own range; the own ranges of
    a sentence's windows partition it, so each candidate is decoded once.
    """
    candidates: List[List[Tuple[int, ScoredSpans]]] = [[] for _ in range(n_docs)]
    for row, window in enumerate(windows):
        n_words = window.end - window.start
        spans = decode_grid(probs[row, :n_words, :n_words], max_width, require_nnw=require_nnw, threshold=threshold)
        starts = spans.starts + window.start
        owned = (starts >= window.own_start) & (starts < window.own_end)
        candidates[window.doc].append((window.start, spans.select(owned)))
    return [concat_spans(parts) for parts in candidates]


def owned_band_cells(window: GridWindow, sentence: Sentence, max_width: int) -> Tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]:
    """The band cells a window owns: (rows, cols) in the window's grid and positions in the sentence's band.

    A window owns a cell when the cell's first word, min(row, col), lies in the
    window's own range: the cells of the entities it decodes, which see the same
    context as in one grid over the whole sentence. The own ranges partition the
    sentence, so every band cell is owned by exactly one window.
    """
    _, sent_start, sent_end = sentence
    n_words = window.end - window.start
    rows, cols = numpy.nonzero(band_mask(n_words, max_width))
    first = numpy.minimum(rows, cols) + window.start
    owned = (first >= window.own_start) & (first < window.own_end)
    rows, cols = rows[owned], cols[owned]
    offset = window.start - sent_start
    return rows, cols, band_index(sent_end - sent_start, max_width, rows + offset, cols + offset)


def band_distributions(
    windows: Sequence[GridWindow], sentences: Sequence[Sentence], probs: numpy.ndarray, docs: Sequence[Doc], max_width: int
) -> List[Optional[numpy.ndarray]]:
    """Each doc's (band cells x classes) probabilities gathered from its windows' grids; None for empty docs."""
    bands: List[Optional[numpy.ndarray]] = [None for _ in docs]
    for row, window in enumerate(windows):
        sentence = sentences[window.sentence]
        check_single_sentence(docs[window.doc], sentence)
        band = bands[window.doc]
        if band is None:
            band = bands[window.doc] = numpy.zeros((band_size(len(docs[window.doc]), max_width), probs.shape[-1]), dtype="float32")
        rows, cols, positions = owned_band_cells(window, sentence, max_width)
        band[positions] = probs[row, rows, cols]
    return bands


def check_single_sentence(doc: Doc, sentence: Sentence) -> None:
    """Teacher distributions are stored per sentence: a pseudo-labelled doc must be one."""
    _, start, end = sentence
    if start != 0 or end != len(doc):
        raise ValueError(
            "Teacher distributions are stored per sentence, so a pseudo-labelled doc must be one sentence, "
            f"but this doc has sentence boundaries; doc starts: {doc.text[:60]!r}"
        )
