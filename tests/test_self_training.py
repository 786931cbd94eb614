"""Self-training rounds: the student starts as its teacher, trains with L_mse, rounds resume, a changed run starts over."""
from dataclasses import replace
from pathlib import Path
from typing import Dict

import numpy
import pytest
import spacy
import srsly
import torch
from spacy.language import Language
from spacy.tokens import DocBin
from spacy.util import load_model_from_config
from thinc.api import PyTorchShim
from typer.testing import CliRunner

from spacy_mclner.cli import app
from spacy_mclner.data.annotations import set_doc_lang
from spacy_mclner.pipeline.identity import same_predictor
from spacy_mclner.selftrain import rounds as self_training
from spacy_mclner.selftrain.rounds import (
    SelfTrainingPlan,
    quality_markdown,
    run_self_training,
    student_config,
    write_quality_report,
)

from .helpers import TRAIN_DATA, make_examples

STUDENT_CONFIG = Path(__file__).parent.parent / "configs" / "mclner_student.cfg"


@pytest.fixture(scope="module")
def data(trained: Language, tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Path]:
    """A teacher folder, an English source corpus, German text without labels and a dev folder."""
    root = tmp_path_factory.mktemp("self")
    trained.to_disk(root / "teacher")
    blank = spacy.blank("xx")
    DocBin(docs=[eg.reference for eg in make_examples(blank)], store_user_data=True).to_disk(root / "train.spacy")
    (root / "dev").mkdir()
    for lang in ("en", "de"):
        docs = [eg.reference for eg in make_examples(blank)]
        for doc in docs:
            set_doc_lang(doc, lang)
        DocBin(docs=docs, store_user_data=True).to_disk(root / "dev" / f"{lang}.spacy")
    sentences = ["\n".join(text.split()) + "\n" for text, _ in TRAIN_DATA]
    (root / "de.unlabeled").write_text("\n".join(sentences), encoding="utf8")
    return {name: root / name for name in ("teacher", "train.spacy", "dev", "de.unlabeled")} | {"root": root}


def test_the_student_starts_as_its_teacher(trained: Language, data: Dict[str, Path]):
    student = load_model_from_config(trained.config)
    pipe = student.get_pipe("mclner")
    pipe.initialize(lambda: make_examples(student), nlp=student, init_from=data["teacher"])
    assert pipe.labels == trained.get_pipe("mclner").labels
    docs = [trained.make_doc(text) for text, _ in TRAIN_DATA]
    numpy.testing.assert_allclose(
        pipe.model.predict(docs).logits, trained.get_pipe("mclner").model.predict(docs).logits, rtol=1e-5, atol=1e-6
    )
    other = load_model_from_config(spacy.util.load_config(STUDENT_CONFIG), auto_fill=True)
    with pytest.raises(ValueError, match="not built like this config"):
        other.get_pipe("mclner").initialize(lambda: make_examples(other), init_from=data["teacher"])


def test_the_student_config_takes_the_teachers_model(data: Dict[str, Path]):
    config = student_config(STUDENT_CONFIG, data["teacher"])
    assert config["components"]["mclner"]["model"]["hidden_width"] == 64  # the tiny teacher's
    assert config["components"]["mclner"]["mse_weight"] > 0
    assert config["initialize"]["components"]["mclner"]["init_from"] == "${paths.teacher}"


def tiny_plan(data: Dict[str, Path], encoder_dir: Path, output: Path, rounds: int, max_steps: int) -> SelfTrainingPlan:
    """Rounds on the tiny data whose students evaluate every 2 steps (at step 0 first) and stop after max_steps."""
    return SelfTrainingPlan(
        teacher=data["teacher"],
        output=output,
        config=STUDENT_CONFIG,
        source=data["train.spacy"],
        unlabeled={"de": data["de.unlabeled"]},
        dev=data["dev"],
        threshold=0.5,
        rounds=rounds,
        overrides={"paths.encoder": str(encoder_dir), "training.max_steps": max_steps, "training.eval_frequency": 2},
    )


class Interrupted(Exception):
    pass


def test_rounds_resume_after_an_interrupted_round(
    data: Dict[str, Path], encoder_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
):
    output = data["root"] / "run"
    plan = tiny_plan(data, encoder_dir, output, rounds=2, max_steps=2)
    real_train = self_training.train
    trained_rounds = []

    def train_then_die_in_round_2(config_path: Path, output_path: Path, **kwargs) -> None:
        trained_rounds.append(output_path.parent.name)
        if output_path.parent.name == "round-2":
            (output_path / "model-best").mkdir(parents=True)  # what a killed `spacy train` leaves
            raise Interrupted()
        real_train(config_path, output_path, **kwargs)

    monkeypatch.setattr(self_training, "train", train_then_die_in_round_2)
    with pytest.raises(Interrupted):
        run_self_training(plan)
    assert trained_rounds == ["round-1", "round-2"]
    assert (output / "round-1" / "round.json").is_file() and not (output / "round-2" / "round.json").exists()
    losses = [record["losses"] for record in srsly.read_jsonl(output / "round-1" / "curve.jsonl")]  # each round's curve
    assert any(l["mclner_ce_pseudo"] > 0 and l["mclner_mse"] > 0 and l["mclner_ce"] > 0 for l in losses)
    finished = {path: path.stat().st_mtime_ns for path in [output / "round-0" / "round.json", output / "round-1" / "round.json", output / "round-2" / "pseudo" / "de.spacy"]}
    # a line for each step of a round, which a log file shows where no progress bar does
    first_run = capsys.readouterr().out
    assert "Round 0: the teacher: dev macro F1 " in first_run
    assert "Round 1: pseudo-labels de (1/1): kept " in first_run and "pseudo-label F1 " in first_run

    monkeypatch.setattr(self_training, "train", lambda *args, **kwargs: (trained_rounds.append("again"), real_train(*args, **kwargs)))
    records = run_self_training(plan)
    assert trained_rounds[2:] == ["again"]  # only round 2's student, once
    assert "Round 2: pseudo-labels de (1/1): kept from a former run" in capsys.readouterr().out
    assert all(path.stat().st_mtime_ns == mtime for path, mtime in finished.items())
    assert [record["round"] for record in records] == [0, 1, 2]
    assert records[2]["teacher"] == str(output / "round-1" / "model" / "model-best")
    report = records[1]["pseudo"]["de"]
    assert report["sentences"] == 3 and 0 < report["kept_sentences"] <= 3 and report["quality"]["f"] > 0
    assert set(records[2]["dev"]["per_lang"]) == {"de", "en"}
    assert (output / "quality.png").read_bytes()[:4] == b"\x89PNG"
    table = (output / "quality.md").read_text(encoding="utf8")
    assert "| source |" in table and "| round 2 " in table and "| 2 | de | 3 |" in table
    assert [record["round"] for record in srsly.read_json(output / "quality.json")] == [0, 1, 2]

    (output / "quality.md").unlink()
    result = CliRunner().invoke(app, ["self-train-report", str(output)])
    assert result.exit_code == 0, result.output
    assert (output / "quality.md").read_text(encoding="utf8") == table

    # Another threshold: the folder's rounds are not this run's, so the rerun starts over.
    round_1 = output / "round-1" / "round.json"
    before = round_1.stat().st_mtime_ns
    monkeypatch.setattr(self_training, "train", lambda *args, **kwargs: (trained_rounds.append("changed"), real_train(*args, **kwargs)))
    records = run_self_training(replace(plan, threshold=0.0, rounds=1))
    assert trained_rounds[3:] == ["changed"]
    assert round_1.stat().st_mtime_ns != before and not (output / "round-2").exists()
    assert [record["round"] for record in records] == [0, 1]
    assert srsly.read_json(output / "run.json")["settings"]["threshold"] == 0.0


def test_a_student_that_kept_its_teacher_is_scored_once(data: Dict[str, Path], encoder_dir: Path, monkeypatch: pytest.MonkeyPatch):
    """One step at the warm-up's zero rate, evaluated only before it: model-best is the teacher's weights."""
    output = data["root"] / "kept"
    plan = tiny_plan(data, encoder_dir, output, rounds=1, max_steps=1)
    scored = []
    real_dev_scores = self_training._dev_scores
    monkeypatch.setattr(self_training, "_dev_scores", lambda plan, model, who: (scored.append(Path(model)), real_dev_scores(plan, model, who))[1])
    records = run_self_training(plan)
    assert records[1]["kept_teacher"] is True
    assert scored == [data["teacher"]]  # round 0 only: the student's scores are its teacher's
    assert records[1]["dev"] == records[0]["dev"]
    assert "| round 1 (kept its teacher) |" in (output / "quality.md").read_text(encoding="utf8")

    args = ["report", f"mclner={data['teacher']}", "--self-training", str(output), "--data", str(data["dev"])]
    result = CliRunner().invoke(app, [*args, "--output", str(data["root"] / "kept-report" / "report")])
    assert result.exit_code == 0, result.output
    report = srsly.read_json(data["root"] / "kept-report" / "report.json")
    assert report["pipelines"]["round-1"]["same_as"] == "mclner"
    assert report["pipelines"]["round-1"]["scores"] == report["pipelines"]["mclner"]["scores"]
    assert "round-1 is mclner's model again" in result.output


def test_same_predictor_compares_weights_and_the_settings_that_predict(data: Dict[str, Path], tmp_path: Path):
    def saved_copy(name: str, settings: Dict[str, float], change=lambda pipe: None) -> Path:
        nlp = spacy.load(data["teacher"], config={"components": {"mclner": settings}})
        change(nlp.get_pipe("mclner"))
        nlp.to_disk(tmp_path / name)
        return tmp_path / name

    def nudge_a_weight(pipe) -> None:
        shim = next(shim for node in pipe.model.walk() for shim in node.shims if isinstance(shim, PyTorchShim))
        with torch.no_grad():
            next(shim._model.parameters()).add_(1e-3)

    assert same_predictor(data["teacher"], saved_copy("trained-otherwise", {"none_weight": 0.7, "mse_weight": 1.0}))
    assert not same_predictor(data["teacher"], saved_copy("threshold", {"threshold": 0.5}))
    assert not same_predictor(data["teacher"], saved_copy("nudged", {}, nudge_a_weight))


def test_the_command_passes_languages_and_config_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    plans = []
    monkeypatch.setattr(self_training, "run_self_training", lambda plan: plans.append(plan) or [])
    args = ["self-train", "teacher", str(tmp_path / "run"), "--source", "en.spacy", "--dev", "dev"]
    args += ["--unlabeled", "de=de.txt", "--unlabeled", "zh=zh.txt", "--labels", "PER,LOC", "--training.max_steps", "7"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert plans[0].unlabeled == {"de": Path("de.txt"), "zh": Path("zh.txt")}
    assert plans[0].labels == ["PER", "LOC"] and plans[0].overrides == {"training.max_steps": 7}
    result = CliRunner().invoke(app, args[:7] + ["--unlabeled", "de.txt"], env={"COLUMNS": "200"})
    assert result.exit_code != 0 and "expected LANG=PATH" in result.output


def test_the_command_reads_each_targets_unlabelled_text_from_a_data_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    from .test_benchmarks import write_tiny_benchmark

    written = write_tiny_benchmark(tmp_path / "data")
    plans = []
    monkeypatch.setattr(self_training, "run_self_training", lambda plan: plans.append(plan) or [])
    args = ["self-train", "teacher", str(tmp_path / "run"), "--source", "en.spacy", "--dev", "dev"]
    data = ["--data", str(tmp_path / "data"), "--benchmark", "conll"]
    result = CliRunner().invoke(app, args + data + ["--targets", "de,nl", "--unlabeled", "zh=zh.txt"])
    assert result.exit_code == 0, result.output
    assert plans[0].unlabeled == {"zh": Path("zh.txt"), "de": written["de/unlabeled"], "nl": written["nl/unlabeled"]}
    for extra, message in [
        (data, "--data and --targets go together"),
        (["--targets", "de"], "--data and --targets go together"),
        (data + ["--targets", "de", "--unlabeled", "de=de.txt"], "unlabelled text for 'de' given twice"),
        ([], "give --unlabeled LANG=PATH, or --data with --targets"),
    ]:
        result = CliRunner().invoke(app, args + extra, env={"COLUMNS": "200"})
        assert result.exit_code != 0 and message in result.output, result.output
    result = CliRunner().invoke(app, args + data + ["--targets", "fr"])
    assert isinstance(result.exception, ValueError) and "CoNLL has no 'fr' data" in str(result.exception)


def test_round_models_lists_finished_rounds(tmp_path: Path):
    for round_id in (0, 1, 2):
        (tmp_path / f"round-{round_id}").mkdir()
        srsly.write_json(tmp_path / f"round-{round_id}" / "round.json", {"round": round_id})
    (tmp_path / "round-3" / "pseudo").mkdir(parents=True)  # interrupted: not listed
    assert self_training.round_models(tmp_path) == {
        "round-1": tmp_path / "round-1" / "model" / "model-best",
        "round-2": tmp_path / "round-2" / "model" / "model-best",
    }
    with pytest.raises(ValueError, match="No finished self-training rounds"):
        self_training.round_models(tmp_path / "round-3")


def test_the_quality_table_and_plot(tmp_path: Path):
    quality = {"p": 0.5, "r": 0.25, "f": 1 / 3, "sentences": 8, "kept_sentences": 3}
    records = [
        {"round": 0, "dev": {"macro_f": 0.4, "per_lang": {"en": {"f": 0.6}, "de": {"f": 0.2}}}, "pseudo": {}},
        {
            "round": 1,
            "dev": {"macro_f": 0.45, "per_lang": {"en": {"f": 0.5}, "de": {"f": 0.4}}},
            "pseudo": {"de": {"sentences": 10, "kept_sentences": 4, "kept_entities": 5, "quality": quality}},
        },
    ]
    table = quality_markdown(records)
    assert "| model | de | en | macro | targets |" in table
    assert "| source | 20.0 | 60.0 | 40.0 | 20.0 |" in table and "| round 1 | 40.0 | 50.0 | 45.0 | 40.0 |" in table
    assert "| 1 | de | 10 | 4 | 5 | 3 / 8 | 50.0 | 25.0 | 33.3 |" in table
    write_quality_report(tmp_path, records)
    assert (tmp_path / "quality.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "quality.md").read_text(encoding="utf8") == table
