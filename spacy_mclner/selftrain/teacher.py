"""The frozen teacher's relation distributions, stored with each pseudo-labelled doc.

Self-training's L_mse (docs/method.md section 5, eq. 10) pulls the student's class
distribution of every grid cell towards the teacher's. The teacher labels a
corpus once per round, so its distributions are computed then, with the labels,
rather than by a second model in every training step: the student's steps cost
no extra forward pass and no teacher in memory. A doc keeps only the cells of
its band (entities up to `max_entity_width` words and the NNW cells), in
float16: about 2 KB for a 20-word sentence with 4 entity types, linear in its
length, so a pseudo-labelled corpus stays small on disk and in memory.

Pseudo-labelled docs are single sentences (one CoNLL sentence or one line of
text each), so a doc's band is its sentence's band.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy
from spacy.tokens import Doc

from .grid import band_index, band_mask, band_size
from .model import GridWindow, Sentence

# In a pseudo-labelled doc's user_data: the teacher's labels, band width and band probabilities.
TEACHER_KEY = "mclner_teacher"
TEACHER_DTYPE = "float16"


def set_teacher_distributions(doc: Doc, probs: numpy.ndarray, labels: Sequence[str], max_width: int) -> None:
    """Store the teacher's (band cells x classes) probabilities of `doc`, compactly, where DocBin keeps them."""
    n_cells = band_size(len(doc), max_width)
    if probs.ndim != 2 or probs.shape[0] != n_cells:
        raise ValueError(f"Expected the probabilities of {n_cells} band cells, got an array of shape {probs.shape}")
    doc.user_data[TEACHER_KEY] = {
        "labels": list(labels),
        "max_width": int(max_width),
        "probs": numpy.ascontiguousarray(probs, dtype=TEACHER_DTYPE).tobytes(),
    }


def has_teacher_distributions(doc: Doc) -> bool:
    return TEACHER_KEY in doc.user_data


def get_teacher_distributions(doc: Doc, labels: Sequence[str], max_width: int) -> numpy.ndarray:
    """The stored (band cells x classes) probabilities, float32, checked against the student's labels and band."""
    record: Dict = doc.user_data[TEACHER_KEY]
    if list(record["labels"]) != list(labels) or record["max_width"] != max_width:
        raise ValueError(
            f"A pseudo-labelled doc carries teacher distributions over labels {list(record['labels'])} and entities "
            f"up to {record['max_width']} words, but the student has labels {list(labels)} and max_entity_width "
            f"{max_width}; doc starts: {doc.text[:60]!r}"
        )
    probs = numpy.frombuffer(record["probs"], dtype=TEACHER_DTYPE)
    n_cells = band_size(len(doc), max_width)
    n_classes = len(labels) + 2
    if probs.size != n_cells * n_classes:
        raise ValueError(
            f"The teacher distributions of a pseudo-labelled doc hold {probs.size} values, not {n_cells} band cells "
            f"x {n_classes} classes for its {len(doc)} tokens; doc starts: {doc.text[:60]!r}"
        )
    return probs.reshape(n_cells, n_classes).astype("float32")


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
