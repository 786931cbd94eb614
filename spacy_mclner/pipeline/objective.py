"""The `mclner` training objective (docs/method.md sections 3-5), as functions of a batch and its grids.

Source stage (eq. 8): L_ce over the source sentences' grid cells, plus, for
batches with code-switched views, L_ce over the views' cells, `sc_weight * L_sc`
over the sentence vectors and `tc_weight * L_tc` over the projected pair
representations of aligned cells. Self-training (eq. 9, 10) adds, for
pseudo-labelled docs (those carrying teacher distributions), L_ce over their
cells and `mse_weight * L_mse` towards the teacher's distributions of their
band cells; L_tc keeps coming from the source/view pairs, the only sentences
with aligned cells.
"""
from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

import numpy
import torch
from spacy.tokens import Doc, Span
from spacy.training import Example
from thinc.api import torch2xp, xp2torch

from ..data.annotations import ALIGNMENT_KEY, PAIR_KEY, VIEWS_KEY, get_teacher_distributions, has_teacher_distributions
from ..data.corpus import example_from_reference
from ..grid import IGNORE, NONE, band_mask, check_single_sentence, owned_band_cells, spans_to_grid
from ..ml.architecture import GridBatch, GridGradient
from ..ml.losses import grid_cross_entropy, info_nce, relation_mse
from .settings import MCLNERSettings

# (source cells, view cells): two (K, 2) arrays of (row, column) grid coordinates.
AlignedCells = Tuple[numpy.ndarray, numpy.ndarray]


@dataclass
class Objective:
    """The loss of one batch, its parts (logged one by one) and the gradients of the grid outputs."""

    loss: float
    parts: Dict[str, float]
    gradients: GridGradient


def expand_views(examples: Sequence[Example]) -> List[Example]:
    """The batch's source Examples followed by their views, each view marked with its source.

    A view's predicted doc is fresh (same tokens, no annotation), as the reader
    makes them, so every update predicts it anew.
    """
    expanded = list(examples)
    for i, example in enumerate(examples):
        for view in example.reference.user_data.get(VIEWS_KEY, []):
            reference = view.reference.copy()
            reference.user_data[PAIR_KEY] = i
            expanded.append(example_from_reference(reference))
    return expanded


def objective(
    examples: List[Example],
    grid: GridBatch,
    labels: Sequence[str],
    settings: MCLNERSettings,
    rng: numpy.random.Generator,
    component: str = "mclner",
) -> Objective:
    """The training loss of a batch (source docs, their views, pseudo-labelled docs) and its gradients.

    rng: samples L_tc's other cells. component: the pipe's name, for errors.
    """
    targets = torch.as_tensor(grid_targets(examples, grid, labels, settings.max_entity_width, component))
    is_view = torch.as_tensor([PAIR_KEY in examples[w.doc].reference.user_data for w in grid.windows], dtype=torch.bool)
    is_pseudo = torch.as_tensor(
        [has_teacher_distributions(examples[w.doc].reference) for w in grid.windows], dtype=torch.bool
    )
    logits = xp2torch(grid.logits, requires_grad=True)
    none_weight = settings.none_weight
    is_source = ~is_view & ~is_pseudo
    parts = {"ce": grid_cross_entropy(logits[is_source], targets[is_source], none_weight=none_weight)}
    sentences = projections = None
    if bool(is_view.any()):
        parts["ce_view"] = grid_cross_entropy(logits[is_view], targets[is_view], none_weight=none_weight)
        sentence_pairs = paired_rows(examples, [doc_i for doc_i, _, _ in grid.sentences])
        window_pairs = paired_rows(examples, [window.doc for window in grid.windows])
        if settings.sc_weight and sentence_pairs:
            sentences = xp2torch(grid.sentence_vectors, requires_grad=True)
            rows = torch.as_tensor(sentence_pairs, dtype=torch.long)
            parts["sc"] = info_nce(sentences[rows[:, 0]], sentences[rows[:, 1]], settings.sc_tau)
        if settings.tc_weight and window_pairs:
            projections = xp2torch(grid.projections, requires_grad=True)
            parts["tc"] = relation_contrast(examples, grid, window_pairs, projections, settings, rng)
    if bool(is_pseudo.any()):
        parts["ce_pseudo"] = grid_cross_entropy(logits[is_pseudo], targets[is_pseudo], none_weight=none_weight)
        if settings.mse_weight:
            rows = is_pseudo.nonzero().flatten().tolist()
            parts["mse"] = teacher_mse(examples, grid, rows, logits, labels, settings.max_entity_width)
    weights = {
        "ce": 1.0,
        "ce_view": 1.0,
        "sc": settings.sc_weight,
        "tc": settings.tc_weight,
        "ce_pseudo": 1.0,
        "mse": settings.mse_weight,
    }
    loss = sum(weights[name] * value for name, value in parts.items())
    loss.backward()
    gradients = tuple(None if t is None else torch2xp(t.grad) for t in (logits, sentences, projections))
    return Objective(float(loss.item()), {name: float(value.item()) for name, value in parts.items()}, gradients)


def grid_targets(
    examples: List[Example], grid: GridBatch, labels: Sequence[str], max_width: int, component: str = "mclner"
) -> numpy.ndarray:
    """Class ids per cell of the padded grids, IGNORE for padding and out-of-band cells."""
    label_ids = {label: i for i, label in enumerate(labels)}
    gold: List[List[Span]] = [
        list(eg.get_aligned_spans_y2x(eg.reference.ents, allow_overlap=False)) for eg in examples
    ]
    for eg, spans in zip(examples, gold):
        unknown = {span.label_ for span in spans if span.label_ not in label_ids}
        if unknown:
            raise ValueError(
                f"Unknown entity label(s) {sorted(unknown)} in a training example of "
                f"'{component}' (known: {list(labels)}); doc starts: {eg.reference.text[:60]!r}"
            )
    n_windows, max_len = grid.logits.shape[0], grid.logits.shape[1]
    targets = numpy.full((n_windows, max_len, max_len), IGNORE, dtype="int64")
    for row, window in enumerate(grid.windows):
        start, end = window.start, window.end
        touching = [s for s in gold[window.doc] if s.start < end and s.end > start]
        inside = [s for s in touching if s.start >= start and s.end <= end]
        cells = spans_to_grid(
            [s.start - start for s in inside],
            [s.end - start for s in inside],
            [label_ids[s.label_] for s in inside],
            end - start,
        )
        # An entity cut by the window's edge has no right answer here; the window
        # that holds all of it trains on it.
        cut = [s for s in touching if s.start < start or s.end > end]
        if cut:
            cut_cells = spans_to_grid(
                [max(s.start, start) - start for s in cut],
                [min(s.end, end) - start for s in cut],
                [0] * len(cut),
                end - start,
            )
            cells[cut_cells != NONE] = IGNORE
        cells[~band_mask(end - start, max_width)] = IGNORE
        targets[row, : end - start, : end - start] = cells
    return targets


def teacher_mse(
    examples: List[Example], grid: GridBatch, rows: List[int], logits: torch.Tensor, labels: Sequence[str], max_width: int
) -> torch.Tensor:
    """L_mse over the band cells of pseudo-labelled windows `rows`, each cell counted in the window owning it."""
    teachers: Dict[int, numpy.ndarray] = {}
    index: List[numpy.ndarray] = []
    targets: List[numpy.ndarray] = []
    for row in rows:
        window = grid.windows[row]
        reference = examples[window.doc].reference
        if window.doc not in teachers:
            check_single_sentence(reference, grid.sentences[window.sentence])
            teachers[window.doc] = get_teacher_distributions(reference, labels, max_width)
        cell_rows, cell_cols, positions = owned_band_cells(window, grid.sentences[window.sentence], max_width)
        index.append(numpy.stack([numpy.full_like(cell_rows, row), cell_rows, cell_cols], axis=1))
        targets.append(teachers[window.doc][positions])
    cells = torch.as_tensor(numpy.concatenate(index), dtype=torch.long)
    teacher = torch.as_tensor(numpy.concatenate(targets))
    return relation_mse(logits[cells[:, 0], cells[:, 1], cells[:, 2]], teacher)


def relation_contrast(
    examples: List[Example],
    grid: GridBatch,
    pairs: List[Tuple[int, int]],
    projections: torch.Tensor,
    settings: MCLNERSettings,
    rng: numpy.random.Generator,
) -> torch.Tensor:
    """L_tc: InfoNCE between projected pair representations of aligned source/view cells.

    `pairs` are (source, view) window rows of docs that are one window each, so
    grid coordinates are doc token offsets.
    """
    source_index: List[Tuple[int, int, int]] = []
    view_index: List[Tuple[int, int, int]] = []
    for source_row, view_row in pairs:
        source_doc = examples[grid.windows[source_row].doc].reference
        view_doc = examples[grid.windows[view_row].doc].reference
        source_cells, view_cells = aligned_cells(
            source_doc, view_doc, settings.max_entity_width, settings.tc_other_cells, rng
        )
        source_index.extend((source_row, r, c) for r, c in source_cells.tolist())
        view_index.extend((view_row, r, c) for r, c in view_cells.tolist())
    src = torch.as_tensor(source_index, dtype=torch.long).reshape(-1, 3)
    view = torch.as_tensor(view_index, dtype=torch.long).reshape(-1, 3)
    return info_nce(
        projections[src[:, 0], src[:, 1], src[:, 2]],
        projections[view[:, 0], view[:, 1], view[:, 2]],
        settings.temperature,
    )


def aligned_cells(
    source: Doc, view: Doc, max_width: int, n_other: int, rng: numpy.random.Generator
) -> AlignedCells:
    """Grid cells of a source sentence and its view that hold the same relation.

    Aligned are: the THW cell of each entity whose span is one alignment block
    (a switched or kept entity), the NNW cells inside it when source and view
    entity have the same length, and up to `n_other` cells (in the band)
    between words kept one to one. All entity cells are returned; the other
    cells are sampled without replacement.
    """
    blocks = [tuple(block) for block in view.user_data[ALIGNMENT_KEY]]
    by_source_span = {(b[0], b[1]): (b[2], b[3]) for b in blocks}
    source_cells: List[Tuple[int, int]] = []
    view_cells: List[Tuple[int, int]] = []
    for ent in source.ents:
        target = by_source_span.get((ent.start, ent.end))
        if target is None:
            continue
        view_start, view_end = target
        source_cells.append((ent.end - 1, ent.start))
        view_cells.append((view_end - 1, view_start))
        if view_end - view_start == len(ent):
            source_cells.extend((i, i + 1) for i in range(ent.start, ent.end - 1))
            view_cells.extend((i, i + 1) for i in range(view_start, view_end - 1))
    kept = numpy.asarray([(b[0], b[2]) for b in blocks if b[1] - b[0] == 1 and b[3] - b[2] == 1], dtype="int64")
    if n_other > 0 and len(kept):
        rows, cols = numpy.nonzero(band_mask(len(kept), max_width))
        # Cells near the diagonal of the kept-word sub-grid: pairs of nearby kept words.
        candidates = numpy.stack([kept[rows, 0], kept[cols, 0], kept[rows, 1], kept[cols, 1]], axis=1)
        taken = set(source_cells)
        candidates = candidates[[(int(r), int(c)) not in taken for r, c in candidates[:, :2]]]
        picked = candidates[rng.permutation(len(candidates))[:n_other]]
        source_cells.extend(map(tuple, picked[:, :2].tolist()))
        view_cells.extend(map(tuple, picked[:, 2:].tolist()))
    return (
        numpy.asarray(source_cells, dtype="int64").reshape(-1, 2),
        numpy.asarray(view_cells, dtype="int64").reshape(-1, 2),
    )


def paired_rows(examples: List[Example], owners: Sequence[int]) -> List[Tuple[int, int]]:
    """(source row, view row) pairs among rows (sentences or windows) owned by docs `owners[row]`.

    Only docs that are one row each are paired: training sentences are.
    """
    rows_of_doc: Dict[int, List[int]] = {}
    for row, doc_i in enumerate(owners):
        rows_of_doc.setdefault(doc_i, []).append(row)
    pairs = []
    for doc_i, example in enumerate(examples):
        source_i = example.reference.user_data.get(PAIR_KEY)
        if source_i is None:
            continue
        source_rows, view_rows = rows_of_doc.get(source_i, []), rows_of_doc.get(doc_i, [])
        if len(source_rows) == 1 and len(view_rows) == 1:
            pairs.append((source_rows[0], view_rows[0]))
    return pairs
