"""The side-by-side report of several pipelines: JSON, markdown, PNG and the CLI."""
from pathlib import Path

import pytest
import spacy
import srsly
from typer.testing import CliRunner

from spacy_mclner.cli import app
from spacy_mclner.evaluation.report import compare_pipelines, report_markdown, write_report

from .test_evaluate import write_dev, write_tsv


def save_ruler(path: Path, patterns) -> Path:
    nlp = spacy.blank("xx")
    nlp.add_pipe("entity_ruler").add_patterns(patterns)
    nlp.to_disk(path)
    return path


@pytest.fixture
def setup(tmp_path: Path):
    """Two rule pipelines (one better than the other) and en/de/nl test data."""
    weak = save_ruler(tmp_path / "weak", [{"label": "LOC", "pattern": "Paris"}, {"label": "MISC", "pattern": "Siemens"}])
    strong = save_ruler(
        tmp_path / "strong",
        [{"label": "LOC", "pattern": "Paris"}, {"label": "ORG", "pattern": "Siemens"}, {"label": "LOC", "pattern": "München"}],
    )
    (tmp_path / "dev").mkdir()
    write_dev(tmp_path / "dev" / "en.spacy", "en")
    write_dev(tmp_path / "dev" / "de.spacy", "de")
    write_tsv(tmp_path / "nl-test.tsv")
    return tmp_path, {"baseline": weak, "mclner": strong}, [tmp_path / "dev", tmp_path / "nl-test.tsv"]


def test_pipelines_side_by_side(setup):
    tmp_path, pipelines, data = setup
    report, predictions = compare_pipelines(pipelines, data, source_lang="en")
    assert report["langs"] == ["de", "en", "nl"]
    assert report["targets"] == ["de", "nl"]
    assert list(report["pipelines"]) == ["baseline", "mclner"]
    assert report["pipelines"]["baseline"]["target_macro_f"] == pytest.approx(1 / 3)  # P 1/2, R 1/4
    assert report["pipelines"]["mclner"]["target_macro_f"] == pytest.approx(6 / 7)  # P 1, R 3/4
    markdown = report_markdown(report)
    assert "| pipeline | de | en | nl | avg (de, nl) | words/s |" in markdown
    assert "| baseline | 33.3 | 33.3 | 33.3 | 33.3 |" in markdown
    assert "| mclner | 85.7 | 85.7 | 85.7 | 85.7 |" in markdown
    assert "### nl" in markdown
    assert "| LOC | 2 | 100.0 | 50.0 | 66.7 | 100.0 | 100.0 | 100.0 |" in markdown
    assert "| all | 4 | 50.0 | 25.0 | 33.3 | 100.0 | 75.0 | 85.7 |" in markdown
    json_path, md_path, png_path, html_path = write_report(report, tmp_path / "out" / "report", predictions)
    assert srsly.read_json(json_path)["pipelines"]["mclner"]["target_macro_f"] == pytest.approx(6 / 7)
    assert md_path.read_text(encoding="utf8") == markdown
    assert png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = html_path.read_text(encoding="utf8")
    assert all(f"<h2>{lang}</h2>" in page for lang in ("de", "en", "nl"))
    assert page.count("<div class='who'>gold") == page.count("<div class='who'>mclner") > 0
    assert "baseline <span class='wrong'>(differs)</span>" in page  # the weak ruler calls Siemens MISC


def test_report_command(setup):
    tmp_path, pipelines, data = setup
    args = ["report", *(f"{name}={path}" for name, path in pipelines.items())]
    args += [arg for path in data for arg in ("--data", str(path))]
    result = CliRunner().invoke(app, [*args, "--output", str(tmp_path / "cli" / "report"), "--limit", "1"])
    assert result.exit_code == 0, result.output
    report = srsly.read_json(tmp_path / "cli" / "report.json")
    assert report["limit"] == 1
    assert report["pipelines"]["mclner"]["scores"]["seqeval"]["de"]["all"]["support"] == 2  # first doc only
    assert (tmp_path / "cli" / "report.png").is_file()
    bad = CliRunner().invoke(app, ["report", str(pipelines["mclner"]), "--data", str(data[0])])
    assert bad.exit_code != 0
    assert "expected NAME=PATH" in bad.output


def test_error_page_shows_sentences_with_errors_first():
    from spacy.tokens import Doc
    from spacy.training import Example

    from spacy_mclner.evaluation.errors_page import choose_sentences

    vocab = spacy.blank("xx").vocab

    def example(words, gold, predicted, lang):
        reference = Doc(vocab, words=words, ents=gold)
        reference.user_data["mclner_lang"] = lang
        return Example(Doc(vocab, words=words, ents=predicted), reference)

    right = example(["Paris"], ["B-LOC"], ["B-LOC"], "de")
    wrong = example(["Paris"], ["B-LOC"], ["B-PER"], "de")
    missed = example(["Paris"], ["B-LOC"], ["O"], "es")
    chosen = choose_sentences({"a": [right, wrong, right, missed], "b": [right, right, wrong, missed]}, n=2)
    assert chosen == {"de": [1, 2], "es": [3]}
    assert choose_sentences({"a": [right, right, wrong]}, n=2) == {"de": [2, 0]}
