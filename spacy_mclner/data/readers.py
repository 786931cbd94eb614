"""Source sentences paired with their code-switched views, for multi-view training.

The reader attaches each source Example's views to its reference doc, so that
plain `spacy train` batches stay source batches and the `mclner` pipe encodes
the views inside its own update. This module also turns a view's phrase
alignment into the pairs of aligned grid cells that the relation contrastive
loss (L_tc) contrasts.
"""
import random
from pathlib import Path
from typing import Callable, Iterable, List, Optional, Sequence, Tuple

import numpy
import spacy
from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example

from .codeswitch import ALIGNMENT_KEY, SOURCE_INDEX_KEY
from .corpus import create_labelled_corpus_reader, example_from_reference
from .grid import band_mask

# On a source reference doc: its code-switched view Examples (kept in memory only).
VIEWS_KEY = "mclner_views"
# On a view reference doc inside a batch: the batch position of its source.
PAIR_KEY = "mclner_pair"

# (source cells, view cells): two (K, 2) arrays of (row, column) grid coordinates.
AlignedCells = Tuple[numpy.ndarray, numpy.ndarray]


@spacy.registry.readers("spacy_mclner.MultiViewCorpus.v1")
def create_multiview_corpus_reader(
    source: Optional[Path], views: Optional[Path], limit: int = 0, shuffle: bool = False, seed: int = 0
) -> Callable[[Language], Iterable[Example]]:
    """Source Examples, each carrying its code-switched views (from `codeswitch`).

    source: the labelled .spacy file the views were made from.
    views: the .spacy file written by `python -m spacy_mclner codeswitch`.
    limit: keep the first N source docs (and their views); 0 keeps all.
    """
    rng = random.Random(seed)

    def read_examples(nlp: Language) -> List[Example]:
        if source is None or views is None:
            raise ValueError("spacy_mclner.MultiViewCorpus.v1 needs both `source` and `views` (paths.train, paths.views)")
        sources = list(create_labelled_corpus_reader(source, limit=limit)(nlp))
        for view in create_labelled_corpus_reader(views)(nlp):
            index = view.reference.user_data.get(SOURCE_INDEX_KEY)
            if index is None or ALIGNMENT_KEY not in view.reference.user_data:
                raise ValueError(f"{views}: a doc without source index or alignment is not a code-switched view")
            if index >= len(sources):
                if limit:
                    continue
                raise ValueError(f"{views}: a view points at source doc {index}, but {source} has {len(sources)} docs")
            sources[index].reference.user_data.setdefault(VIEWS_KEY, []).append(view)
        if shuffle:
            rng.shuffle(sources)
        return sources

    return read_examples


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
