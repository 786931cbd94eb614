"""Pseudo-labels for self-training (docs/method.md section 5): the teacher labels target text, filters keep the sure part.

The teacher decodes every THW proposal of a sentence, whatever its own
`require_nnw` and `threshold` settings, and flattens them by score. The
sentence is kept only when it has at least one entity, every entity's score
clears the threshold and every entity's NNW chain is predicted: a sentence is
learnt from whole or not at all, since a dropped uncertain entity would teach
the student that its words are outside any entity. Kept docs carry the
teacher's band distributions for L_mse (data/annotations.py); the registered reader
`spacy_mclner.PseudoLabelCorpus.v1` (data/readers.py) mixes them with the labelled
source corpus for `spacy train`.
"""
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Union

import numpy
from spacy.tokens import Doc, Span
from spacy.training import Example
from spacy.util import minibatch

from ..data.annotations import set_teacher_distributions
from ..data.corpus import example_from_reference
from ..grid import ScoredSpans, band_distributions, decode_windows, resolve_overlaps
from ..pipeline.mclner import MCLNER
from ..pipeline.scoring import restrict_labels, score_entities
from ..util import progress, write_docbin


def select_pseudo_labels(proposals: ScoredSpans, chained: ScoredSpans, threshold: float) -> Optional[ScoredSpans]:
    """The flat entities of a sentence when it is fit to train on, else None.

    proposals: all THW proposals of the sentence (decoded without the NNW check).
    chained: those among them whose NNW chain is predicted.
    threshold: the minimal score of every entity.
    """
    entities = resolve_overlaps(proposals)
    if not len(entities) or bool((entities.scores < threshold).any()):
        return None
    chains = set(zip(chained.starts.tolist(), chained.ends.tolist()))
    if any(span not in chains for span in zip(entities.starts.tolist(), entities.ends.tolist())):
        return None
    return entities


@dataclass
class TeacherOutput:
    """What the teacher says about one sentence: every THW proposal, those whose NNW chain is
    predicted, and its (band cells x classes) probabilities."""

    proposals: ScoredSpans
    chained: ScoredSpans
    band: numpy.ndarray


def teacher_outputs(pipe: MCLNER, docs: Sequence[Doc]) -> List[TeacherOutput]:
    """The teacher's proposals and band distributions for a batch of single-sentence docs."""
    width = pipe.cfg["max_entity_width"]
    grid = pipe.predict(docs)
    probs = pipe.probabilities(grid)
    proposals, chained = (
        decode_windows(grid.windows, probs, len(docs), width, require_nnw=require_nnw, threshold=0.0)
        for require_nnw in (False, True)
    )
    bands = band_distributions(grid.windows, grid.sentences, probs, docs, width)
    return [TeacherOutput(*outputs) for outputs in zip(proposals, chained, bands)]


def check_threshold(threshold: float) -> None:
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must lie in [0, 1], got {threshold}")


def pseudo_label_docs(
    pipe: MCLNER, docs: Sequence[Doc], *, threshold: float, batch_size: int = 64, desc: str = "pseudo-label"
) -> List[Optional[Doc]]:
    """Each doc with the teacher's entities and band distributions, or None where the filters drop it.

    Docs must be single sentences without annotation, made with the teacher's
    vocab; kept docs are annotated in place. Docs are batched by length, as
    `MCLNER.pipe` does, and returned in their order.
    """
    check_threshold(threshold)
    labels = pipe.labels
    kept: List[Optional[Doc]] = [None for _ in docs]
    by_length = sorted(range(len(docs)), key=lambda i: len(docs[i]))
    bar = progress(total=len(docs), desc=desc, unit="sent")
    for indices in minibatch(by_length, size=batch_size):
        bar.update(len(indices))
        batch = [docs[i] for i in indices]
        for i, doc, output in zip(indices, batch, teacher_outputs(pipe, batch)):
            entities = select_pseudo_labels(output.proposals, output.chained, threshold)
            if entities is None:
                continue
            spans = zip(entities.starts.tolist(), entities.ends.tolist(), entities.labels.tolist())
            doc.set_ents([Span(doc, start, end, label=labels[label]) for start, end, label in spans], default="outside")
            set_teacher_distributions(doc, output.band, labels, pipe.cfg["max_entity_width"])
            kept[i] = doc
    bar.close()
    return kept


@dataclass
class PseudoLabelReport:
    """What the filters kept of one language's text and, given gold dev labels, how good the kept labels are."""

    lang: str
    threshold: float
    sentences: int
    kept_sentences: int
    kept_entities: int
    entities_per_label: Dict[str, int] = field(default_factory=dict)
    # Entity P/R/F1 of the kept dev sentences' pseudo-labels against their gold labels.
    quality: Optional[Dict[str, float]] = None

    def to_dict(self) -> Dict:
        return asdict(self)

    @classmethod
    def of_kept(cls, lang: str, threshold: float, sentences: int, kept: Iterable[Doc]) -> "PseudoLabelReport":
        """The report on `sentences` sentences of which the filters kept the docs `kept`."""
        per_label: Dict[str, int] = {}
        n_kept = 0
        for doc in kept:
            n_kept += 1
            for ent in doc.ents:
                per_label[ent.label_] = per_label.get(ent.label_, 0) + 1
        return cls(lang, threshold, sentences, n_kept, sum(per_label.values()), dict(sorted(per_label.items())))


def pseudo_label_quality(
    pipe: MCLNER,
    gold: Sequence[Doc],
    *,
    threshold: float,
    labels: Optional[Sequence[str]] = None,
    batch_size: int = 64,
) -> Dict[str, float]:
    """Entity P/R/F1 of the pseudo-labels the teacher keeps on labelled sentences, against their gold.

    The gold docs' text is labelled as unlabelled text would be, with the same
    filters; only the kept sentences are scored (they are what a student learns
    from), and the share kept is reported beside. `labels` keeps only
    predictions of those types, for gold with fewer types than the teacher.
    """
    examples = [example_from_reference(doc) for doc in gold]
    labelled = pseudo_label_docs(
        pipe, [eg.predicted for eg in examples], threshold=threshold, batch_size=batch_size, desc="pseudo-label dev"
    )
    kept = [Example(doc, eg.reference) for doc, eg in zip(labelled, examples) if doc is not None]
    if labels is not None:
        restrict_labels([eg.predicted for eg in kept], labels)
    scores = score_entities(kept)
    return {
        "p": scores["ents_p"],
        "r": scores["ents_r"],
        "f": scores["ents_f"],
        "sentences": len(examples),
        "kept_sentences": len(kept),
    }


def pseudo_label_corpus(
    pipe: MCLNER,
    docs: Sequence[Doc],
    output: Union[str, Path],
    *,
    lang: str,
    threshold: float,
    gold: Optional[Sequence[Doc]] = None,
    labels: Optional[Sequence[str]] = None,
    batch_size: int = 64,
) -> PseudoLabelReport:
    """Pseudo-label `docs` into the .spacy file `output` (written whole or not at all) and report on it."""
    labelled = pseudo_label_docs(pipe, docs, threshold=threshold, batch_size=batch_size, desc=f"pseudo-label {lang}")
    kept = [doc for doc in labelled if doc is not None]
    report = PseudoLabelReport.of_kept(lang, threshold, len(docs), kept)
    if gold is not None:
        report.quality = pseudo_label_quality(pipe, gold, threshold=threshold, labels=labels, batch_size=batch_size)
    write_docbin(kept, output)
    return report
