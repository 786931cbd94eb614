"""`annotate`: text, JSONL or .spacy in; JSONL with offsets and scores, .spacy, or .spacy shards out."""
import json
from pathlib import Path

import pytest
import spacy
from spacy.tokens import DocBin
from typer.testing import CliRunner

from spacy_mclner.cli import app
from spacy_mclner.cli.annotate import annotate

SAVED = Path(__file__).parent / "fixtures" / "saved-pipeline"
TEXTS = ["Angela Merkel visited Paris .", "Barack Obama works for Google in New York .", "Google and Siemens ."]


def test_text_to_jsonl_keeps_the_pipeline_entities_with_offsets_and_scores(tmp_path: Path) -> None:
    (tmp_path / "in.txt").write_text("\n".join([TEXTS[0], "", *TEXTS[1:]]) + "\n", encoding="utf8")
    assert annotate(SAVED, tmp_path / "in.txt", tmp_path / "out.jsonl") == 3
    records = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf8").splitlines()]
    expected = list(spacy.load(SAVED).pipe(TEXTS))
    assert [record["text"] for record in records] == TEXTS
    for record, doc in zip(records, expected):
        assert [(e["start_char"], e["end_char"], e["label"], e["score"]) for e in record["ents"]] == [
            (ent.start_char, ent.end_char, ent.label_, ent._.mclner_score) for ent in doc.ents
        ]
        assert all(record["text"][e["start_char"] : e["end_char"]] == e["text"] for e in record["ents"])
    assert sum(len(record["ents"]) for record in records) > 0


def test_jsonl_fields_travel_and_spacy_output_keeps_language_and_scores(tmp_path: Path) -> None:
    lines = [json.dumps({"text": text, "id": i}) for i, text in enumerate(TEXTS)]
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n", encoding="utf8")
    annotate(SAVED, tmp_path / "in.jsonl", tmp_path / "out.jsonl")
    assert [json.loads(line)["id"] for line in (tmp_path / "out.jsonl").read_text().splitlines()] == [0, 1, 2]
    annotate(SAVED, tmp_path / "in.jsonl", tmp_path / "out.spacy", lang="de")
    nlp = spacy.load(SAVED)
    docs = list(DocBin().from_disk(tmp_path / "out.spacy").get_docs(nlp.vocab))
    assert [doc.user_data["mclner_lang"] for doc in docs] == ["de"] * 3
    assert [[ent._.mclner_score for ent in doc.ents] for doc in docs] == [
        [ent._.mclner_score for ent in doc.ents] for doc in nlp.pipe(TEXTS)
    ]
    # .spacy in: the same docs annotated again give the same entities.
    annotate(SAVED, tmp_path / "out.spacy", tmp_path / "again.jsonl")
    again = [json.loads(line) for line in (tmp_path / "again.jsonl").read_text().splitlines()]
    assert [[e["text"] for e in r["ents"]] for r in again] == [[ent.text for ent in doc.ents] for doc in docs]


def test_a_folder_output_is_written_in_shards(tmp_path: Path) -> None:
    (tmp_path / "in.txt").write_text("\n".join(TEXTS * 3) + "\n", encoding="utf8")
    assert annotate(SAVED, tmp_path / "in.txt", tmp_path / "shards", shard_size=4) == 9
    shards = sorted((tmp_path / "shards").glob("*.spacy"))
    assert [len(DocBin().from_disk(shard)) for shard in shards] == [4, 4, 1]


def test_a_bad_input_line_is_named_and_leaves_no_output(tmp_path: Path) -> None:
    (tmp_path / "in.jsonl").write_text(json.dumps({"text": TEXTS[0]}) + "\n{not json\n", encoding="utf8")
    with pytest.raises(ValueError, match=r"in.jsonl:2: not a JSON object"):
        annotate(SAVED, tmp_path / "in.jsonl", tmp_path / "out.jsonl")
    assert not (tmp_path / "out.jsonl").exists() and not (tmp_path / "out.jsonl.partial").exists()
    (tmp_path / "in.jsonl").write_text(json.dumps({"body": "x"}) + "\n", encoding="utf8")
    with pytest.raises(ValueError, match=r"in.jsonl:1: expected a JSON object with a string field `text`"):
        annotate(SAVED, tmp_path / "in.jsonl", tmp_path / "out.jsonl")
    result = CliRunner().invoke(app, ["annotate", str(SAVED), str(tmp_path / "in.jsonl"), str(tmp_path / "out.csv")])
    assert result.exit_code != 0 and "expected OUTPUT.jsonl, OUTPUT.spacy or a folder" in result.output
    with pytest.raises(ValueError, match="Cannot read .*in.csv: expected a .txt"):
        (tmp_path / "in.csv").write_text("a,b\n")
        annotate(SAVED, tmp_path / "in.csv", tmp_path / "out.jsonl")


def test_annotate_reads_its_input_lazily(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The reader is consumed as the pipeline goes, not read whole first: memory stays bounded."""
    from spacy_mclner.data import documents

    consumed = []
    real = documents.read_documents

    def counting(path, vocab):
        for item in real(path, vocab):
            consumed.append(item)
            yield item

    monkeypatch.setattr(documents, "read_documents", counting)
    (tmp_path / "in.txt").write_text("\n".join(TEXTS * 400) + "\n", encoding="utf8")
    seen_when_first_written = []
    real_write = documents.JsonlWriter.write

    def write(self, doc, record):
        seen_when_first_written.append(len(consumed))
        real_write(self, doc, record)

    monkeypatch.setattr(documents.JsonlWriter, "write", write)
    annotate(SAVED, tmp_path / "in.txt", tmp_path / "out.jsonl", batch_size=8)
    assert len(consumed) == 1200
    assert seen_when_first_written[0] < 1200  # the first doc was written before the input was read whole


def test_documents_are_counted_for_the_time_left(tmp_path: Path) -> None:
    from spacy_mclner.data.documents import count_documents

    (tmp_path / "a.txt").write_text("one\n\ntwo\n", encoding="utf8")
    (tmp_path / "b.jsonl").write_text('{"text": "three"}\n', encoding="utf8")
    assert count_documents(tmp_path) == 3
    annotate(SAVED, tmp_path / "a.txt", tmp_path / "x.spacy")
    assert count_documents(tmp_path / "x.spacy") is None  # a .spacy file would have to be loaded whole
