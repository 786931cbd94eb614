"""Read CoNLL-style token/label files into Docs and serve them to spaCy training.

The benchmarks (CoNLL-2002/2003, PAN-X) come one token a line with its tag in
the last column and a blank line after each sentence. Every sentence becomes
one Doc that records its language in `doc.user_data`, so that scores can be
broken down by language after the docs went through a DocBin.
"""

import random
import re
from itertools import islice
from pathlib import Path
from typing import Callable, Iterable, Iterator, List, Optional, Tuple, Union

import spacy
from spacy.language import Language
from spacy.tokens import Doc, DocBin, Span
from spacy.training import Example
from spacy.vocab import Vocab

LANG_KEY = "mclner_lang"
DOCSTART = "-DOCSTART-"
# PAN-X ja and zh are split into characters, with "#" where the text had a
# space. Their tokens are kept as they are but joined without whitespace, so
# doc.text reads like the script itself (what subword tokenizers were trained
# on) instead of characters with spaces between them.
UNSPACED_LANGS = frozenset({"ja", "zh"})

_LANG_PATTERN = re.compile(r"[a-z]{2,3}")
_TAG_PATTERN = re.compile(r"O|[BI]-\S+")

# (words, tags) of one sentence; tags is None when the file has no labels.
_Sentence = Tuple[List[str], Optional[List[str]]]


def set_doc_lang(doc: Doc, lang: str) -> None:
    """Record the doc's language where DocBin (store_user_data=True) keeps it."""
    _validate_lang(lang)
    doc.user_data[LANG_KEY] = lang


def get_doc_lang(doc: Doc) -> Optional[str]:
    """Return the language recorded by set_doc_lang, or None."""
    return doc.user_data.get(LANG_KEY)


def check_known_lang(lang: str) -> None:
    """Raise unless spaCy or CLDR (babel) knows the language code `lang`.

    A typo ("ge" for German) would otherwise label a corpus under a language
    that no dev set scores. spaCy alone knows too few of the PAN-X languages
    (not jv, ka, kk, my or sw), CLDR alone not spaCy's multi-language "xx".
    """
    import babel

    _validate_lang(lang)
    try:
        spacy.util.get_lang_class(lang)
        return
    except ImportError:
        pass
    try:
        babel.Locale.parse(lang)
    except (ValueError, babel.UnknownLocaleError):
        raise ValueError(f"Unknown language code {lang!r}: neither spaCy nor CLDR (babel) knows it") from None


def _validate_lang(lang: str) -> None:
    if not isinstance(lang, str) or not _LANG_PATTERN.fullmatch(lang):
        raise ValueError(
            f"Invalid language code {lang!r}: expected 2 or 3 lowercase "
            "letters (ISO 639), such as 'en', 'zh' or 'xx'"
        )


def read_conll_docs(
    path: Union[str, Path], vocab: Vocab, lang: str, limit: int = 0
) -> List[Doc]:
    """Read a token-per-line file into one Doc per sentence.

    Labelled files set doc.ents from their IOB1 or IOB2 tags (tokens outside
    entities are marked O); token-only files give docs without NER annotation.
    limit (int): keep only the first N sentences; 0 keeps all.
    """
    _validate_lang(lang)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Input file not found: {path}")
    spaced = lang not in UNSPACED_LANGS
    docs = []
    for words, tags in islice(_read_sentences(path), limit or None):
        spaces = [spaced] * len(words)
        spaces[-1] = False
        doc = Doc(vocab, words=words, spaces=spaces)
        if tags is not None:
            spans = _iob_to_spans(tags)
            ents = [Span(doc, start, end, label) for start, end, label in spans]
            doc.set_ents(ents, default="outside")
        set_doc_lang(doc, lang)
        docs.append(doc)
    return docs


def _read_sentences(path: Path) -> Iterator[_Sentence]:
    """Yield the sentences of a file, checking each line as it goes.

    Lines are split on tabs when they hold one, else on whitespace; the token
    is the first column and the tag the last. The first token line fixes the
    number of columns (one column: a file without labels). Lines are decoded
    one by one so that a bad byte can be reported with its line number.
    """
    n_columns = 0
    first_line_number = 0
    words: List[str] = []
    tags: List[str] = []
    with path.open("rb") as file_:
        for line_number, raw_line in enumerate(file_, start=1):
            where = f"{path}:{line_number}: "
            try:
                line = raw_line.decode("utf8").rstrip("\r\n")
            except UnicodeDecodeError as err:
                raise ValueError(
                    f"{where}not valid UTF-8 at byte {err.start + 1} ({err.reason})"
                ) from None
            if line and not line.strip():
                raise ValueError(
                    f"{where}line holds only whitespace; sentences must be "
                    "separated by empty lines"
                )
            if not line or line.split(maxsplit=1)[0] == DOCSTART:
                if words:
                    yield words, (tags if n_columns > 1 else None)
                    words, tags = [], []
                continue
            if "\t" in line:
                columns = [column.strip() for column in line.split("\t")]
            else:
                columns = line.split()
            if not all(columns):
                raise ValueError(f"{where}empty column in {line!r}")
            if not n_columns:
                n_columns = len(columns)
                first_line_number = line_number
            elif len(columns) != n_columns:
                raise ValueError(
                    f"{where}expected {n_columns} column(s) as on line "
                    f"{first_line_number}, found {len(columns)} in {line!r}"
                )
            words.append(columns[0])
            if n_columns > 1:
                tag = columns[-1]
                if not _TAG_PATTERN.fullmatch(tag):
                    raise ValueError(
                        f"{where}invalid tag {tag!r}: expected O, B-TYPE or I-TYPE"
                    )
                tags.append(tag)
    if words:
        yield words, (tags if n_columns > 1 else None)


def _iob_to_spans(tags: List[str]) -> List[Tuple[int, int, str]]:
    """Decode IOB1 or IOB2 tags into (start, end, label) token spans.

    One rule serves both schemes: B- always begins an entity, and I- continues
    the open entity of its type or else begins one. That is how IOB1 reads, and
    IOB2, which writes B- at every entity start, reads the same under it. Like
    conlleval, it takes the sentence-initial I- tags of CoNLL-2002 Spanish, and
    the I- tags after a "#" tagged O in PAN-X ja/zh, as entity starts.
    """
    spans = []
    start = 0
    label = ""
    for i, tag in enumerate(tags):
        prefix, _, tag_label = tag.partition("-")
        if prefix == "I" and tag_label == label:
            continue
        if label:
            spans.append((start, i, label))
        start = i
        label = tag_label
    if label:
        spans.append((start, len(tags), label))
    return spans


def convert_file(
    input_path: Path, output_path: Path, *, lang: str, limit: int = 0
) -> int:
    """Convert a token-per-line file to a .spacy file and return the doc count."""
    docs = read_conll_docs(input_path, spacy.blank("xx").vocab, lang, limit=limit)
    if not docs:
        raise ValueError(f"No sentences found in {input_path}")
    output_path = Path(output_path)
    output_path.parent.mkdir(parents=True, exist_ok=True)
    DocBin(docs=docs, store_user_data=True).to_disk(output_path)
    return len(docs)


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
    files = _find_docbin_files(path)
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


def read_references(path: Path, vocab: Vocab, limit: int) -> Iterator[Doc]:
    """The non-empty docs of a .spacy file, the first `limit` of them (0: all), checked.

    Empty docs are skipped, as spaCy's Corpus skips them: they hold nothing to learn.
    """
    try:
        doc_bin = DocBin().from_disk(path)
    except ValueError as error:
        raise ValueError(f"{path} is not a readable .spacy file: {error}") from error
    n_docs = 0
    for index, doc in enumerate(doc_bin.get_docs(vocab)):
        if not len(doc):
            continue
        check_gold_spans(doc, path, index)
        yield doc
        n_docs += 1
        if n_docs == limit:
            return


def check_gold_spans(doc: Doc, path: Path, index: int) -> None:
    """Refuse span groups that would be lost because gold entities are read from `Doc.ents`.

    A DocBin can carry overlapping (nested) entities in `Doc.spans`, which
    `Doc.ents` cannot hold, and a doc may carry its entities only there. Rather
    than train on a silently flattened or empty annotation, name the file, the
    doc and the spans. (`convert` reads IOB tags, which cannot overlap.)
    """
    for key, group in doc.spans.items():
        spans = sorted(group, key=lambda span: (span.start, span.end))
        for before, after in zip(spans, spans[1:]):
            if after.start < before.end:
                raise ValueError(
                    f"{path}: doc {index} has overlapping spans in doc.spans[{key!r}]: "
                    f"{_describe(before)} and {_describe(after)}. spacy_mclner trains on Doc.ents, "
                    "which cannot overlap; put one span of each overlapping pair into doc.ents, "
                    "or delete the group if it is not gold"
                )
        if spans and not doc.has_annotation("ENT_IOB"):
            raise ValueError(
                f"{path}: doc {index} has no Doc.ents annotation but {len(spans)} span(s) in "
                f"doc.spans[{key!r}], such as {_describe(spans[0])}. spacy_mclner trains on Doc.ents; "
                "set doc.ents from the spans (doc.ents = doc.spans[key]), or delete the group if it is not gold"
            )


def _describe(span: Span) -> str:
    return f"{span.text!r} (tokens {span.start}-{span.end}, {span.label_ or 'no label'})"


def example_from_reference(reference: Doc) -> Example:
    """Pair a reference with an unannotated doc of the same tokens and language.

    This is what spaCy's Corpus does with gold_preproc, except that Corpus
    splits docs with sentence starts (every one-token doc has one) into new
    docs, which loses the language in user_data.
    """
    predicted = Doc(
        reference.vocab,
        words=[token.text for token in reference],
        spaces=[bool(token.whitespace_) for token in reference],
    )
    lang = get_doc_lang(reference)
    if lang is not None:
        set_doc_lang(predicted, lang)
    return Example(predicted, reference)


def _find_docbin_files(path: Union[str, Path]) -> List[Path]:
    """Expand a .spacy file, a folder of them or a comma-separated list of both."""
    locations = [Path(part.strip()) for part in str(path).split(",") if part.strip()]
    if not locations:
        raise ValueError(f"No corpus path given in {str(path)!r}")
    files: List[Path] = []
    for location in locations:
        if location.is_dir():
            found = sorted(location.glob("*.spacy"))
            if not found:
                raise ValueError(f"No .spacy files in corpus folder {location}")
            files.extend(found)
        elif location.is_file():
            if location.suffix != ".spacy":
                raise ValueError(f"Expected a .spacy file, got {location}")
            files.append(location)
        else:
            raise FileNotFoundError(f"Corpus path not found: {location}")
    return files
