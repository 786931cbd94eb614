"""Annotating documents with a loaded pipeline: what `annotate` does in one process and what each
Ray worker does with its shards (distributed/), written once so that both give the same docs."""

from typing import Iterable, Iterator, Optional, Tuple, Union

from spacy.language import Language
from spacy.tokens import Doc

from ..data.annotations import set_doc_lang
from ..data.documents import Record
from .mclner import MCLNER, SCORE_EXTENSION


def annotate_documents(
    nlp: Language,
    documents: Iterable[Tuple[Union[str, Doc], Record]],
    *,
    lang: Optional[str] = None,
    batch_size: int = 64,
) -> Iterator[Tuple[Doc, Record]]:
    """(annotated doc, record) of each (text or Doc, record), lazily and in order; `lang` is recorded on every doc."""

    def docs() -> Iterator[Tuple[Doc, Record]]:
        for text_or_doc, record in documents:
            doc = text_or_doc if isinstance(text_or_doc, Doc) else nlp.make_doc(text_or_doc)
            if lang is not None:
                set_doc_lang(doc, lang)
            yield doc, record

    return nlp.pipe(docs(), as_tuples=True, batch_size=batch_size)


def score_attribute(nlp: Language) -> Optional[str]:
    """The span extension of the entities' scores where an `mclner` pipe sets them, for the JSONL output."""
    return SCORE_EXTENSION if any(isinstance(pipe, MCLNER) for _, pipe in nlp.pipeline) else None
