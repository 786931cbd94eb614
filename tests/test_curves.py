"""Learning curves from the logger's JSON lines, and the plateau rule."""
from pathlib import Path
from typing import List

import pytest
import srsly
from typer.testing import CliRunner

from spacy_mclner.cli import app
from spacy_mclner.evaluation.curves import Curve, curves_report, plateau, read_curve


def _curve(target_f: List[float]) -> Curve:
    steps = [100 * i for i in range(len(target_f))]
    return Curve("run", steps, target_f, [10.0 * i for i in range(len(target_f))])


def test_a_rising_curve_has_not_plateaued():
    # The best of the last third is the best overall, so the weaker reading of the rule would pass it.
    result = plateau(_curve([10, 30, 50, 60, 66, 70, 73]), smooth=1)
    assert not result["plateaued"] and result["gain_last_third"] == pytest.approx(7)
    assert not plateau(_curve([10, 30, 50, 60, 66, 70, 73]))["plateaued"]


def test_a_flat_tail_has_plateaued_even_when_it_dips():
    result = plateau(_curve([10, 50, 70, 72, 72.3, 71, 72.2]), smooth=1)
    assert result["plateaued"] and result["best_first_two_thirds"] == 72.3


def test_one_lucky_evaluation_in_the_last_third_is_smoothed_away():
    curve = _curve([10, 50, 70, 71, 70.5, 70, 72, 70.5, 70])
    assert not plateau(curve, smooth=1)["plateaued"]
    assert plateau(curve)["plateaued"]


def test_read_curve_averages_the_targets_and_names_a_missing_language(tmp_path: Path):
    path = tmp_path / "curve.jsonl"
    srsly.write_jsonl(path, [{"step": 0, "seconds": 3, "f_per_lang": {"en": 90, "de": 40, "es": 60}},
                             {"step": 50, "seconds": 9, "f_per_lang": {"en": 91, "de": 50}}])
    with pytest.raises(ValueError, match=r"curve.jsonl, line 2: no F1 for es"):
        read_curve("run", path, ["de", "es"])
    assert read_curve("run", path, ["de"]).target_f == [40, 50]
    with pytest.raises(FileNotFoundError, match="No learning curve for other"):
        read_curve("other", tmp_path / "missing.jsonl", ["de"])


def test_curves_report_writes_table_json_and_plot(tmp_path: Path):
    markdown = curves_report([_curve([10, 50, 70, 72, 72.3, 71, 72.2])], ["de"], tmp_path / "curves")
    assert "| run | 600 | 72.3 | 400 | 71.8 | 71.8 | yes | -0.1 | yes | 60 |" in markdown
    assert (tmp_path / "curves.png").stat().st_size > 1000
    assert srsly.read_json(tmp_path / "curves.json")["runs"][0]["plateaued"] is True
    assert "has not plateaued" not in markdown


def test_curves_report_says_which_runs_are_still_rising(tmp_path: Path):
    rising, flat = _curve([10, 30, 50, 60, 66, 70, 73]), _curve([10, 50, 70, 72, 72.3, 71, 72.2])
    flat.name = "flat"
    markdown = curves_report([rising, flat], ["de"], tmp_path / "curves")
    assert "run has not plateaued by the smoothed and raw rules (its last third gained" in markdown
    assert "flat has not plateaued" not in markdown


def test_runs_compared_at_equal_steps(tmp_path: Path):
    markdown = curves_report([_curve([10, 50, 70, 72]), _curve([20, 40, 60, 80])], ["de"], tmp_path / "c", at_steps=[100, 300])
    assert "| run | 50.0 | 72.0 | 61.0 | 30 |" in markdown
    with pytest.raises(ValueError, match="no evaluation at step 150"):
        curves_report([_curve([10, 50])], ["de"], tmp_path / "c", at_steps=[150])


def test_curves_command_reads_a_run_folder_or_a_curve_file(tmp_path: Path):
    records = [{"step": 100 * i, "seconds": i, "f_per_lang": {"de": f}} for i, f in enumerate([10, 50, 70, 72, 72.3, 71, 72.2])]
    (tmp_path / "run").mkdir()
    srsly.write_jsonl(tmp_path / "run" / "curve.jsonl", records)
    srsly.write_jsonl(tmp_path / "copied.jsonl", records)
    args = ["curves", f"a={tmp_path / 'run'}", f"b={tmp_path / 'copied.jsonl'}", "--targets", "de", "--output", str(tmp_path / "c")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert [run["best"] for run in srsly.read_json(tmp_path / "c.json")["runs"]] == [72.3, 72.3]
