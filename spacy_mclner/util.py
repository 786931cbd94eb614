"""Small helpers that several commands share: crash-safe writes, line-numbered reading, reports."""
import hashlib
import os
import shutil
import sys
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any, Iterable, Iterator, List, NamedTuple, Optional, Sequence, Tuple, Union

import srsly
from spacy.lang.xx import MultiLanguage
from spacy.tokens import Doc, DocBin
from spacy.vocab import Vocab, create_vocab

PARTIAL_SUFFIX = ".partial"
CACHE_ENV = "SPACY_MCLNER_CACHE"
DEFAULT_CACHE = Path("~/.cache/spacy_mclner")


def blank_vocab() -> Vocab:
    """The vocab of `spacy.blank("xx")`, made without a Language: creating one loads every spaCy
    entry point, spacy-transformers and its `transformers` import included, seconds of start-up
    that reading and writing corpora do not need."""
    return create_vocab(MultiLanguage.lang, MultiLanguage.Defaults)


def cache_dir() -> Path:
    """Where converted encoders and parsed dictionaries are kept: $SPACY_MCLNER_CACHE, else ~/.cache/spacy_mclner."""
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE).expanduser()


@contextmanager
def written_whole(path: Union[str, Path], *, folder: bool = False) -> Iterator[Path]:
    """A sibling path to write to, renamed to `path` only when the block ends without an error.

    A run killed in the middle leaves a `.partial` file, never a half-written `path` that a
    rerun (or the next workflow step) would take for a finished one. With `folder`, the
    block writes a folder: one that a killed run left is removed first, and so is this
    run's when the block fails.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + PARTIAL_SUFFIX)
    if folder:
        shutil.rmtree(partial, ignore_errors=True)
    try:
        yield partial
        os.replace(partial, path)
    finally:
        if folder:
            shutil.rmtree(partial, ignore_errors=True)
        elif partial.exists():
            partial.unlink()


def write_docbin(docs: Iterable[Doc], path: Union[str, Path]) -> None:
    """Write docs with their user_data (languages, views' alignments, teacher distributions), whole or not at all."""
    with written_whole(path) as partial:
        DocBin(docs=docs, store_user_data=True).to_disk(partial)


def write_json(path: Union[str, Path], data: Any) -> None:
    """Write JSON whole or not at all."""
    with written_whole(path) as partial:
        srsly.write_json(partial, data)


def numbered_lines(path: Path) -> Iterator[Tuple[int, str]]:
    """(line number, line without its line break) of a UTF-8 file; a bad byte is an error naming its line."""
    for position, line in positioned_lines(path):
        yield position.line, line


class Position(NamedTuple):
    """Where a line (or the document that it begins) is in its file, so that a shard can be read from
    there: its byte offset and number. (.spacy input: the doc's index, and line 0.)"""

    offset: int
    line: int


def positioned_lines(path: Path, start: Position = Position(0, 1)) -> Iterator[Tuple[Position, str]]:
    """(where the line begins, line without its line break) of a UTF-8 file, from the line at `start`
    on: a shard of a file is read without what comes before it. A bad byte is an error naming its line.

    Lines are decoded one by one so that the error can say where the file is broken.
    """
    offset, line_number = start
    with path.open("rb") as file_:
        file_.seek(offset)
        for raw_line in file_:
            try:
                line = raw_line.decode("utf8").rstrip("\r\n")
            except UnicodeDecodeError as err:
                raise ValueError(
                    f"{path}:{line_number}: not valid UTF-8 at byte {err.start + 1} ({err.reason})"
                ) from None
            yield Position(offset, line_number), line
            offset += len(raw_line)
            line_number += 1


def file_sha256(path: Union[str, Path]) -> str:
    """The SHA-256 of a file's bytes, read a block at a time."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as content:
        for block in iter(lambda: content.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def content_sha256(path: Union[str, Path]) -> str:
    """The SHA-256 of a file, or of a folder's files with their relative names: content, not times or place."""
    path = Path(path)
    if not path.is_dir():
        return file_sha256(path)
    digest = hashlib.sha256()
    for file in sorted(f for f in path.rglob("*") if f.is_file()):
        digest.update(f"{file.relative_to(path).as_posix()}\0{file_sha256(file)}\n".encode("utf8"))
    return digest.hexdigest()


def folder_mb(path: Union[str, Path]) -> float:
    """Size of a folder's files on disk, in MB (2**20 bytes)."""
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file()) / 2**20


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[Any]], aligns: str = "") -> List[str]:
    """The lines of a markdown table; `aligns` holds an l or r per column (default: the first left, the rest right)."""
    aligns = aligns or "l" + "r" * (len(header) - 1)
    if len(aligns) != len(header):
        raise ValueError(f"{len(header)} columns but {len(aligns)} alignments ({aligns!r})")
    rules = {"l": "---", "r": "---:"}
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(rules[a] for a in aligns) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def progress(iterable: Optional[Iterable] = None, *, total: Optional[int] = None, desc: str, unit: str = "doc") -> Any:
    """A progress bar on stderr (done, rate, time left) for work that runs longer than a few seconds.

    Silent when stderr is not a terminal (logs, CI, pipes). Iterate over it, or
    call `update(n)` on it; tqdm comes with spaCy.
    """
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, unit=unit, disable=not sys.stderr.isatty(), dynamic_ncols=True)


def headless_pyplot() -> ModuleType:
    """matplotlib.pyplot on the Agg backend, imported only when a chart is drawn."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    return pyplot
