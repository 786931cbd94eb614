"""`spacy train` with the shipped configs, on tiny data and the 2-layer encoder."""
from pathlib import Path

import pytest
import spacy
from spacy.cli.train import train
from spacy.tokens import DocBin
from spacy.training import Example
from spacy.util import load_config, load_model_from_config

from spacy_mclner.corpus import set_doc_lang

CONFIGS = sorted((Path(__file__).parent.parent / "configs").glob("*.cfg"))
SENTENCES = [
    ("Angela Merkel besuchte Paris .", [(0, 13, "PER"), (23, 28, "LOC")]),
    ("Siemens baut in München .", [(0, 7, "ORG"), (16, 23, "LOC")]),
]


@pytest.mark.parametrize("config_path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_configs_build_a_pipeline(config_path: Path):
    nlp = load_model_from_config(load_config(config_path), auto_fill=True)
    assert nlp.pipe_names in (["mclner"], ["ner"])


def write_corpus(path: Path, lang: str) -> None:
    nlp = spacy.blank("xx")
    docs = []
    for text, ents in SENTENCES:
        doc = Example.from_dict(nlp.make_doc(text), {"entities": ents}).reference
        set_doc_lang(doc, lang)
        docs.append(doc)
    path.parent.mkdir(parents=True, exist_ok=True)
    DocBin(docs=docs, store_user_data=True).to_disk(path)


@pytest.mark.parametrize("config_name", ["mclner", "ner_baseline"])
def test_spacy_train_runs_and_the_output_loads(config_name: str, encoder_dir: Path, tmp_path: Path):
    write_corpus(tmp_path / "train.spacy", "en")
    write_corpus(tmp_path / "dev" / "en.spacy", "en")
    write_corpus(tmp_path / "dev" / "de.spacy", "de")
    overrides = {
        "paths.train": str(tmp_path / "train.spacy"),
        "paths.dev": str(tmp_path / "dev"),
        "paths.encoder": str(encoder_dir),
        "training.max_steps": 3,
        "training.eval_frequency": 3,
    }
    train(Path(__file__).parent.parent / "configs" / f"{config_name}.cfg", tmp_path / "out", overrides=overrides)
    meta = spacy.util.load_meta(tmp_path / "out" / "model-best" / "meta.json")
    assert set(meta["performance"]["ents_per_lang"]) == {"en", "de"}
    nlp = spacy.load(tmp_path / "out" / "model-best")
    doc = nlp("Angela Merkel besuchte Paris .")
    assert all(ent.label_ in {"PER", "LOC", "ORG"} for ent in doc.ents)
