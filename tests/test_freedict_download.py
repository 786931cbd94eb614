"""The FreeDict files the code-switcher reads, provided without root: kept, copied from the system, or
taken from Debian's package (checked against its index, unpacked in Python)."""
import hashlib
import io
import lzma
import tarfile
from pathlib import Path

import pytest

from spacy_mclner.data import freedict_download
from spacy_mclner.data.freedict_download import deb_data_files, provide_freedict

FILES = {"freedict-eng-spa.index": b"casa\tA\tB\n", "freedict-eng-spa.dict.dz": b"not really gzip"}


def _ar(members) -> bytes:
    out = b"!<arch>\n"
    for name, content in members:
        out += f"{name + '/':<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(content):<10}`\n".encode("ascii") + content
        out += b"\n" if len(content) % 2 else b""
    return out


def _deb(files) -> bytes:
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w") as archive:
        for name, content in files.items():
            info = tarfile.TarInfo(f"./usr/share/dictd/{name}")
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return _ar([("debian-binary", b"2.0\n"), ("control.tar.xz", lzma.compress(b"x")), ("data.tar.xz", lzma.compress(tar_bytes.getvalue()))])


@pytest.fixture
def mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    deb = _deb(FILES)
    (tmp_path / "mirror" / "pool").mkdir(parents=True)
    (tmp_path / "mirror" / "pool" / "spa.deb").write_bytes(deb)
    monkeypatch.setitem(freedict_download.FREEDICT_DEBS, "spa", ("pool/spa.deb", len(deb), hashlib.sha256(deb).hexdigest()))
    return (tmp_path / "mirror").as_uri() + "/"


def test_a_debian_package_is_fetched_checked_and_unpacked(tmp_path: Path, mirror: str) -> None:
    sources = provide_freedict(["es", "zh"], tmp_path / "dicts", system_dir=tmp_path / "none", mirror=mirror)
    assert sources == {"es": mirror + "pool/spa.deb"}  # zh: Debian has no English-Chinese FreeDict
    assert {path.name: path.read_bytes() for path in (tmp_path / "dicts").iterdir()} == FILES
    assert provide_freedict(["es"], tmp_path / "dicts", system_dir=tmp_path / "none", mirror="file:///nowhere/") == {"es": "kept"}


def test_installed_dictionaries_are_copied(tmp_path: Path) -> None:
    system = tmp_path / "dictd"
    system.mkdir()
    for name, content in FILES.items():
        (system / name).write_bytes(content)
    assert provide_freedict(["es"], tmp_path / "dicts", system_dir=system, mirror="file:///nowhere/") == {"es": "system"}
    assert {path.name: path.read_bytes() for path in (tmp_path / "dicts").iterdir()} == FILES


def test_a_package_unlike_the_index_is_refused(tmp_path: Path, mirror: str, monkeypatch: pytest.MonkeyPatch) -> None:
    pool, size, _ = freedict_download.FREEDICT_DEBS["spa"]
    monkeypatch.setitem(freedict_download.FREEDICT_DEBS, "spa", (pool, size, "0" * 64))
    with pytest.raises(RuntimeError, match="is not the package Debian's index describes"):
        provide_freedict(["es"], tmp_path / "dicts", system_dir=tmp_path / "none", mirror=mirror)
    assert not (tmp_path / "dicts").exists() or not any((tmp_path / "dicts").iterdir())


def test_no_dictionary_anywhere_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError) as error:
        provide_freedict(["nl"], tmp_path / "dicts", system_dir=tmp_path / "none", mirror=(tmp_path / "no-mirror").as_uri() + "/")
    message = str(error.value)
    assert "dict-freedict-eng-nld" in message and "--vars.freedict_langs" in message and "freedict-eng-nld.index" in message


def test_the_pinned_packages_cover_every_freedict_language() -> None:
    from spacy_mclner.data.dictionaries import FREEDICT_CODES

    assert set(freedict_download.FREEDICT_DEBS) == set(FREEDICT_CODES.values())
    deb = _deb(FILES)
    assert deb_data_files(deb, {f"usr/share/dictd/{name}" for name in FILES}) == {f"usr/share/dictd/{n}": c for n, c in FILES.items()}
