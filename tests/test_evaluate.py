from pathlib import Path

import pytest
import spacy
from spacy.tokens import DocBin
from spacy.training import Example

from spacy_mclner.corpus import set_doc_lang
from spacy_mclner.evaluate import evaluate_pipeline


def write_dev(path: Path, lang: str) -> None:
    nlp = spacy.blank("xx")
    gold = [
        ("Angela Merkel besuchte Paris .", [(0, 13, "PER"), (23, 28, "LOC")]),
        ("Siemens baut in München .", [(0, 7, "ORG"), (16, 23, "LOC")]),
    ]
    docs = []
    for text, ents in gold:
        doc = Example.from_dict(nlp.make_doc(text), {"entities": ents}).reference
        set_doc_lang(doc, lang)
        docs.append(doc)
    DocBin(docs=docs, store_user_data=True).to_disk(path)


def test_any_ner_pipeline_is_scored_per_language(tmp_path: Path):
    write_dev(tmp_path / "de.spacy", "de")
    write_dev(tmp_path / "nl.spacy", "nl")
    nlp = spacy.blank("xx")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "LOC", "pattern": "Paris"}, {"label": "MISC", "pattern": "Siemens"}])
    scores = evaluate_pipeline(nlp, [tmp_path])
    assert set(scores["ents_per_lang"]) == {"de", "nl"}
    assert scores["ents_per_lang"]["de"]["p"] == pytest.approx(0.5)
    assert scores["ents_per_lang"]["de"]["r"] == pytest.approx(0.25)
    assert scores["speed"]["words"] == 20
    kept = evaluate_pipeline(nlp, [tmp_path], labels=["PER", "LOC", "ORG"])
    assert kept["ents_p"] == pytest.approx(1.0)
    assert kept["ents_r"] == pytest.approx(0.25)


def test_missing_data_is_named(tmp_path: Path):
    with pytest.raises((FileNotFoundError, ValueError), match="nowhere"):
        evaluate_pipeline(spacy.blank("xx"), [tmp_path / "nowhere.spacy"])
