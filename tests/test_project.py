"""The project workflow `all`, end to end, on tiny data with the 2-layer encoder; killed and resumed."""
import json
import os
import shutil
import signal
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Iterator, Optional, Tuple

import pytest
import spacy
import srsly
from spacy.tokens import Doc, DocBin, Span

from .test_benchmarks import write_tiny_benchmark

ROOT = Path(__file__).resolve().parent.parent
KILLPOINTS = Path(__file__).resolve().parent / "killpoints"
COMMANDS = ["encoder", "convert", "dictionaries", "codeswitch", "train-baseline", "train-mclner", "self-train", "evaluate", "package"]


def run_all(project: Path, variables: dict, env: Optional[dict] = None) -> subprocess.CompletedProcess:
    """`weasel run all` in its own process group, so that a fault injected in a step can kill the whole run."""
    args = [sys.executable, "-m", "weasel", "run", "all", str(project)]
    args += [arg for name, value in variables.items() for arg in (f"--vars.{name}", str(value))]
    return subprocess.run(args, capture_output=True, text=True, env=env, start_new_session=True)


def run_all_ok(project: Path, variables: dict) -> str:
    result = run_all(project, variables)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def read_docs(path: Path) -> list:
    return list(DocBin().from_disk(path).get_docs(spacy.blank("xx").vocab))


def new_project(folder: Path) -> Path:
    project = folder / "project"
    project.mkdir()
    shutil.copy(ROOT / "project.yml", project)
    shutil.copytree(ROOT / "configs", project / "configs")
    return project


@pytest.fixture(scope="module")
def tiny_run(encoder_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tuple[Path, dict]]:
    """An uninterrupted `all` on tiny data: (its project folder, the variables it ran with).

    Removed after the module's tests: its pipelines and wheel take hundreds of megabytes, and
    pytest keeps the last runs' folders.
    """
    root = tmp_path_factory.mktemp("tiny-workflow")
    project = new_project(root)
    write_tiny_benchmark(root / "data")
    variables = {
        "data": root / "data",
        "encoder": encoder_dir,
        "encoder_layers": 2,
        "freeze_layers": 1,  # of the 2: the frozen layer's cache is in the run too
        "train_sents": 3,
        "baseline_steps": 2,
        "train_steps": 2,
        "eval_frequency": 2,
        "dev_select": 2,
        "eval_limit": 3,
        "rounds": 1,
        "unlabeled_sents": 3,
        "student_steps": 2,
        "threshold": 0.0,
        "package_name": "tiny_workflow",
    }
    run_all_ok(project, variables)
    yield project, variables
    shutil.rmtree(root)


def test_workflow_all_on_tiny_data(tiny_run: Tuple[Path, dict]):
    project, variables = tiny_run

    corpus = project / "corpus" / "conll"
    assert len(read_docs(corpus / "train.spacy")) == 3
    assert sorted(path.name for path in (corpus / "dev").iterdir()) == ["de.spacy", "en.spacy", "es.spacy", "nl.spacy"]
    views = read_docs(corpus / "views.spacy")
    assert len(views) == 3  # langs_per_doc 1: one view per sentence, in a target drawn at random
    coverage = srsly.read_json(project / "metrics" / "conll" / "codeswitch_coverage.json")
    assert set(coverage["coverage"]) == {"de", "es", "nl"}
    for name in ("baseline", "mclner"):
        meta = srsly.read_json(project / "training" / "conll" / name / "model-best" / "meta.json")
        assert set(meta["performance"]["ents_per_lang"]) == {"en", "de", "es", "nl"}

    quality = srsly.read_json(project / "training" / "conll" / "self" / "quality.json")
    assert [record["round"] for record in quality] == [0, 1]
    assert set(quality[1]["pseudo"]) == {"de", "es", "nl"}
    student = project / "training" / "conll" / "self" / "round-1" / "model" / "model-best"
    assert (student / "meta.json").is_file()
    # precision auto travels with the pipeline: it loads and annotates on a CPU with or without bfloat16
    assert spacy.util.load_config(student / "config.cfg")["components"]["mclner"]["model"]["precision"] == "auto"

    report = srsly.read_json(project / "metrics" / "conll" / "report.json")
    assert list(report["pipelines"]) == ["baseline", "mclner", "round-1"]
    assert report["targets"] == ["de", "es", "nl"]
    assert report["pipelines"]["mclner"]["scores"]["ents_per_lang"]["de"]["n_docs"] == 3
    markdown = (project / "metrics" / "conll" / "report.md").read_text(encoding="utf8")
    assert "| pipeline | de | en | es | nl | avg (de, es, nl) | words/s |" in markdown
    assert (project / "metrics" / "conll" / "report.png").read_bytes()[:4] == b"\x89PNG"
    curves = srsly.read_json(project / "metrics" / "conll" / "curves.json")
    assert [(run["name"], run["steps"]) for run in curves["runs"]] == [("baseline", 2), ("mclner", 2), ("round-1", 2)]
    assert all(isinstance(run["plateaued"], bool) for run in curves["runs"])

    wheel = project / "packages" / "xx_tiny_workflow-0.1.0" / "dist" / "xx_tiny_workflow-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read("xx_tiny_workflow-0.1.0.dist-info/METADATA").decode("utf8")
        meta = json.loads(archive.read("xx_tiny_workflow/meta.json"))
    requires = [line.split(":", 1)[1].strip() for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    assert any(requirement.startswith("spacy-mclner") for requirement in requires), requires
    assert meta["pipeline"] == ["mclner"]

    lock = srsly.read_yaml(project / "project.lock")
    assert set(COMMANDS) <= set(lock)
    rerun = run_all_ok(project, variables)  # nothing changed: every step is skipped
    assert all(f"Skipping '{command}': nothing changed" in rerun for command in COMMANDS), rerun


# Where the fault test kills `all` (tests/killpoints/sitecustomize.py), in order: the process it
# kills in, the point, and a file that shows the run was killed inside the step, not between steps.
FAULTS = [
    ("codeswitch", "spacy_mclner codeswitch", "unrenamed:views.spacy", "corpus/conll/views.spacy.partial"),
    ("train-mclner", "spacy train configs/mclner_multiview.cfg", "copied:model-best", "training/conll/mclner/model-best/meta.json"),
    ("self-train", "spacy_mclner self-train", "written:de.json", "training/conll/self/round-1/pseudo/de.json"),
    ("self-train", "spacy_mclner self-train", "copied:model-best", "training/conll/self/round-1/model/model-best/meta.json"),
    ("package", "spacy package", "copied:xx_tiny_workflow-0.1.0", "packages/xx_tiny_workflow-0.1.0/xx_tiny_workflow"),
]
UNFAULTED = COMMANDS[: COMMANDS.index(FAULTS[0][0])]
# What `all` writes; an interrupted and resumed run must write the same.
OUTPUT_FILES = [
    "corpus/conll/train.spacy",
    *(f"corpus/conll/dev/{lang}.spacy" for lang in ("de", "en", "es", "nl")),
    "corpus/conll/views.spacy",
    "metrics/conll/codeswitch_coverage.json",
    "training/conll/self/quality.json",
    "training/conll/self/round-1/pseudo/de.spacy",
    "training/conll/self/round-1/pseudo/nl.json",
]
PIPELINES = ["training/conll/baseline/model-best", "training/conll/mclner/model-best", "training/conll/self/round-1/model/model-best"]


def comparable(path: Path) -> bytes:
    """A file's bytes; a thinc model file's, less the folder each transformer config was read from.

    spacy-transformers loads a transformer from bytes through a temporary folder whose random name
    the Hugging Face config keeps as `_name_or_path`, so a student started from its teacher's
    saved weights never saves the same bytes twice, weights equal or not.
    """
    content = path.read_bytes()
    if path.name != "model":
        return content
    model = srsly.msgpack_loads(content)
    for shims in model["shims"]:
        for index, shim in enumerate(shims):
            shims[index] = srsly.msgpack_loads(shim)
            shims[index].get("config", {}).pop("_name_or_path", None)
    return srsly.msgpack_dumps(model)


def assert_same_folder(expected: Path, found: Path) -> None:
    """The same files with the same content: a pipeline's weights, config and meta.json."""
    names = sorted(path.relative_to(expected).as_posix() for path in expected.rglob("*") if path.is_file())
    assert names == sorted(path.relative_to(found).as_posix() for path in found.rglob("*") if path.is_file())
    for name in names:
        assert comparable(expected / name) == comparable(found / name), f"{found / name} differs"


def test_a_killed_workflow_resumes_to_the_same_outputs(tiny_run: Tuple[Path, dict], tmp_path: Path):
    """SIGKILL `all` inside each long step, rerun it each time; the last rerun finishes as a run never killed."""
    expected, variables = tiny_run
    project = new_project(tmp_path)
    # The steps before the first fault are taken from the uninterrupted run, as a killed run leaves
    # them: their outputs and their lock entries, so that `all` skips them.
    expected_lock = srsly.read_yaml(expected / "project.lock")
    for command in UNFAULTED:
        for output in expected_lock[command]["outs"]:
            if Path(output["path"]).is_absolute():  # the test encoder, outside the project
                continue
            source, target = expected / output["path"], project / output["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(source, target)
            else:
                shutil.copy2(source, target)
    srsly.write_yaml(project / "project.lock", {command: expected_lock[command] for command in UNFAULTED})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(KILLPOINTS), os.environ.get("PYTHONPATH")]))}
    for command, process, point, evidence in FAULTS:
        killed = run_all(project, variables, env={**env, "MCLNER_KILL_IN": process, "MCLNER_KILL_AT": point})
        assert killed.returncode == -signal.SIGKILL, f"{point} in {process} was never reached:\n{killed.stdout[-2000:]}"
        assert (project / evidence).exists(), f"killed at {point} in {process}, {evidence} is missing"
        lock = srsly.read_yaml(project / "project.lock") if (project / "project.lock").exists() else {}
        assert command not in lock, f"{command} is recorded as finished though it was killed"
    run_all_ok(project, variables)

    assert not [path for path in project.rglob("*.partial")], "a killed write was left behind"
    for name in OUTPUT_FILES:
        assert (project / name).read_bytes() == (expected / name).read_bytes(), f"{name} differs"
    for name in PIPELINES:
        assert_same_folder(expected / name, project / name)
    reports = [srsly.read_json(folder / "metrics" / "conll" / "report.json") for folder in (expected, project)]
    for report in reports:
        for pipeline in report["pipelines"].values():
            pipeline["scores"].pop("speed")
    assert reports[0] == reports[1]
    wheel = "packages/xx_tiny_workflow-0.1.0/dist/xx_tiny_workflow-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(expected / wheel) as before, zipfile.ZipFile(project / wheel) as after:
        assert before.namelist() == after.namelist()
        packaged = "xx_tiny_workflow/xx_tiny_workflow-0.1.0/"
        student = project / PIPELINES[-1]  # the same as the uninterrupted run's, as checked above
        files = {path.relative_to(student).as_posix() for path in student.rglob("*") if path.is_file()}
        assert {name[len(packaged) :] for name in after.namelist() if name.startswith(packaged)} == files | {"README.md"}
        assert all(after.read(packaged + name) == (student / name).read_bytes() for name in files - {"meta.json"})
    shutil.rmtree(project)  # hundreds of megabytes; kept when an assertion above fails


# (text, entities as (first token, end token, label)): a user's own label set, not the benchmarks'.
CUSTOM_EN = [
    ("Angela Merkel bought an iPhone at the Olympics .", [(0, 2, "PER"), (4, 5, "PRODUCT"), (7, 8, "EVENT")]),
    ("Barack Obama watched the World Cup on a Galaxy phone .", [(0, 2, "PER"), (4, 6, "EVENT"), (8, 9, "PRODUCT")]),
    ("The Olympics sold the new Walkman .", [(1, 2, "EVENT"), (5, 6, "PRODUCT")]),
]
CUSTOM_DE = [
    ("Angela Merkel kaufte ein iPhone bei der Weltmeisterschaft .", [(0, 2, "PER"), (4, 5, "PRODUCT"), (7, 8, "EVENT")]),
    ("Olaf Scholz sah die Olympischen Spiele .", [(0, 2, "PER"), (4, 6, "EVENT")]),
]
CUSTOM_ES = [("Pedro compró un Walkman en el Mundial .", [(0, 1, "PER"), (3, 4, "PRODUCT"), (6, 7, "EVENT")])]


def _custom_docs(sentences: list, lang: str) -> list:
    vocab = spacy.blank("xx").vocab
    docs = []
    for text, ents in sentences:
        words = text.split()
        doc = Doc(vocab, words=words, spaces=[True] * (len(words) - 1) + [False])
        doc.ents = [Span(doc, start, end, label) for start, end, label in ents]
        if lang:
            doc.user_data["mclner_lang"] = lang
        docs.append(doc)
    return docs


def test_workflow_all_on_a_users_own_labels_and_text(encoder_dir: Path, tmp_path: Path):
    """PER, PRODUCT and EVENT in .spacy files and raw target text, instead of a benchmark."""
    project = new_project(tmp_path)
    mine = tmp_path / "mine"
    (mine / "dev").mkdir(parents=True)
    DocBin(docs=_custom_docs(CUSTOM_EN, ""), store_user_data=True).to_disk(mine / "train.spacy")
    DocBin(docs=_custom_docs(CUSTOM_EN[:2], ""), store_user_data=True).to_disk(mine / "dev" / "en.spacy")
    DocBin(docs=_custom_docs(CUSTOM_DE, ""), store_user_data=True).to_disk(mine / "dev" / "de.spacy")
    DocBin(docs=_custom_docs(CUSTOM_ES, "es"), store_user_data=True).to_disk(mine / "dev" / "spanish.spacy")
    (mine / "text").mkdir()
    (mine / "text" / "de.txt").write_text("Olaf Scholz kaufte ein Walkman .\n\nAngela Merkel sah die Weltmeisterschaft .\n", encoding="utf8")
    (mine / "text" / "es.jsonl").write_text('{"text": "Pedro vio los Juegos Olímpicos ."}\n{"text": "Ana compró un iPhone ."}\n', encoding="utf8")
    variables = {
        "train": mine / "train.spacy",
        "dev": mine / "dev",
        "unlabeled": mine / "text",
        "dataset": "shop",
        "target_langs": "de,es",
        "freedict_langs": "none",
        "data": tmp_path / "no-benchmark-here",
        "encoder": encoder_dir,
        "encoder_layers": 2,
        "freeze_layers": 1,
        "train_sents": 0,
        "baseline_steps": 2,
        "train_steps": 2,
        "eval_frequency": 2,
        "dev_select": 2,
        "eval_limit": 0,
        "rounds": 1,
        "unlabeled_sents": 0,
        "student_steps": 2,
        "threshold": 0.0,
        "package_name": "tiny_shop",
    }
    run_all_ok(project, variables)

    corpus = project / "corpus" / "shop"
    assert [doc.text for doc in read_docs(corpus / "train.spacy")] == [text for text, _ in CUSTOM_EN]
    assert sorted(path.name for path in (corpus / "dev").iterdir()) == ["de.spacy", "en.spacy", "es.spacy"]
    labels = srsly.read_json(project / "training" / "shop" / "mclner" / "model-best" / "mclner" / "cfg")["labels"]
    assert labels == ["EVENT", "PER", "PRODUCT"]
    quality = srsly.read_json(project / "training" / "shop" / "self" / "quality.json")
    assert {lang: report["sentences"] for lang, report in quality[1]["pseudo"].items()} == {"de": 2, "es": 2}
    report = srsly.read_json(project / "metrics" / "shop" / "report.json")
    assert report["targets"] == ["de", "es"]
    markdown = (project / "metrics" / "shop" / "report.md").read_text(encoding="utf8")
    assert "| PRODUCT |" in markdown and "| EVENT |" in markdown
    assert (project / "packages" / "xx_tiny_shop-0.1.0" / "dist" / "xx_tiny_shop-0.1.0-py3-none-any.whl").is_file()
