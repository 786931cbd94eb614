from pathlib import Path

import pytest
import spacy
from spacy.tokens import DocBin
from spacy.training import Example

from spacy_mclner.data.annotations import set_doc_lang
from spacy_mclner.evaluation.evaluate import evaluate_pipeline


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


def write_tsv(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "Angela\tB-PER\nMerkel\tI-PER\nbesuchte\tO\nParis\tB-LOC\n.\tO\n\n"
        "Siemens\tB-ORG\nbaut\tO\nin\tO\nMünchen\tB-LOC\n.\tO\n",
        encoding="utf8",
    )


def ruler_nlp() -> spacy.language.Language:
    nlp = spacy.blank("xx")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "LOC", "pattern": "Paris"}, {"label": "MISC", "pattern": "Siemens"}])
    return nlp


def test_token_label_files_are_scored_with_the_language_of_their_name(tmp_path: Path):
    write_tsv(tmp_path / "nl-test.tsv")
    write_tsv(tmp_path / "sw" / "dev")
    write_dev(tmp_path / "de.spacy", "de")
    paths = [tmp_path / "nl-test.tsv", tmp_path / "sw" / "dev", tmp_path / "de.spacy"]
    scores = evaluate_pipeline(ruler_nlp(), paths)
    assert set(scores["ents_per_lang"]) == {"de", "nl", "sw"}
    for lang in ("de", "nl", "sw"):
        assert scores["ents_per_lang"][lang]["p"] == pytest.approx(0.5)
        assert scores["ents_per_lang"][lang]["r"] == pytest.approx(0.25)
    forced = evaluate_pipeline(ruler_nlp(), [tmp_path / "nl-test.tsv"], lang="af")
    assert set(forced["ents_per_lang"]) == {"af"}


def test_seqeval_report_per_language_and_type(tmp_path: Path):
    write_dev(tmp_path / "de.spacy", "de")
    write_tsv(tmp_path / "nl.tsv")
    scores = evaluate_pipeline(ruler_nlp(), [tmp_path / "de.spacy", tmp_path / "nl.tsv"])
    for lang in ("de", "nl"):
        table = scores["seqeval"][lang]
        assert set(table) == {"LOC", "MISC", "ORG", "PER", "all"}
        assert table["LOC"] == {"p": 1.0, "r": 0.5, "f": pytest.approx(2 / 3), "support": 2}
        assert table["MISC"] == {"p": 0.0, "r": 0.0, "f": 0.0, "support": 0}
        assert table["all"]["support"] == 4
        for key in ("p", "r", "f"):  # seqeval and the project's scorer agree
            assert table["all"][key] == pytest.approx(scores["ents_per_lang"][lang][key])


def test_spacy_docs_without_a_language_take_the_file_name(tmp_path: Path):
    nlp = spacy.blank("xx")
    doc = Example.from_dict(nlp.make_doc("Paris ."), {"entities": [(0, 5, "LOC")]}).reference
    DocBin(docs=[doc]).to_disk(tmp_path / "es-mine.spacy")
    DocBin(docs=[doc]).to_disk(tmp_path / "mine.spacy")
    scores = evaluate_pipeline(ruler_nlp(), [tmp_path / "es-mine.spacy", tmp_path / "mine.spacy"])
    assert set(scores["ents_per_lang"]) == {"es", "xx"}
    assert scores["ents_per_lang"]["es"]["f"] == 1.0


def test_token_label_file_without_a_language_is_an_error(tmp_path: Path):
    write_tsv(tmp_path / "held-out" / "test.tsv")
    with pytest.raises(ValueError, match="Cannot tell the language of .*test.tsv: pass --lang"):
        evaluate_pipeline(ruler_nlp(), [tmp_path / "held-out" / "test.tsv"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="No .spacy files in corpus folder .*empty; give token<TAB>label files"):
        evaluate_pipeline(ruler_nlp(), [tmp_path / "empty"])
