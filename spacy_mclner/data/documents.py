"""Documents to annotate and annotated documents, read and written one at a time.

Input: plain text (one document a line), JSONL (an object with a `text` field a line;
its other fields travel with the document) or .spacy files. Output: JSONL (the input's
fields plus the entities with character and token offsets and scores) or .spacy.
Everything streams, so memory stays bounded whatever the input's size.
"""
import json
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Protocol, Tuple, Union

from spacy.tokens import Doc, DocBin
from spacy.vocab import Vocab

from ..util import Position, positioned_lines, written_whole
from .corpus import docbin_docs, jsonl_record

INPUT_SUFFIXES = (".txt", ".jsonl", ".spacy")
OUTPUT_SUFFIXES = (".jsonl", ".spacy")
# What a document to annotate is: its text (or a ready Doc) and the input record it came from.
Record = Dict[str, Any]


def input_files(path: Union[str, Path]) -> List[Path]:
    """A file, or a folder's .txt, .jsonl and .spacy files in sorted order."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in INPUT_SUFFIXES)
        if not files:
            raise ValueError(f"No .txt, .jsonl or .spacy files in input folder {path}")
        return files
    if not path.is_file():
        raise FileNotFoundError(f"Input not found: {path}")
    if path.suffix not in INPUT_SUFFIXES:
        raise ValueError(f"Cannot read {path}: expected a .txt (one document a line), .jsonl (a `text` field a line) or .spacy file")
    return [path]


def count_documents(path: Union[str, Path]) -> Optional[int]:
    """How many documents read_documents will yield, for a progress bar's time left.

    Counting text and JSONL lines is one fast pass over the files; a .spacy file would
    have to be loaded whole, so with one among the inputs the count is unknown (None).
    """
    files = input_files(path)
    if any(file.suffix == ".spacy" for file in files):
        return None
    total = 0
    for file in files:
        with file.open("rb") as lines:
            total += sum(1 for line in lines if line.strip())
    return total


def read_documents(path: Union[str, Path], vocab: Vocab) -> Iterator[Tuple[Union[str, Doc], Record]]:
    """(text or Doc, record) of every document under `path`, lazily; blank text lines are skipped."""
    for file in input_files(path):
        for _, document in file_documents(file, vocab):
            yield document


def file_documents(
    file: Path, vocab: Vocab, start: Position = Position(0, 1)
) -> Iterator[Tuple[Position, Tuple[Union[str, Doc], Record]]]:
    """(where it begins, (text or Doc, record)) of each document of one input file, from `start` on.

    A text or JSONL file is read from `start`'s byte offset; a .spacy file is loaded whole
    (a DocBin has no index) and its docs before `start` are skipped.
    """
    if file.suffix == ".spacy":
        docs = islice(docbin_docs(file, vocab), start.offset, None)
        for index, doc in enumerate(docs, start=start.offset):
            yield Position(index, 0), (doc, {})
        return
    for position, line in positioned_lines(file, start):
        if not line.strip():
            continue
        yield position, jsonl_record(file, position.line, line) if file.suffix == ".jsonl" else (line, {"text": line})


def entity_records(doc: Doc, score_attr: Optional[str]) -> List[Dict[str, Any]]:
    """The doc's entities with character and token offsets, and the score where the pipeline sets one."""
    records = []
    for ent in doc.ents:
        record = {
            "text": ent.text,
            "label": ent.label_,
            "start_char": ent.start_char,
            "end_char": ent.end_char,
            "start": ent.start,
            "end": ent.end,
        }
        if score_attr is not None:
            record["score"] = ent._.get(score_attr)
        records.append(record)
    return records


class JsonlWriter:
    """One JSON object a line: the input record, the text and its entities; streamed to a `.partial` file."""

    def __init__(self, path: Path, score_attr: Optional[str]) -> None:
        self._file = path.open("w", encoding="utf8")
        self._score_attr = score_attr

    def write(self, doc: Doc, record: Record) -> None:
        out = {**record, "text": doc.text, "ents": entity_records(doc, self._score_attr)}
        self._file.write(json.dumps(out, ensure_ascii=False) + "\n")

    def close(self) -> None:
        self._file.close()


class DocBinWriter:
    """The annotated docs with their user_data (languages, entity scores) in one .spacy file.

    A DocBin is written whole, so it grows in memory with the output (about the size
    of the file); DocBinShards bounds it.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._doc_bin = DocBin(store_user_data=True)

    def write(self, doc: Doc, record: Record) -> None:
        self._doc_bin.add(doc)

    def close(self) -> None:
        self._doc_bin.to_disk(self._path)


def shard_id(index: int) -> str:
    """The name of the index-th shard of a folder output, here and in the Ray engine's output (distributed/)."""
    return f"{index:05d}"


class DocBinShards:
    """The annotated docs as .spacy files of `shard_size` docs in a folder: memory holds one shard.

    Each shard is written whole or not at all, so the shards in the folder are all complete.
    """

    def __init__(self, folder: Path, shard_size: int) -> None:
        self._folder, self._shard_size = folder, shard_size
        self._doc_bin = DocBin(store_user_data=True)
        self._n_shards = 0

    def write(self, doc: Doc, record: Record) -> None:
        self._doc_bin.add(doc)
        if len(self._doc_bin) == self._shard_size:
            self.close()

    def close(self) -> None:
        """Write the shard in progress, if it holds any doc."""
        if len(self._doc_bin):
            with written_whole(self._folder / f"{shard_id(self._n_shards)}.spacy") as partial:
                self._doc_bin.to_disk(partial)
            self._doc_bin = DocBin(store_user_data=True)
            self._n_shards += 1


class Writer(Protocol):
    def write(self, doc: Doc, record: Record) -> None: ...

    def close(self) -> None: ...


@contextmanager
def writer_for(output: Path, score_attr: Optional[str], shard_size: int) -> Iterator[Writer]:
    """The writer for OUTPUT.jsonl, OUTPUT.spacy or a folder of .spacy shards; files appear only when whole."""
    if not output.suffix:
        output.mkdir(parents=True, exist_ok=True)
        shards = DocBinShards(output, shard_size)
        yield shards
        shards.close()
        return
    with written_whole(output) as partial:
        writer: Writer = JsonlWriter(partial, score_attr) if output.suffix == ".jsonl" else DocBinWriter(partial)
        try:
            yield writer
        finally:
            writer.close()
