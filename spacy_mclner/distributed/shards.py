"""The shards of a distributed run: a plan that a rerun finds again, and what is left to do.

The input is cut into shards of `shard_size` consecutive documents, in the order `annotate`
reads them (a folder's files in sorted order), so the same input always gives the same
shards, and the same ones as the local engine's folder output. Each shard's output file is
written whole (`util.written_whole`), so a file in the output folder is a finished shard: a
rerun annotates the shards that have none, and a worker that died left at most a `.partial`
file, which is never taken for a finished one. `manifest.json` keeps the plan with the
input's fingerprint and the settings, so that a rerun on a changed input or with other
settings is refused instead of mixing two runs' outputs in one folder.
"""

from dataclasses import asdict, dataclass
from itertools import islice
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import srsly
from spacy.language import Language
from spacy.vocab import Vocab

from ..data.corpus import unlabeled_docs
from ..data.documents import file_documents, shard_id, writer_for
from ..pipeline.annotate import annotate_documents, score_attribute
from ..pipeline.mclner import MCLNER
from ..selftrain.pseudo_label import pseudo_label_docs
from ..util import Position, file_sha256, write_docbin, write_json

MANIFEST = "manifest.json"
# Bumped when the manifest's layout changes, so that an old folder is refused, not misread.
MANIFEST_VERSION = 1


@dataclass
class Segment:
    """A shard's documents in one input file: the file's index in the plan, where the first
    document begins, and how many follow from there."""

    file: int
    offset: int
    line: int
    docs: int


@dataclass
class Shard:
    """One unit of work, and one output file named after its id."""

    id: str
    segments: List[Segment]

    @property
    def docs(self) -> int:
        return sum(segment.docs for segment in self.segments)

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "Shard":
        return cls(data["id"], [Segment(**segment) for segment in data["segments"]])


@dataclass
class ShardPlan:
    """The input's files (as found by this run), their fingerprint, the run's settings and its shards."""

    files: List[Path]
    inputs: List[Dict[str, Any]]
    settings: Dict[str, Any]
    shards: List[Shard]

    def to_manifest(self) -> Dict[str, Any]:
        shards = [asdict(shard) for shard in self.shards]
        return {"version": MANIFEST_VERSION, "inputs": self.inputs, "settings": self.settings, "shards": shards}

    def output(self, folder: Path, shard: Shard) -> Path:
        return folder / f"{shard.id}.{self.settings['format']}"

    def pending(self, folder: Path) -> List[Shard]:
        """The shards without an output file: all of them in a first run, the unfinished ones in a rerun."""
        return [shard for shard in self.shards if not self.output(folder, shard).exists()]


def plan_shards(positions: Iterable[Tuple[int, Position]], shard_size: int) -> List[Shard]:
    """Consecutive documents, given by (file index, where it begins), in shards of `shard_size`."""
    shards: List[Shard] = []
    segments: List[Segment] = []
    n_docs = 0
    for file_index, position in positions:
        if n_docs == shard_size:
            shards.append(Shard(shard_id(len(shards)), segments))
            segments, n_docs = [], 0
        if not segments or segments[-1].file != file_index:
            segments.append(Segment(file_index, position.offset, position.line, 0))
        segments[-1].docs += 1
        n_docs += 1
    if segments:
        shards.append(Shard(shard_id(len(shards)), segments))
    return shards


def input_fingerprint(input_path: Path, files: Sequence[Path]) -> List[Dict[str, Any]]:
    """Each input file's name (within an input folder), size and SHA-256: what a rerun must find again.

    The content, not the path or the time it was written, so that an input copied to the
    cluster's shared storage is still the same input.
    """
    root = input_path if input_path.is_dir() else input_path.parent
    return [
        {"name": file.relative_to(root).as_posix(), "bytes": file.stat().st_size, "sha256": file_sha256(file)}
        for file in files
    ]


# Reads the documents of one input file from a position on, each with where it begins.
Reader = Callable[[Path, Position], Iterator[Tuple[Position, Any]]]


def shard_plan(
    input_path: Path,
    files: Sequence[Path],
    output_folder: Path,
    *,
    read: Reader,
    shard_size: int,
    settings: Dict[str, Any],
    limit: int = 0,
) -> ShardPlan:
    """The plan of the run into `output_folder`: the one its manifest keeps, or a new one written there.

    files: the input's files (`input_path` itself or those of a folder), read by `read`,
    the first `limit` documents (0: all). settings: what the outputs depend on besides the
    input (the task, the pipeline, the language, the output format...); a rerun must give
    the same, and the same `shard_size` and `limit`.
    """
    inputs = input_fingerprint(input_path, files)
    settings = {**settings, "shard_size": shard_size, "limit": limit}
    manifest_path = output_folder / MANIFEST
    if manifest_path.exists():
        manifest = srsly.read_json(manifest_path)
        _check_same_run(manifest, inputs, settings, output_folder)
        return ShardPlan(list(files), inputs, settings, [Shard.from_dict(shard) for shard in manifest["shards"]])
    if output_folder.exists() and any(output_folder.iterdir()):
        raise ValueError(
            f"{output_folder} holds files but no {MANIFEST}: it is not the output folder of a sharded run. "
            "Give a new or empty folder."
        )
    positions = ((index, position) for index, file in enumerate(files) for position, _ in read(file, Position(0, 1)))
    plan = ShardPlan(list(files), inputs, settings, plan_shards(islice(positions, limit or None), shard_size))
    write_json(manifest_path, plan.to_manifest())
    return plan


def _check_same_run(
    manifest: Dict[str, Any], inputs: List[Dict[str, Any]], settings: Dict[str, Any], folder: Path
) -> None:
    """Refuse a rerun whose input or settings differ from those of the run that the folder holds."""
    start_over = f"Write into a new folder, or delete {folder} to start over."
    if manifest.get("version") != MANIFEST_VERSION:
        raise ValueError(
            f"{folder / MANIFEST} has layout version {manifest.get('version')}, not {MANIFEST_VERSION}. {start_over}"
        )
    if manifest["inputs"] != inputs:
        before = {entry["name"]: entry for entry in manifest["inputs"]}
        now = {entry["name"]: entry for entry in inputs}
        if before.keys() != now.keys():
            change = f"its files were {sorted(before)}, they are now {sorted(now)}"
        else:
            change = "changed: " + ", ".join(name for name in now if now[name] != before[name])
        raise ValueError(f"The input is not the one whose outputs {folder} holds: {change}. {start_over}")
    if manifest["settings"] != settings:
        changes = [
            f"{key} {manifest['settings'].get(key)!r} there, {settings.get(key)!r} now"
            for key in sorted(set(manifest["settings"]) | set(settings))
            if manifest["settings"].get(key) != settings.get(key)
        ]
        raise ValueError(f"{folder} holds a run with other settings ({'; '.join(changes)}). {start_over}")


def shard_items(files: Sequence[Path], shard: Shard, read: Reader) -> Iterator[Any]:
    """The shard's documents as `read` gives them, read from where the shard begins in each file."""
    for segment in shard.segments:
        documents = read(files[segment.file], Position(segment.offset, segment.line))
        for _, document in islice(documents, segment.docs):
            yield document


def annotate_shard(
    nlp: Language, files: Sequence[Path], shard: Shard, output: Path, *, lang: Optional[str], batch_size: int
) -> Dict[str, int]:
    """Annotate one shard of the input `files` (annotate's formats) into `output`, written whole."""
    documents = shard_items(files, shard, document_reader(nlp.vocab))
    n_docs = n_words = 0
    with writer_for(output, score_attribute(nlp), shard.docs) as writer:
        for doc, record in annotate_documents(nlp, documents, lang=lang, batch_size=batch_size):
            writer.write(doc, record)
            n_docs += 1
            n_words += len(doc)
    return {"docs": n_docs, "words": n_words}


def pseudo_label_shard(
    nlp: Language,
    teacher: MCLNER,
    files: Sequence[Path],
    shard: Shard,
    output: Path,
    *,
    lang: str,
    text: bool,
    threshold: float,
    batch_size: int,
) -> Dict[str, int]:
    """Pseudo-label one shard of the unlabelled text `files` with `teacher` (a pipe of `nlp`): the kept
    sentences go to the .spacy file `output`, written whole."""
    docs = list(shard_items(files, shard, unlabeled_reader(nlp, lang, text)))
    labelled = pseudo_label_docs(teacher, docs, threshold=threshold, batch_size=batch_size)
    write_docbin([doc for doc in labelled if doc is not None], output)
    return {"docs": len(docs), "words": sum(len(doc) for doc in docs)}


def document_reader(vocab: Vocab) -> Reader:
    """The documents of an input file as `annotate` reads them (data.documents.read_documents)."""
    return lambda file, start: file_documents(file, vocab, start)


def unlabeled_reader(nlp: Language, lang: str, text: bool) -> Reader:
    """The sentences of an unlabelled text file as pseudo-labelling reads them (data.corpus.read_unlabeled)."""
    return lambda file, start: unlabeled_docs(file, nlp, lang, text=text, start=start)
