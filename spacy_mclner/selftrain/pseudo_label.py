"""Pseudo-labels for self-training (docs/method.md section 5): the teacher labels target text, filters keep the sure part.

The teacher decodes every THW proposal of a sentence, whatever its own
`require_nnw` and `threshold` settings, and flattens them by score. The
sentence is kept only when it has at least one entity, every entity's score
clears the threshold and every entity's NNW chain is predicted: a sentence is
learnt from whole or not at all, since a dropped uncertain entity would teach
the student that its words are outside any entity. Kept docs carry the
teacher's band distributions for L_mse (teacher.py). The registered reader mixes
the pseudo-labelled corpora with the labelled source corpus for `spacy train`.
"""
import os
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Union

import numpy
import spacy
from spacy.language import Language
from spacy.tokens import Doc, DocBin, Span
from spacy.training import Example
from spacy.util import minibatch

from .corpus import (
    check_known_lang,
    create_labelled_corpus_reader,
    example_from_reference,
    get_doc_lang,
    read_conll_docs,
    set_doc_lang,
)
from .grid import ScoredSpans, resolve_overlaps
from .multiview import create_multiview_corpus_reader
from .pipe import MCLNER, decode_windows
from .scoring import restrict_labels, score_entities
from .teacher import band_distributions, has_teacher_distributions, set_teacher_distributions


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


def pseudo_label_docs(pipe: MCLNER, docs: Sequence[Doc], *, threshold: float, batch_size: int = 64) -> List[Optional[Doc]]:
    """Each doc with the teacher's entities and band distributions, or None where the filters drop it.

    Docs must be single sentences without annotation, made with the teacher's
    vocab; kept docs are annotated in place. Docs are batched by length, as
    `MCLNER.pipe` does, and returned in their order.
    """
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must lie in [0, 1], got {threshold}")
    labels = pipe.labels
    kept: List[Optional[Doc]] = [None for _ in docs]
    by_length = sorted(range(len(docs)), key=lambda i: len(docs[i]))
    for indices in minibatch(by_length, size=batch_size):
        batch = [docs[i] for i in indices]
        for i, doc, output in zip(indices, batch, teacher_outputs(pipe, batch)):
            entities = select_pseudo_labels(output.proposals, output.chained, threshold)
            if entities is None:
                continue
            spans = zip(entities.starts.tolist(), entities.ends.tolist(), entities.labels.tolist())
            doc.set_ents([Span(doc, start, end, label=labels[label]) for start, end, label in spans], default="outside")
            set_teacher_distributions(doc, output.band, labels, pipe.cfg["max_entity_width"])
            kept[i] = doc
    return kept


def read_unlabeled(path: Union[str, Path], nlp: Language, lang: str, *, text: bool = False, limit: int = 0) -> List[Doc]:
    """Sentences to pseudo-label, one Doc each, recording `lang`.

    A token-per-line file (the benchmarks' `unlabeled` files; a labelled file's
    labels are dropped) or, with `text`, raw text one sentence a line, tokenised
    by the teacher's tokenizer after whitespace runs are collapsed (so no token
    is whitespace). Blank lines are skipped. limit: the first N sentences (0: all).
    """
    check_known_lang(lang)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Unlabelled text file not found: {path}")
    if text:
        docs = []
        for line in _text_lines(path):
            if limit and len(docs) == limit:
                break
            doc = nlp.make_doc(line)
            set_doc_lang(doc, lang)
            docs.append(doc)
    else:
        docs = [example_from_reference(doc).predicted for doc in read_conll_docs(path, nlp.vocab, lang, limit=limit)]
    if not docs:
        raise ValueError(f"No sentences to pseudo-label in {path}: the file is empty")
    return docs


def _text_lines(path: Path) -> Iterable[str]:
    """Non-blank lines of a UTF-8 text file, whitespace runs collapsed; bad bytes name their line."""
    with path.open("rb") as file_:
        for line_number, raw_line in enumerate(file_, start=1):
            try:
                line = " ".join(raw_line.decode("utf8").split())
            except UnicodeDecodeError as err:
                raise ValueError(f"{path}:{line_number}: not valid UTF-8 at byte {err.start + 1} ({err.reason})") from None
            if line:
                yield line


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
    labelled = pseudo_label_docs(pipe, [eg.predicted for eg in examples], threshold=threshold, batch_size=batch_size)
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
    kept = [doc for doc in pseudo_label_docs(pipe, docs, threshold=threshold, batch_size=batch_size) if doc is not None]
    per_label: Dict[str, int] = {}
    for doc in kept:
        for ent in doc.ents:
            per_label[ent.label_] = per_label.get(ent.label_, 0) + 1
    report = PseudoLabelReport(
        lang=lang,
        threshold=threshold,
        sentences=len(docs),
        kept_sentences=len(kept),
        kept_entities=sum(per_label.values()),
        entities_per_label=dict(sorted(per_label.items())),
    )
    if gold is not None:
        report.quality = pseudo_label_quality(pipe, gold, threshold=threshold, labels=labels, batch_size=batch_size)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    DocBin(docs=kept, store_user_data=True).to_disk(partial)
    os.replace(partial, output)
    return report


def read_gold(path: Union[str, Path], nlp: Language, lang: str, limit: int = 0) -> List[Doc]:
    """Labelled sentences of `lang`: a .spacy file or folder (docs of other languages skipped) or a token<TAB>label file.

    limit: the first N docs of each file (0: all).
    """
    check_known_lang(lang)
    path = Path(path)
    if path.is_dir() or path.suffix == ".spacy":
        examples = create_labelled_corpus_reader(path, limit=limit)(nlp)
        docs = [eg.reference for eg in examples if get_doc_lang(eg.reference) == lang]
    else:
        docs = read_conll_docs(path, nlp.vocab, lang, limit=limit)
    if not docs:
        raise ValueError(f"No labelled {lang!r} sentences in {path}")
    return docs


@spacy.registry.readers("spacy_mclner.PseudoLabelCorpus.v1")
def create_pseudo_label_corpus_reader(
    source: Optional[Path],
    pseudo: Optional[Path],
    views: Optional[Path] = None,
    source_limit: int = 0,
    pseudo_limit: int = 0,
    shuffle: bool = False,
    seed: int = 0,
) -> Callable[[Language], Iterable[Example]]:
    """The labelled source corpus (with its code-switched views when `views` is set) and pseudo-labelled corpora.

    source: the labelled source .spacy file(s); they keep training beside the pseudo-labels.
    pseudo: .spacy files written by `python -m spacy_mclner pseudo-label`, a folder of them
        or a comma-separated list; their docs carry the teacher's distributions.
    source_limit, pseudo_limit: keep the first N docs of each file (0: all).
    """
    rng = random.Random(seed)
    if views is None:
        read_source = create_labelled_corpus_reader(source, limit=source_limit)
    else:
        read_source = create_multiview_corpus_reader(source, views, limit=source_limit)
    read_pseudo = create_labelled_corpus_reader(pseudo, limit=pseudo_limit)

    def read_examples(nlp: Language) -> List[Example]:
        if source is None or pseudo is None:
            raise ValueError("spacy_mclner.PseudoLabelCorpus.v1 needs `source` and `pseudo` (paths.train, paths.pseudo)")
        pseudo_examples = list(read_pseudo(nlp))
        unmarked = sum(not has_teacher_distributions(eg.reference) for eg in pseudo_examples)
        if unmarked:
            raise ValueError(
                f"{unmarked} docs in {pseudo} carry no teacher distributions: make pseudo-labelled "
                "corpora with `python -m spacy_mclner pseudo-label`"
            )
        examples = list(read_source(nlp)) + pseudo_examples
        if shuffle:
            rng.shuffle(examples)
        return examples

    return read_examples
