"""`spacy train` with the shipped configs, on tiny data and the 2-layer encoder."""
from pathlib import Path
from typing import List

import pytest
import spacy
from spacy.cli.train import train
from spacy.tokens import Doc, DocBin
from spacy.training import Example
from spacy.util import load_config, load_model_from_config

from spacy_mclner.data.annotations import set_doc_lang
from spacy_mclner.data.codeswitch import codeswitch_docs
from spacy_mclner.data.dictionaries import BilingualDictionary

CONFIGS = sorted((Path(__file__).parent.parent / "configs").glob("*.cfg"))
SENTENCES = [
    ("Angela Merkel besuchte Paris .", [(0, 13, "PER"), (23, 28, "LOC")]),
    ("Siemens baut in München .", [(0, 7, "ORG"), (16, 23, "LOC")]),
]


@pytest.mark.parametrize("config_path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_configs_build_a_pipeline(config_path: Path):
    nlp = load_model_from_config(load_config(config_path), auto_fill=True)
    assert nlp.pipe_names in (["mclner"], ["ner"])


def write_corpus(path: Path, lang: str) -> List[Doc]:
    nlp = spacy.blank("xx")
    docs = []
    for text, ents in SENTENCES:
        doc = Example.from_dict(nlp.make_doc(text), {"entities": ents}).reference
        set_doc_lang(doc, lang)
        docs.append(doc)
    path.parent.mkdir(parents=True, exist_ok=True)
    DocBin(docs=docs, store_user_data=True).to_disk(path)
    return docs


@pytest.mark.parametrize("config_name", ["mclner", "mclner_multiview", "ner_baseline"])
def test_spacy_train_runs_and_the_output_loads(
    config_name: str, encoder_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
):
    sources = write_corpus(tmp_path / "train.spacy", "en")
    write_corpus(tmp_path / "dev" / "en.spacy", "en")
    write_corpus(tmp_path / "dev" / "de.spacy", "de")
    dictionary = BilingualDictionary("de", {"Paris": ["Parigi"], "baut": ["builds"], "München": ["Munich"]})
    views, _ = codeswitch_docs(sources, {"de": dictionary}, ["de"], seed=0, word_prob=1.0)
    DocBin(docs=views, store_user_data=True).to_disk(tmp_path / "views.spacy")
    overrides = {
        "paths.train": str(tmp_path / "train.spacy"),
        "paths.dev": str(tmp_path / "dev"),
        "paths.encoder": str(encoder_dir),
        "training.max_steps": 3,
        "training.eval_frequency": 3,
    }
    if config_name == "mclner_multiview":
        overrides["paths.views"] = str(tmp_path / "views.spacy")
    train(Path(__file__).parent.parent / "configs" / f"{config_name}.cfg", tmp_path / "out", overrides=overrides)
    if config_name == "mclner_multiview":
        table = capsys.readouterr().out
        header = next(line for line in table.splitlines() if line.startswith("E "))
        assert header.split()[2:8] == ["Loss", "mclner", "ce", "ce_view", "sc", "tc"]
        last_row = [line for line in table.splitlines() if line.strip().startswith("0 ")][-1].split()
        assert float(last_row[5]) > 0 and float(last_row[6]) > 0  # sc and tc were trained
    meta = spacy.util.load_meta(tmp_path / "out" / "model-best" / "meta.json")
    assert set(meta["performance"]["ents_per_lang"]) == {"en", "de"}
    nlp = spacy.load(tmp_path / "out" / "model-best")
    doc = nlp("Angela Merkel besuchte Paris .")
    assert all(ent.label_ in {"PER", "LOC", "ORG"} for ent in doc.ents)
