"""A user's own labelled data laid out as the workflow reads a benchmark: train.spacy and dev/LANG.spacy.

The labels are whatever the data holds (PRODUCT, EVENT, ...): nothing here knows the
benchmarks' types. Training data is in the source language; dev data is split by the
language each doc records (`mclner_lang`) or its file is named after (de.spacy, de-dev.tsv).
"""
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Sequence

from spacy.tokens import Doc

from ..util import blank_vocab, write_docbin
from .annotations import get_doc_lang
from .corpus import read_labelled_docs, remove_other_dev_files


def convert_user_corpus(
    out_dir: Path, train: Path, dev: Path, *, source: str, targets: Sequence[str], train_limit: int = 0
) -> Dict[str, int]:
    """Write OUT/train.spacy and OUT/dev/LANG.spacy from the user's files; return the doc counts.

    train, dev: .spacy files or folders of them, or token<TAB>label files. Every
    target needs dev docs (the report scores each target on them); everything is
    checked before anything is written, and dev files of other languages left in
    OUT/dev by an earlier run are removed, since every file there is scored.
    """
    vocab = blank_vocab()
    train_docs = read_labelled_docs(vocab, [train], lang=source, limit=train_limit)
    if not any(doc.ents for doc in train_docs):
        raise ValueError(f"The training data {train} holds no entities (in Doc.ents) to learn from")
    by_lang: Dict[str, List[Doc]] = defaultdict(list)
    for doc in read_labelled_docs(vocab, [dev]):
        lang = get_doc_lang(doc)
        if lang is None:
            raise ValueError(
                f"A dev doc in {dev} records no language: name each file after its language "
                "(de.spacy, de-dev.tsv) or record it on the docs (doc.user_data['mclner_lang'] = 'de')"
            )
        by_lang[lang].append(doc)
    missing = [lang for lang in targets if lang not in by_lang]
    if missing:
        raise ValueError(
            f"The dev data {dev} has no docs in target language(s) {', '.join(missing)} "
            f"(it has {', '.join(sorted(by_lang))}): each target is scored on its dev docs"
        )
    dev_dir = out_dir / "dev"
    remove_other_dev_files(dev_dir, by_lang)
    write_docbin(train_docs, out_dir / "train.spacy")
    counts = {"train.spacy": len(train_docs)}
    for lang, docs in sorted(by_lang.items()):
        write_docbin(docs, dev_dir / f"{lang}.spacy")
        counts[f"dev/{lang}.spacy"] = len(docs)
    return counts
