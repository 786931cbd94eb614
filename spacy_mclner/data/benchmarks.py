"""Where the benchmarks' files lie, and how their public downloads are laid out the same way.

The project reads one layout of benchmark files (the README's "Data" section):

    conll2003/{en,de}/SPLIT   conll2002/{es,nl}/SPLIT   panx/LANG/SPLIT

one token and its tag a line (tab- or space-separated, tag last), a blank
line after each sentence. The project's assets download the public sources;
unpack_public_sources lays the archives among them out like this, so a copy
on disk and a fresh download are read by the same commands.
"""
import hashlib
import io
import tarfile
import zipfile
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

from ..util import blank_vocab, written_whole
from .corpus import convert_file, read_conll_docs, remove_other_dev_files

BENCHMARKS = ("conll", "panx")
_CONLL_FOLDERS = {"en": "conll2003/en", "de": "conll2003/de", "es": "conll2002/es", "nl": "conll2002/nl"}
# Public archives (see project.yml's assets) and the splits taken from them.
CONLL2003_ZIP = "conll2003.zip"
PANX_ZIP = "panx_dataset.zip"
_CONLL2003_MEMBERS = {"train.txt": "train", "valid.txt": "dev"}
_PANX_SPLITS = ("train", "dev")
# Size and SHA-256 of the files the assets fetch as they are, as Hugging Face's `conll2002`
# loader records them for the same addresses (its dataset_infos.json). The archives'
# digests are not published for the addresses the assets use.
PUBLISHED_FILES: Dict[str, Tuple[int, str]] = {
    "conll2002/es/train": (2970825, "a20d95cab7d88a19a86f8c1ad6329325c99fbd9529ed978cbd7e31d4b01b4008"),
    "conll2002/es/dev": (594058, "85c17793b77881c53d19017d9d0f1e6fb98b7ddcab54a5f24b05ed1793103c87"),
    "conll2002/nl/train": (2377174, "0a419dcb356b62c8cff38515675550b3d5dbea9f45a1c4956328dbd5cc7fcdbc"),
    "conll2002/nl/dev": (450785, "51259d4bfe52462f211d3d0b67173a7ecbfa296e199f6c6bd0895f4c78155057"),
}


def benchmark_file(data_dir: Path, benchmark: str, lang: str, split: str) -> Path:
    """The path of one split of one language of a benchmark, checked to exist."""
    if benchmark == "conll":
        if lang not in _CONLL_FOLDERS:
            raise ValueError(f"CoNLL has no {lang!r} data: it covers {', '.join(_CONLL_FOLDERS)}")
        folder = _CONLL_FOLDERS[lang]
    elif benchmark == "panx":
        folder = f"panx/{lang}"
    else:
        raise ValueError(f"Unknown benchmark {benchmark!r}: expected one of {', '.join(BENCHMARKS)}")
    path = Path(data_dir) / folder / split
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: the {split} split of {benchmark} {lang!r} in the data folder {data_dir} "
            "(laid out as its README says; see the project's `data` variable)"
        )
    return path


def convert_benchmark(
    data_dir: Path,
    out_dir: Path,
    *,
    benchmark: str,
    source: str,
    targets: Sequence[str],
    train_limit: int = 0,
) -> Dict[str, int]:
    """Write OUT/train.spacy from the source's train split and OUT/dev/LANG.spacy
    from the dev split of the source and of each target; return the doc counts.

    All input files are checked before anything is written. Other .spacy files
    in OUT/dev, left by a run with other targets, are removed, since every file
    there is scored.
    """
    langs = list(dict.fromkeys([source, *targets]))
    jobs: List[Tuple[Path, Path, str, int]] = [
        (benchmark_file(data_dir, benchmark, source, "train"), out_dir / "train.spacy", source, train_limit)
    ]
    jobs += [
        (benchmark_file(data_dir, benchmark, lang, "dev"), out_dir / "dev" / f"{lang}.spacy", lang, 0) for lang in langs
    ]
    remove_other_dev_files(out_dir / "dev", langs)
    return {
        str(output.relative_to(out_dir)): convert_file(input_path, output, lang=lang, limit=limit)
        for input_path, output, lang, limit in jobs
    }


def unpack_public_sources(
    raw_dir: Path, data_dir: Path, *, panx_langs: Optional[Sequence[str]] = None
) -> List[Path]:
    """Lay out the downloaded archives in raw_dir under data_dir; return the files written.

    - conll2003.zip (train.txt, valid.txt): conll2003/en/{train,dev}
    - panx_dataset.zip (LANG.tar.gz with train, dev, test of `LANG:token<TAB>tag`
      lines): panx/LANG/{train,dev} without the `LANG:` prefixes, for the
      languages in panx_langs (None: all). Target test sets stay packed: the
      protocol picks and reports on dev.
    - every target's train split (PAN-X but English, and the CoNLL-2002 es / nl
      train files the assets fetch) also as LANG/unlabeled, its tokens without
      tags, which self-training reads: targets contribute no label.

    CoNLL-2002 files need no unpacking, but each one present is checked against
    its published size and SHA-256 (PUBLISHED_FILES) before anything is written.
    CoNLL-2003 German is not public.
    """
    for relative, (size, digest) in PUBLISHED_FILES.items():
        if (data_dir / relative).is_file():
            check_published_file(data_dir / relative, size, digest)
    written: List[Path] = []
    found: set = set()
    conll_zip = raw_dir / CONLL2003_ZIP
    panx_zip = raw_dir / PANX_ZIP
    if not conll_zip.is_file() and not panx_zip.is_file():
        raise FileNotFoundError(f"Neither {conll_zip} nor {panx_zip} found: fetch them with the project's assets")
    if conll_zip.is_file():
        with zipfile.ZipFile(conll_zip) as archive:
            members = {Path(name).name: name for name in archive.namelist()}
            for member, split in _CONLL2003_MEMBERS.items():
                if member not in members:
                    raise ValueError(f"{conll_zip} holds no {member}")
                written.append(_write(data_dir / "conll2003" / "en" / split, archive.read(members[member])))
    if panx_zip.is_file():
        wanted = set(panx_langs) if panx_langs is not None else None
        for lang, split, lines in _panx_files(panx_zip, wanted):
            found.add(lang)
            written.append(_write(data_dir / "panx" / lang / split, lines))
        missing = sorted((wanted or set()) - found)
        if missing:
            raise ValueError(f"{panx_zip} has no data for {', '.join(missing)}")
    targets = [(f"conll2002/{lang}", lang) for lang in ("es", "nl")] + [(f"panx/{lang}", lang) for lang in sorted(found)]
    for folder, lang in targets:
        train = data_dir / folder / "train"
        if lang != "en" and train.is_file():
            written.append(write_unlabeled(train, data_dir / folder / "unlabeled", lang))
    return written


def check_published_file(path: Path, size: int, digest: str) -> None:
    """Raise if a downloaded file is not the published one (a changed mirror, a cut download)."""
    content = path.read_bytes()
    found = hashlib.sha256(content).hexdigest()
    if len(content) != size or found != digest:
        raise ValueError(
            f"{path} is not the published file: {len(content)} bytes with SHA-256 {found}, expected "
            f"{size} bytes with SHA-256 {digest}. Fetch it again (`python -m spacy project assets`) "
            "or put the published file there."
        )


def write_unlabeled(train: Path, output: Path, lang: str) -> Path:
    """A labelled file's tokens without tags: one token a line, a blank line after each sentence."""
    docs = read_conll_docs(train, blank_vocab(), lang)
    return _write(output, "".join("\n".join(token.text for token in doc) + "\n\n" for doc in docs).encode("utf8"))


def _panx_files(panx_zip: Path, langs: Optional[set]) -> Iterator[Tuple[str, str, bytes]]:
    """(language, split, file content without `LANG:` prefixes) from XTREME's PAN-X archive."""
    with zipfile.ZipFile(panx_zip) as archive:
        for name in archive.namelist():
            if not name.endswith(".tar.gz"):
                continue
            lang = Path(name).name[: -len(".tar.gz")]
            if langs is not None and lang not in langs:
                continue
            with tarfile.open(fileobj=io.BytesIO(archive.read(name)), mode="r:gz") as tar:
                for member in tar.getmembers():
                    split = Path(member.name).name
                    if member.isfile() and split in _PANX_SPLITS:
                        content = tar.extractfile(member).read()  # type: ignore[union-attr]
                        yield lang, split, _strip_lang_prefixes(content, lang, f"{panx_zip}:{name}:{split}")


def _strip_lang_prefixes(content: bytes, lang: str, where: str) -> bytes:
    """Drop the `LANG:` that PAN-X puts before every token."""
    prefix = f"{lang}:".encode("utf8")
    lines = []
    for line_number, line in enumerate(content.splitlines(), start=1):
        if line.strip():
            if not line.startswith(prefix):
                raise ValueError(f"{where}:{line_number}: expected a line starting with {prefix.decode()!r}, got {line[:40]!r}")
            line = line[len(prefix) :]
        lines.append(line)
    return b"\n".join(lines) + b"\n"


def _write(path: Path, content: bytes) -> Path:
    with written_whole(path) as partial:
        partial.write_bytes(content)
    return path
