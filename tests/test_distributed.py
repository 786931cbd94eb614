"""Annotating in shards on a local Ray cluster: what one process writes, with 1 worker or 2, resumable
after a failure without taking a partial file for a finished one, and refusing a changed input."""

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Dict, List, Tuple

import pytest
import ray
import spacy
from spacy.language import Language
from spacy.tokens import DocBin
from spacy.vocab import Vocab
from typer.testing import CliRunner

from spacy_mclner.cli import app
from spacy_mclner.cli.annotate import annotate
from spacy_mclner.data.annotations import get_teacher_distributions
from spacy_mclner.data.documents import read_documents
from spacy_mclner.distributed.ray_engine import (
    ShardAnnotator,
    annotate_with_ray,
    annotation_plan,
    model_fingerprint,
    run_shards,
)
from spacy_mclner.distributed.shards import MANIFEST, Shard, document_reader, plan_shards, shard_items

from .helpers import TRAIN_DATA

TEXTS = [text for text, _ in TRAIN_DATA] + ["Angela Merkel und Barack Obama in München .", "Siemens works for Google ."]
SHARD_SIZE = 7


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 docs in two files, with blank lines, CRLF line ends and multi-byte characters: shard 2 spans both files."""
    folder = tmp_path_factory.mktemp("corpus")
    lines = [TEXTS[i % len(TEXTS)] + f" {i}" for i in range(17)]
    lines[5:5] = ["", "  "]
    (folder / "a.txt").write_bytes("\r\n".join(lines).encode("utf8") + b"\n")
    records = [json.dumps({"id": i, "text": TEXTS[i % len(TEXTS)]}, ensure_ascii=False) for i in range(13)]
    (folder / "b.jsonl").write_text("\n".join(records) + "\n", encoding="utf8")
    return folder


@pytest.fixture(scope="module")
def pipeline(trained: Language, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pipeline") / "nlp"
    trained.to_disk(path)
    return path


@pytest.fixture(scope="module")
def cluster():
    ray.init(address="local", num_cpus=2, include_dashboard=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def two_workers(cluster, pipeline: Path, corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted run on 2 workers, into JSONL shards."""
    output = tmp_path_factory.mktemp("two") / "out"
    run = annotate_with_ray(
        pipeline, corpus, output, workers=2, output_format="jsonl", shard_size=SHARD_SIZE, lang="de"
    )
    assert (run.shards, run.done_now, run.docs) == (5, 5, 30)
    return output


def unwrapped(output: str) -> str:
    """The CLI's error without the box and line breaks that typer draws around it."""
    return " ".join(output.replace("│", " ").split())


def shard_docs(folder: Path) -> Dict[str, List[Tuple]]:
    """Each .spacy shard's docs: their annotation, entity scores and recorded language."""
    vocab = Vocab()
    return {
        path.name: [
            (doc.to_json(), [ent._.mclner_score for ent in doc.ents], doc.user_data["mclner_lang"])
            for doc in DocBin().from_disk(path).get_docs(vocab)
        ]
        for path in sorted(folder.glob("*.spacy"))
    }


def shard_texts(folder: Path, suffix: str = "jsonl") -> Dict[str, str]:
    return {path.name: path.read_text(encoding="utf8") for path in sorted(folder.glob(f"*.{suffix}"))}


def shard_records(folder: Path, score_tolerance: float = 1e-6) -> Dict[str, list]:
    """The JSONL shards' records, each entity's score compared within `score_tolerance`.

    A worker runs torch on as many threads as it has CPUs, and on some CPUs 1 and 2 threads sum
    in orders that move a score in its 7th decimal (seen here: 1.2e-7); all else must be equal.
    """
    shards = {}
    for name, text in shard_texts(folder).items():
        records = [json.loads(line) for line in text.splitlines()]
        for record in records:
            for ent in record["ents"]:
                ent["score"] = pytest.approx(ent["score"], abs=score_tolerance)
        shards[name] = records
    return shards


def test_the_shards_cover_the_input_in_order_from_where_each_begins(
    pipeline: Path, corpus: Path, tmp_path: Path
) -> None:
    shutil.copytree(corpus, tmp_path / "in")
    DocBin(docs=[spacy.blank("xx").make_doc(text) for text in TEXTS * 2]).to_disk(tmp_path / "in" / "c.spacy")
    vocab = Vocab()
    expected = [(str(t), r) for t, r in read_documents(tmp_path / "in", vocab)]
    assert len(expected) == 30 + 2 * len(TEXTS)
    for size in (1, 4, SHARD_SIZE, 100):
        plan = annotation_plan(
            str(pipeline), tmp_path / "in", tmp_path / f"out{size}", output_format="jsonl", lang=None, shard_size=size
        )
        assert [shard.docs for shard in plan.shards[:-1]] == [size] * (len(plan.shards) - 1)
        got = [(str(t), r) for shard in plan.shards for t, r in shard_items(plan.files, shard, document_reader(vocab))]
        assert got == expected
        # The plan that the manifest keeps is the one a rerun finds.
        again = annotation_plan(
            str(pipeline), tmp_path / "in", tmp_path / f"out{size}", output_format="jsonl", lang=None, shard_size=size
        )
        assert again.shards == plan.shards
    assert plan_shards([], 3) == []


def test_ray_shards_hold_what_one_process_writes(
    two_workers: Path, pipeline: Path, corpus: Path, tmp_path: Path
) -> None:
    annotate(pipeline, corpus, tmp_path / "local.jsonl", lang="de")
    local = (tmp_path / "local.jsonl").read_text(encoding="utf8")
    shards = shard_texts(two_workers)
    assert list(shards) == [f"{i:05d}.jsonl" for i in range(5)]
    assert "".join(shards.values()) == local
    records = [json.loads(line) for line in local.splitlines()]
    assert sum(len(record["ents"]) for record in records) > 10 and records[-1]["id"] == 12


def test_one_worker_writes_what_two_write(two_workers: Path, pipeline: Path, corpus: Path, tmp_path: Path) -> None:
    args = ["annotate", str(pipeline), str(corpus), str(tmp_path / "one"), "--engine", "ray", "--workers", "1"]
    result = CliRunner().invoke(app, [*args, "--format", "jsonl", "--shard-size", str(SHARD_SIZE), "--lang", "de"])
    assert result.exit_code == 0, result.output
    assert "Annotated 30 docs" in result.output and "in 5 shards" in result.output
    assert shard_records(tmp_path / "one") == shard_records(two_workers)  # 2 threads in one worker, 1 in each of two


def test_a_rerun_after_failures_does_only_the_missing_spacy_shards(
    pipeline: Path, corpus: Path, tmp_path: Path
) -> None:
    """The .spacy shards end up as the local engine writes them into a folder, the same docs in the same shards."""
    annotate(pipeline, corpus, tmp_path / "local", lang="de", shard_size=SHARD_SIZE)
    expected = shard_docs(tmp_path / "local")
    assert list(expected) == [f"{i:05d}.spacy" for i in range(5)]
    output = tmp_path / "out"
    settings = {"workers": 2, "shard_size": SHARD_SIZE, "lang": "de"}
    model = str(pipeline.resolve())
    annotation_plan(model, corpus, output, output_format="spacy", lang="de", shard_size=SHARD_SIZE)  # the manifest
    (output / "00002.spacy.partial").mkdir()  # shard 2's file cannot be written: its worker fails on it
    (output / "00003.spacy.partial").write_bytes(b"half a shard")  # left by a worker that died
    with pytest.raises(
        RuntimeError, match=r"(?s)1 of the 5 shards to do failed, 4 are written:\n  shard 00002: IsADirectoryError"
    ):
        annotate_with_ray(pipeline, corpus, output, **settings)
    assert shard_docs(output) == {name: docs for name, docs in expected.items() if name != "00002.spacy"}
    # A worker that died while it wrote shard 4: its partial file must not pass for a finished one.
    (output / "00004.spacy").rename(output / "00004.spacy.partial")
    written = {name: (output / name).stat().st_mtime_ns for name in ("00000.spacy", "00001.spacy", "00003.spacy")}

    (output / "00002.spacy.partial").rmdir()
    run = annotate_with_ray(pipeline, corpus, output, **settings)
    assert (run.shards, run.done_before, run.done_now, run.docs) == (5, 3, 2, 9)
    assert shard_docs(output) == expected
    assert {name: (output / name).stat().st_mtime_ns for name in written} == written  # not redone
    assert not list(output.glob("*.partial"))
    assert annotate_with_ray(pipeline, corpus, output, **settings).done_now == 0


class ShardKillingAnnotator(ShardAnnotator):
    """A worker whose process dies on shard 00002, as one would on a document too large for its
    memory; it counts its tries in the file `tries`, and past 5 it raises instead, so that a run
    that retries without a bound fails this test instead of hanging it."""

    def __init__(self, *args, tries: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.tries = Path(tries)

    def do_shard(self, shard: Shard, output: Path) -> Dict[str, int]:
        if shard.id == "00002":
            with self.tries.open("a") as tries:
                tries.write("x")
            if len(self.tries.read_text()) <= 5:
                os._exit(1)
            raise RuntimeError("retried past its bound")
        return super().do_shard(shard, output)


def test_a_shard_that_kills_its_worker_stops_the_run_after_its_restarts(
    two_workers: Path, pipeline: Path, corpus: Path, tmp_path: Path
) -> None:
    output, tries = tmp_path / "out", tmp_path / "tries"
    model = str(pipeline.resolve())
    plan = annotation_plan(model, corpus, output, output_format="jsonl", lang="de", shard_size=SHARD_SIZE)
    worker_args = {"model": model, "lang": "de", "batch_size": 64, "tries": str(tries)}
    with pytest.raises(RuntimeError, match=r"A worker died 2 times .* the same command again does the shards") as error:
        run_shards(plan, output, ShardKillingAnnotator, worker_args, workers=1, worker_restarts=1)
    assert tries.read_text() == "xx"  # the first try and one retry
    expected = shard_records(two_workers)
    written = shard_records(output)
    assert "00002.jsonl" not in written and all(expected[name] == records for name, records in written.items())
    assert f"{len(written)} of the 5 shards are written." in str(error.value)
    # The stopped run's workers are gone: the next run on the same cluster gets their CPUs.
    settings = {"workers": 1, "output_format": "jsonl", "shard_size": SHARD_SIZE, "lang": "de"}
    run = annotate_with_ray(pipeline, corpus, output, **settings)
    assert run.done_before == len(written) and shard_records(output) == expected


def test_a_changed_input_or_other_settings_are_refused(
    two_workers: Path, pipeline: Path, corpus: Path, tmp_path: Path
) -> None:
    output = tmp_path / "out"
    shutil.copytree(two_workers, output)
    shutil.copytree(corpus, tmp_path / "in")
    settings = {"workers": 2, "output_format": "jsonl", "shard_size": SHARD_SIZE, "lang": "de"}
    with (tmp_path / "in" / "b.jsonl").open("a", encoding="utf8") as more:
        more.write(json.dumps({"text": "Siemens ."}) + "\n")
    with pytest.raises(ValueError, match=r"The input is not the one whose outputs .* holds: changed: b\.jsonl"):
        annotate_with_ray(pipeline, tmp_path / "in", output, **settings)
    (tmp_path / "in" / "b.jsonl").unlink()
    with pytest.raises(ValueError, match=r"its files were \['a.txt', 'b.jsonl'\], they are now \['a.txt'\]"):
        annotate_with_ray(pipeline, tmp_path / "in", output, **settings)
    with pytest.raises(ValueError, match=r"other settings \(shard_size 7 there, 8 now\)"):
        annotate_with_ray(pipeline, corpus, output, **{**settings, "shard_size": 8})
    with pytest.raises(ValueError, match=r"other settings \(lang 'de' there, None now\)"):
        annotate_with_ray(pipeline, corpus, output, **{**settings, "lang": None})
    # Another model under the same name (retrained in place, say): its shards are not the old model's.
    meta = pipeline / "meta.json"
    original = meta.read_bytes()
    try:
        meta.write_bytes(original.replace(b"{", b'{"retrained": true, ', 1))
        with pytest.raises(ValueError, match=r"other settings \(model_sha256 '[0-9a-f]{64}' there, '[0-9a-f]{64}' now\)"):
            annotate_with_ray(pipeline, corpus, output, **settings)
    finally:
        meta.write_bytes(original)
    with pytest.raises(FileNotFoundError, match="is neither a pipeline folder nor an installed pipeline package"):
        annotate_with_ray(tmp_path / "no-model", corpus, output, **settings)
    (output / MANIFEST).unlink()
    with pytest.raises(ValueError, match="holds files but no manifest.json"):
        annotate_with_ray(pipeline, corpus, output, **settings)
    assert shard_texts(output) == shard_texts(two_workers)  # nothing was touched


def test_an_installed_package_is_fingerprinted_by_its_pipeline_folder(
    pipeline: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "xx_demo"
    shutil.copytree(pipeline, package / "xx_demo-0.1.0")
    (package / "__init__.py").write_text("")
    monkeypatch.setattr(spacy.util, "is_package", lambda name: name == "xx_demo")
    monkeypatch.setattr(spacy.util, "get_package_path", lambda name: package)
    assert model_fingerprint("xx_demo") == model_fingerprint(str(pipeline))  # the package's code is left out
    with pytest.raises(FileNotFoundError, match="xx_other is neither a pipeline folder nor an installed pipeline package"):
        model_fingerprint("xx_other")


@pytest.mark.parametrize(
    "command,options,hint,message",
    [
        ("annotate", ["--engine", "ray", "--workers", "0"], "--workers", "must be at least 1, got 0"),
        ("annotate", ["--engine", "ray", "--cpus-per-worker", "-1"], "--cpus-per-worker", "must be 0 or more"),
        ("annotate", ["--engine", "ray", "--worker-restarts", "-1"], "--worker-restarts", "must be 0 or more, got -1"),
        ("annotate", ["--worker-restarts", "1"], "--worker-restarts", "applies to --engine ray only"),
        ("annotate", ["--engine", "ray", "--format", "csv"], "--format", "expected one of spacy, jsonl"),
        ("annotate", ["--engine", "spark"], "--engine", "expected one of local, ray"),
        ("annotate", ["--workers", "2"], "--workers", "applies to --engine ray only"),
        ("annotate", ["--engine", "ray", "--gpu-id", "0"], "--gpu-id", "applies to --engine local only"),
        ("pseudo-label", ["--lang", "de", "--shard-size", "5"], "--shard-size", "applies to --engine ray only"),
        (
            "pseudo-label",
            ["--lang", "de", "--engine", "ray", "--shard-size", "0"],
            "--shard-size",
            "must be at least 1",
        ),
    ],
)
def test_bad_options_name_themselves(
    command: str, options: List[str], hint: str, message: str, corpus: Path, tmp_path: Path
) -> None:
    result = CliRunner().invoke(app, [command, "model", str(corpus / "a.txt"), str(tmp_path / "out"), *options])
    assert result.exit_code != 0 and hint in result.output and message in unwrapped(result.output), result.output


def test_pseudo_labels_in_shards_are_those_of_one_process(
    cluster, trained: Language, pipeline: Path, tmp_path: Path
) -> None:
    sentences = [text.split() for text, _ in TRAIN_DATA] * 4
    (tmp_path / "unlabeled").write_text("\n\n".join("\n".join(words) for words in sentences) + "\n", encoding="utf8")
    args = [str(pipeline), str(tmp_path / "unlabeled")]
    options = ["--lang", "de", "--threshold", "0.5"]
    local = CliRunner().invoke(
        app, ["pseudo-label", *args, str(tmp_path / "local.spacy"), *options, "--report", str(tmp_path / "local.json")]
    )
    assert local.exit_code == 0, local.output
    ray_options = ["--engine", "ray", "--workers", "2", "--shard-size", "5", "--report", str(tmp_path / "ray.json")]
    sharded = CliRunner().invoke(app, ["pseudo-label", *args, str(tmp_path / "ray"), *options, *ray_options])
    assert sharded.exit_code == 0, sharded.output
    assert "3 shards pseudo-labelled" in sharded.output
    report = json.loads((tmp_path / "local.json").read_text())
    assert json.loads((tmp_path / "ray.json").read_text()) == report and report["kept_sentences"] >= 4
    pipe = trained.get_pipe("mclner")
    vocab = Vocab()

    def labelled(paths: List[Path]) -> List[Tuple]:
        docs = [doc for path in paths for doc in DocBin().from_disk(path).get_docs(vocab)]
        return [
            (doc.to_json(), get_teacher_distributions(doc, pipe.labels, pipe.cfg["max_entity_width"]).tolist())
            for doc in docs
        ]

    assert labelled(sorted((tmp_path / "ray").glob("*.spacy"))) == labelled([tmp_path / "local.spacy"])


def test_a_ray_run_needs_a_folder_and_ray_installed(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = CliRunner().invoke(app, ["annotate", "model", str(corpus), str(tmp_path / "out.jsonl"), "--engine", "ray"])
    assert result.exit_code != 0 and "writes a folder of shards" in result.output
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails, as where it is not installed
    result = CliRunner().invoke(app, ["annotate", "model", str(corpus), str(tmp_path / "out"), "--engine", "ray"])
    assert result.exit_code != 0 and "--engine" in result.output, result.output
    assert 'The Ray engine needs Ray Data: pip install "spacy-mclner[ray]"' in unwrapped(result.output)
