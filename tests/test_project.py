"""The project workflow `all`, end to end, on tiny data with the 2-layer encoder."""
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import spacy
import srsly
from spacy.tokens import Doc, DocBin, Span

from .test_benchmarks import write_tiny_benchmark

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = ["encoder", "convert", "dictionaries", "codeswitch", "train-baseline", "train-mclner", "self-train", "evaluate", "package"]


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
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ROOT / "project.yml", project)
    shutil.copytree(ROOT / "configs", project / "configs")
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
        "train_sents": 0,
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
    run_all(project, variables)

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
