"""The project workflow `all`, end to end, on tiny data with the 2-layer encoder."""
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import spacy
import srsly
from spacy.tokens import DocBin

from .test_benchmarks import write_tiny_benchmark

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = ["encoder", "convert", "codeswitch", "train-baseline", "train-mclner", "self-train", "evaluate", "package"]


def run_all(project: Path, variables: dict) -> str:
    args = [sys.executable, "-m", "weasel", "run", "all", str(project)]
    args += [arg for name, value in variables.items() for arg in (f"--vars.{name}", str(value))]
    result = subprocess.run(args, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def read_docs(path: Path) -> list:
    return list(DocBin().from_disk(path).get_docs(spacy.blank("xx").vocab))


def test_workflow_all_on_tiny_data(encoder_dir: Path, tmp_path: Path):
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ROOT / "project.yml", project)
    shutil.copytree(ROOT / "configs", project / "configs")
    write_tiny_benchmark(tmp_path / "data")
    variables = {
        "data": tmp_path / "data",
        "encoder": encoder_dir,
        "encoder_layers": 2,
        "train_sents": 3,
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
    run_all(project, variables)

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
    assert (project / "training" / "conll" / "self" / "round-1" / "model" / "model-best" / "meta.json").is_file()

    report = srsly.read_json(project / "metrics" / "conll" / "report.json")
    assert list(report["pipelines"]) == ["baseline", "mclner", "round-1"]
    assert report["targets"] == ["de", "es", "nl"]
    assert report["pipelines"]["mclner"]["scores"]["ents_per_lang"]["de"]["n_docs"] == 3
    markdown = (project / "metrics" / "conll" / "report.md").read_text(encoding="utf8")
    assert "| pipeline | de | en | es | nl | avg (de, es, nl) | words/s |" in markdown
    assert (project / "metrics" / "conll" / "report.png").read_bytes()[:4] == b"\x89PNG"

    wheel = project / "packages" / "xx_tiny_workflow-0.1.0" / "dist" / "xx_tiny_workflow-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read("xx_tiny_workflow-0.1.0.dist-info/METADATA").decode("utf8")
        meta = json.loads(archive.read("xx_tiny_workflow/meta.json"))
    requires = [line.split(":", 1)[1].strip() for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    assert any(requirement.startswith("spacy-mclner") for requirement in requires), requires
    assert meta["pipeline"] == ["mclner"]

    lock = srsly.read_yaml(project / "project.lock")
    assert set(COMMANDS) <= set(lock)
    rerun = run_all(project, variables)  # nothing changed: every step is skipped
    assert all(f"Skipping '{command}': nothing changed" in rerun for command in COMMANDS), rerun
