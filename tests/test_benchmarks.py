"""The benchmark layout: converting a source and its targets, unpacking public downloads."""
import hashlib
import io
import tarfile
import zipfile
from pathlib import Path
from typing import Dict

import pytest
import spacy
from spacy.tokens import DocBin

from spacy_mclner.data import benchmarks
from spacy_mclner.data.annotations import get_doc_lang
from spacy_mclner.data.benchmarks import convert_benchmark, unpack_public_sources
from spacy_mclner.data.corpus import read_conll_docs

SENTENCES = {
    "en": ["Angela\tB-PER", "Merkel\tI-PER", "visited\tO", "Paris\tB-LOC", ".\tO"],
    "de": ["Angela\tB-PER", "Merkel\tI-PER", "besuchte\tO", "Paris\tB-LOC", ".\tO"],
    "es": ["Angela\tB-PER", "Merkel\tI-PER", "visitó\tO", "París\tB-LOC", ".\tO"],
    "nl": ["Angela\tB-PER", "Merkel\tI-PER", "bezocht\tO", "Parijs\tB-LOC", ".\tO"],
}
CONLL_FOLDERS = {"en": "conll2003/en", "de": "conll2003/de", "es": "conll2002/es", "nl": "conll2002/nl"}


def write_tiny_benchmark(data_dir: Path, n_sentences: int = 4) -> Dict[str, Path]:
    """A CoNLL-shaped data folder: en train and dev, de/es/nl dev and unlabeled, one sentence repeated."""
    written = {}
    for lang, lines in SENTENCES.items():
        text = "\n\n".join(["\n".join(lines)] * n_sentences) + "\n"
        tokens = "\n\n".join(["\n".join(line.split()[0] for line in lines)] * n_sentences) + "\n"
        splits = ("train", "dev") if lang == "en" else ("dev", "unlabeled")
        for split in splits:
            path = data_dir / CONLL_FOLDERS[lang] / split
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(tokens if split == "unlabeled" else text, encoding="utf8")
            written[f"{lang}/{split}"] = path
    return written


def read_docs(path: Path):
    return list(DocBin().from_disk(path).get_docs(spacy.blank("xx").vocab))


def test_convert_source_and_targets(tmp_path: Path):
    write_tiny_benchmark(tmp_path / "data")
    out = tmp_path / "corpus"
    (out / "dev").mkdir(parents=True)
    (out / "dev" / "fr.spacy").write_bytes(b"stale")
    counts = convert_benchmark(tmp_path / "data", out, benchmark="conll", source="en", targets=["de", "nl"], train_limit=3)
    assert counts == {"train.spacy": 3, "dev/en.spacy": 4, "dev/de.spacy": 4, "dev/nl.spacy": 4}
    assert sorted(p.name for p in (out / "dev").iterdir()) == ["de.spacy", "en.spacy", "nl.spacy"]
    docs = read_docs(out / "dev" / "nl.spacy")
    assert {get_doc_lang(doc) for doc in docs} == {"nl"}
    assert [(ent.text, ent.label_) for ent in docs[0].ents] == [("Angela Merkel", "PER"), ("Parijs", "LOC")]


def test_convert_names_what_is_missing(tmp_path: Path):
    write_tiny_benchmark(tmp_path / "data")
    with pytest.raises(FileNotFoundError, match=r"panx/de/train not found: the train split of panx 'de'"):
        convert_benchmark(tmp_path / "data", tmp_path / "out", benchmark="panx", source="de", targets=["en"])
    with pytest.raises(ValueError, match="CoNLL has no 'fr' data"):
        convert_benchmark(tmp_path / "data", tmp_path / "out", benchmark="conll", source="en", targets=["fr"])
    with pytest.raises(ValueError, match="Unknown benchmark 'wnut'"):
        convert_benchmark(tmp_path / "data", tmp_path / "out", benchmark="wnut", source="en", targets=["de"])
    assert not (tmp_path / "out").exists()


def tar_gz(files: Dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode("utf8")
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def write_public_downloads(raw: Path) -> None:
    """Archives shaped like the public CoNLL-2003 and PAN-X downloads."""
    raw.mkdir(parents=True)
    conll = "-DOCSTART- -X- -X- O\n\nEU NNP B-NP I-ORG\nrejects VBZ B-VP O\nGerman JJ B-NP I-MISC\n.  . O O\n"
    with zipfile.ZipFile(raw / "conll2003.zip", "w") as archive:
        for name in ("train.txt", "valid.txt", "test.txt", "metadata"):
            archive.writestr(name, conll)
    de = "de:Anton\tB-PER\nde:Wilhelm\tI-PER\nde:in\tO\nde:Köln:Süd\tB-LOC\n\nde:Ja\tO\n"
    bad = "sw:Nairobi\tB-LOC\nNairobi\tB-LOC\n"
    with zipfile.ZipFile(raw / "panx_dataset.zip", "w") as archive:
        archive.writestr("de.tar.gz", tar_gz({"train": de, "dev": de, "test": de}))
        archive.writestr("sw.tar.gz", tar_gz({"dev": bad}))


def test_unpack_lays_out_public_downloads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    write_public_downloads(tmp_path / "raw")
    spanish = tmp_path / "data" / "conll2002" / "es" / "train"  # fetched as it is by the assets
    spanish.parent.mkdir(parents=True)
    spanish.write_text("-DOCSTART- O\n\nLa O\nCoruña B-LOC\n\nEl O\n", encoding="utf8")
    content = spanish.read_bytes()
    published = {"conll2002/es/train": (len(content), hashlib.sha256(content).hexdigest())}
    monkeypatch.setattr(benchmarks, "PUBLISHED_FILES", published)
    written = unpack_public_sources(tmp_path / "raw", tmp_path / "data", panx_langs=["de"])
    relative = sorted(str(path.relative_to(tmp_path / "data")) for path in written)
    assert relative == [
        "conll2002/es/unlabeled", "conll2003/en/dev", "conll2003/en/train", "panx/de/dev", "panx/de/train", "panx/de/unlabeled"
    ]
    assert (tmp_path / "data" / "panx" / "de" / "unlabeled").read_text(encoding="utf8") == "Anton\nWilhelm\nin\nKöln:Süd\n\nJa\n\n"
    assert (tmp_path / "data" / "conll2002" / "es" / "unlabeled").read_text(encoding="utf8") == "La\nCoruña\n\nEl\n\n"
    vocab = spacy.blank("xx").vocab
    [en] = read_conll_docs(tmp_path / "data" / "conll2003" / "en" / "train", vocab, "en")
    assert [(ent.text, ent.label_) for ent in en.ents] == [("EU", "ORG"), ("German", "MISC")]
    de = read_conll_docs(tmp_path / "data" / "panx" / "de" / "dev", vocab, "de")
    assert [(ent.text, ent.label_) for ent in de[0].ents] == [("Anton Wilhelm", "PER"), ("Köln:Süd", "LOC")]
    assert len(de) == 2
    with pytest.raises(ValueError, match=r"panx_dataset.zip:sw.tar.gz:dev:2: expected a line starting with 'sw:'"):
        unpack_public_sources(tmp_path / "raw", tmp_path / "data2", panx_langs=["sw"])
    with pytest.raises(ValueError, match="has no data for fr"):
        unpack_public_sources(tmp_path / "raw", tmp_path / "data3", panx_langs=["de", "fr"])
    with pytest.raises(FileNotFoundError, match="fetch them with the project's assets"):
        unpack_public_sources(tmp_path / "nothing", tmp_path / "data4")


def test_unpack_refuses_a_conll2002_file_that_is_not_the_published_one(tmp_path: Path):
    write_public_downloads(tmp_path / "raw")
    dutch = tmp_path / "data" / "conll2002" / "nl" / "dev"
    dutch.parent.mkdir(parents=True)
    dutch.write_text("De O\nHaag B-LOC\n", encoding="utf8")
    with pytest.raises(ValueError, match=r"conll2002/nl/dev is not the published file: 16 bytes .* expected 450785 bytes"):
        unpack_public_sources(tmp_path / "raw", tmp_path / "data", panx_langs=["de"])
    assert not (tmp_path / "data" / "conll2003").exists()  # nothing written
