"""The registered corpus readers that `spacy train` configs name.

- `spacy_mclner.LabelledCorpus.v1`: labelled .spacy files as Examples that keep
  the reference tokens and language.
- `spacy_mclner.MultiViewCorpus.v1`: source Examples, each carrying its
  code-switched views, so that plain `spacy train` batches stay source batches
  and the `mclner` pipe encodes the views inside its own update.
- `spacy_mclner.PseudoLabelCorpus.v1`: the labelled source corpus mixed with
  pseudo-labelled target corpora, for self-training's student.
"""
import random
from pathlib import Path
from typing import Callable, Iterable, List, Optional

import spacy
from spacy.language import Language
from spacy.training import Example

from .annotations import ALIGNMENT_KEY, SOURCE_INDEX_KEY, VIEWS_KEY, has_teacher_distributions
from .corpus import corpus_files, example_from_reference, read_references, split_locations


@spacy.registry.readers("spacy_mclner.LabelledCorpus.v1")
def create_labelled_corpus_reader(
    path: Optional[Path], limit: int = 0, shuffle: bool = False, seed: int = 0
) -> Callable[[Language], Iterable[Example]]:
    """Read Examples from .spacy files made by convert_file.

    path (Path): a .spacy file, a folder of them (all, in sorted order), or a
        comma-separated list of both. None (a config's unset path) is an error
        when the corpus is read, so that configs still load without data.
    limit (int): keep the first N docs of each file, so that a dev set built
        from one file per language keeps every language; 0 keeps all.
    shuffle (bool): shuffle the examples on every call, in an order that
        depends only on seed and on how many calls came before. spaCy calls
        the reader once per epoch when training streams (max_epochs = -1);
        otherwise it reads once and shuffles with its own seed.

    The predicted docs keep the reference tokens, because the benchmarks are
    scored on their own tokenization, and they carry the reference's language.
    Gold entities are `Doc.ents`; a doc that also holds spans in `Doc.spans`
    which `Doc.ents` could not carry is an error (see check_gold_spans).
    """
    if path is None:

        def no_path(nlp: Language) -> List[Example]:
            raise ValueError("No corpus path given: set it in the config, e.g. --paths.train or --paths.dev")

        return no_path
    files = corpus_files(split_locations(path))
    rng = random.Random(seed)

    def read_examples(nlp: Language) -> List[Example]:
        examples = [
            example_from_reference(reference)
            for file in files
            for reference in read_references(file, nlp.vocab, limit)
        ]
        if shuffle:
            rng.shuffle(examples)
        return examples

    return read_examples


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
