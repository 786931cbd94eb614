"""scripts/train_once.sh: the benchmark scripts' rule for when a training run is finished.

A run stopped half-way already holds a pipeline (spaCy writes model-best at the first
evaluation); taking it for a finished run would put an unconverged model in a table.
"""
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "train_once.sh"

# A stand-in for `spacy train`: logs each call, writes a pipeline, then fails or succeeds.
FAKE_TRAIN = """
set -euo pipefail
. "{script}"
fake_train() {{ echo run >> calls; touch "$1/model-best"; [ "$2" = ok ]; }}
train_once out fake_train out "$1" {setting}
"""


def run_once(workdir: Path, outcome: str, set_e: bool = True, setting: str = "lr=1") -> int:
    body = FAKE_TRAIN.format(script=SCRIPT, setting=setting)
    if not set_e:  # a caller inside `if` or `||`, where bash ignores `set -e`
        body = body.replace(f'train_once out fake_train out "$1" {setting}', f'train_once out fake_train out "$1" {setting} || exit 7')
    return subprocess.run(["bash", "-c", body, "bash", outcome], cwd=workdir).returncode


def calls(workdir: Path) -> int:
    path = workdir / "calls"
    return len(path.read_text().split()) if path.exists() else 0


def test_stopped_run_is_removed_and_trained_again(tmp_path: Path) -> None:
    stale = tmp_path / "out" / "model-best"
    stale.parent.mkdir()
    stale.write_text("from a stopped run")
    assert run_once(tmp_path, "ok") == 0
    assert calls(tmp_path) == 1
    assert (tmp_path / "out" / "seconds").exists()
    assert stale.read_text() == ""  # the stopped run's files went; this run wrote its own


def test_finished_run_is_kept(tmp_path: Path) -> None:
    assert run_once(tmp_path, "ok") == 0
    assert run_once(tmp_path, "ok") == 0
    assert calls(tmp_path) == 1


def test_failed_run_writes_no_marker(tmp_path: Path) -> None:
    assert run_once(tmp_path, "fail") != 0
    assert not (tmp_path / "out" / "seconds").exists()
    assert run_once(tmp_path, "fail", set_e=False) == 7
    assert not (tmp_path / "out" / "seconds").exists()
    assert run_once(tmp_path, "ok") == 0
    assert calls(tmp_path) == 3


def test_finished_run_is_not_taken_for_a_run_with_other_settings(tmp_path: Path) -> None:
    assert run_once(tmp_path, "ok", setting="lr=1") == 0
    assert run_once(tmp_path, "ok", setting="lr=2") != 0  # an error, not the lr=1 run
    assert calls(tmp_path) == 1
    assert (tmp_path / "out" / "seconds").exists()  # the finished run is kept
    assert run_once(tmp_path, "ok", setting="lr=1") == 0
    assert calls(tmp_path) == 1
