"""Read corpora into Docs: CoNLL-style token/label files, .spacy files and raw text.

The benchmarks (CoNLL-2002/2003, PAN-X) come one token a line with its tag in
the last column and a blank line after each sentence. Every sentence becomes
one Doc that records its language in `doc.user_data`, so that scores can be
broken down by language after the docs went through a DocBin. The registered
readers that serve these docs to `spacy train` are in readers.py.
"""
import json
import re
from itertools import islice
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

from spacy.language import Language
from spacy.tokens import Doc, DocBin, Span
from spacy.training import Example
from spacy.vocab import Vocab

from ..util import Position, blank_vocab, positioned_lines, write_docbin
from .annotations import check_known_lang, get_doc_lang, set_doc_lang, validate_lang

DOCSTART = "-DOCSTART-"
# PAN-X ja and zh are split into characters, with "#" where the text had a
# space. Their tokens are kept as they are but joined without whitespace, so
# doc.text reads like the script itself (what subword tokenizers were trained
# on) instead of characters with spaces between them.
UNSPACED_LANGS = frozenset({"ja", "zh"})

_TAG_PATTERN = re.compile(r"O|[BI]-\S+")
_NAME_LANG = re.compile(r"[a-z]{2}")

# (words, tags) of one sentence; tags is None when the file has no labels.
_Sentence = Tuple[List[str], Optional[List[str]]]


def read_conll_docs(
    path: Union[str, Path], vocab: Vocab, lang: str, limit: int = 0
) -> List[Doc]:
    """Read a token-per-line file into one Doc per sentence.

    Labelled files set doc.ents from their IOB1 or IOB2 tags (tokens outside
    entities are marked O); token-only files give docs without NER annotation.
    limit (int): keep only the first N sentences; 0 keeps all.
    """
    validate_lang(lang)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Input file not found: {path}")
    return [doc for _, doc in islice(conll_docs(path, vocab, lang), limit or None)]


def conll_docs(path: Path, vocab: Vocab, lang: str, start: Position = Position(0, 1)) -> Iterator[Tuple[Position, Doc]]:
    """(where it begins, Doc) of each sentence of a token-per-line file, from `start` on; see read_conll_docs."""
    spaced = lang not in UNSPACED_LANGS
    for position, (words, tags) in _read_sentences(path, start):
        spaces = [spaced] * len(words)
        spaces[-1] = False
        doc = Doc(vocab, words=words, spaces=spaces)
        if tags is not None:
            spans = _iob_to_spans(tags)
            ents = [Span(doc, start, end, label) for start, end, label in spans]
            doc.set_ents(ents, default="outside")
        set_doc_lang(doc, lang)
        yield position, doc


def _read_sentences(path: Path, start: Position = Position(0, 1)) -> Iterator[Tuple[Position, _Sentence]]:
    """Yield the sentences of a file from `start` on, each with where its first line begins,
    checking each line as it goes.

    Lines are split on tabs when they hold one, else on whitespace; the token
    is the first column and the tag the last. The first token line fixes the
    number of columns (one column: a file without labels). Lines are decoded
    one by one so that a bad byte can be reported with its line number.
    """
    n_columns = 0
    first_line_number = 0
    words: List[str] = []
    tags: List[str] = []
    sentence_start = start
    for position, line in positioned_lines(path, start):
        line_number = position.line
        where = f"{path}:{line_number}: "
        if line and not line.strip():
            raise ValueError(
                f"{where}line holds only whitespace; sentences must be "
                "separated by empty lines"
            )
        if not line or line.split(maxsplit=1)[0] == DOCSTART:
            if words:
                yield sentence_start, (words, tags if n_columns > 1 else None)
                words, tags = [], []
            continue
        if not words:
            sentence_start = position
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
        yield sentence_start, (words, tags if n_columns > 1 else None)


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
    docs = read_conll_docs(input_path, blank_vocab(), lang, limit=limit)
    if not docs:
        raise ValueError(f"No sentences found in {input_path}")
    write_docbin(docs, output_path)
    return len(docs)


def docbin_docs(path: Path, vocab: Vocab) -> Iterator[Doc]:
    """The docs of a .spacy file as they are; an unreadable file is an error that names it."""
    try:
        doc_bin = DocBin().from_disk(path)
    except ValueError as error:
        raise ValueError(f"{path} is not a readable .spacy file: {error}") from error
    yield from doc_bin.get_docs(vocab)


def read_references(path: Path, vocab: Vocab, limit: int) -> Iterator[Doc]:
    """The non-empty docs of a .spacy file, the first `limit` of them (0: all), checked.

    Empty docs are skipped, as spaCy's Corpus skips them: they hold nothing to learn.
    """
    n_docs = 0
    for index, doc in enumerate(docbin_docs(path, vocab)):
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


def corpus_files(locations: Sequence[Union[str, Path]], *, docbin_only: bool = True) -> List[Path]:
    """Expand folders into their .spacy files (sorted) and keep files as they are.

    docbin_only: any other file is an error (training corpora); without it,
    token<TAB>label files pass too (evaluation reads both).
    """
    if not locations:
        raise ValueError("No corpus path given")
    files: List[Path] = []
    for location in map(Path, locations):
        if location.is_dir():
            found = sorted(location.glob("*.spacy"))
            if not found:
                hint = "" if docbin_only else "; give token<TAB>label files one by one"
                raise ValueError(f"No .spacy files in corpus folder {location}{hint}")
            files.extend(found)
        elif location.is_file():
            if docbin_only and location.suffix != ".spacy":
                raise ValueError(f"Expected a .spacy file, got {location}")
            files.append(location)
        else:
            raise FileNotFoundError(f"Corpus path not found: {location}")
    return files


def split_locations(path: Union[str, Path]) -> List[str]:
    """A config's corpus path: one location or a comma-separated list of them."""
    locations = [part.strip() for part in str(path).split(",") if part.strip()]
    if not locations:
        raise ValueError(f"No corpus path given in {str(path)!r}")
    return locations


def read_unlabeled(path: Union[str, Path], nlp: Language, lang: str, *, text: bool = False, limit: int = 0) -> List[Doc]:
    """Sentences to pseudo-label, one Doc each, recording `lang`.

    A token-per-line file (the benchmarks' `unlabeled` files; a labelled file's
    labels are dropped) or, with `text`, raw text one sentence a line, tokenised
    by the teacher's tokenizer after whitespace runs are collapsed (so no token
    is whitespace). A .jsonl file is raw text too, the `text` of each line's
    object. Blank lines are skipped. limit: the first N sentences (0: all).
    """
    check_known_lang(lang)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Unlabelled text file not found: {path}")
    docs = [doc for _, doc in islice(unlabeled_docs(path, nlp, lang, text=text), limit or None)]
    if not docs:
        raise ValueError(f"No sentences to pseudo-label in {path}: the file is empty")
    return docs


def unlabeled_docs(
    path: Path, nlp: Language, lang: str, *, text: bool = False, start: Position = Position(0, 1)
) -> Iterator[Tuple[Position, Doc]]:
    """(where it begins, Doc) of each sentence to pseudo-label, from `start` on; see read_unlabeled."""
    if text or path.suffix == ".jsonl":
        for position, line in positioned_texts(path, start):
            doc = nlp.make_doc(line)
            set_doc_lang(doc, lang)
            yield position, doc
    else:
        for position, doc in conll_docs(path, nlp.vocab, lang, start):
            yield position, example_from_reference(doc).predicted


def read_gold(path: Union[str, Path], nlp: Language, lang: str, limit: int = 0) -> List[Doc]:
    """Labelled sentences of `lang`: a .spacy file or folder (docs of other languages skipped) or a token<TAB>label file.

    limit: the first N docs of each file (0: all).
    """
    check_known_lang(lang)
    path = Path(path)
    if path.is_dir() or path.suffix == ".spacy":
        docs = [
            doc
            for file in corpus_files([path])
            for doc in read_references(file, nlp.vocab, limit)
            if get_doc_lang(doc) == lang
        ]
    else:
        docs = read_conll_docs(path, nlp.vocab, lang, limit=limit)
    if not docs:
        raise ValueError(f"No labelled {lang!r} sentences in {path}")
    return docs


def text_lines(path: Path) -> Iterator[str]:
    """Non-blank texts, whitespace runs collapsed, of a UTF-8 file: its lines, or a .jsonl file's
    `text` fields; bad bytes and bad JSON name their line."""
    for _, text in positioned_texts(path):
        yield text


def positioned_texts(path: Path, start: Position = Position(0, 1)) -> Iterator[Tuple[Position, str]]:
    """(where its line begins, text) of each text of text_lines, from `start` on."""
    for position, line in positioned_lines(path, start):
        if not line.strip():
            continue
        if path.suffix == ".jsonl":
            line, _ = jsonl_record(path, position.line, line)
        text = " ".join(line.split())
        if text:
            yield position, text


def remove_other_dev_files(dev_dir: Path, langs: Iterable[str]) -> None:
    """Delete the LANG.spacy files of other languages than `langs`, left by an earlier run:
    every file in a dev folder is scored."""
    keep = set(langs)
    if dev_dir.is_dir():
        for stale in dev_dir.glob("*.spacy"):
            if stale.stem not in keep:
                stale.unlink()


def read_labelled_docs(
    vocab: Vocab, paths: Sequence[Path], *, lang: Optional[str] = None, limit: int = 0
) -> List[Doc]:
    """Labelled docs of .spacy files, folders of them and token<TAB>label files, each with its language.

    A token<TAB>label file (CoNLL / PAN-X layout, IOB1 or IOB2) is converted on
    the fly; its language is `lang`, else the one its path names (see
    lang_from_path). Docs of .spacy files keep the language they record and
    take that one where they record none. `limit` keeps the first N docs of
    each file, so that every language of a folder stays in.
    """
    references: List[Doc] = []
    for path in corpus_files(paths, docbin_only=False):
        file_lang = lang or lang_from_path(path)
        if path.suffix == ".spacy":
            docs = list(read_references(path, vocab, limit))
            for doc in docs:
                if get_doc_lang(doc) is None and file_lang is not None:
                    set_doc_lang(doc, file_lang)
        elif file_lang is None:
            raise ValueError(
                f"Cannot tell the language of {path}: pass --lang, or name the file "
                "after it (de-test.tsv) or put it in a folder named after it (de/test)"
            )
        else:
            docs = read_conll_docs(path, vocab, file_lang, limit=limit)
        if not docs:
            raise ValueError(f"No documents in {path}")
        references.extend(docs)
    return references


def lang_from_path(path: Path) -> Optional[str]:
    """The two-letter language code that leads the file name (de-test.tsv,
    de.spacy, de_dev) or, failing that, names its folder (panx/de/dev)."""
    lead = re.split(r"[-_.]", path.name, maxsplit=1)[0]
    for candidate in (lead, path.parent.name):
        if _NAME_LANG.fullmatch(candidate):
            return candidate
    return None


def jsonl_record(path: Path, line_number: int, line: str) -> Tuple[str, Dict[str, Any]]:
    """(text, object) of one non-blank JSONL line; a bad line is an error naming it."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}:{line_number}: not a JSON object ({error.msg} at column {error.colno})") from None
    if not isinstance(record, dict) or not isinstance(record.get("text"), str):
        raise ValueError(f"{path}:{line_number}: expected a JSON object with a string field `text`")
    return record["text"], record
