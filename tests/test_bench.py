"""The memory part of the benchmark, on a blank pipeline (the speed part: test_pipe.py)."""
import json
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest
import spacy
import srsly

from spacy_mclner.evaluation import bench
from spacy_mclner.evaluation.bench import concatenated_doc, measure_peak_memory, peak_memory

from .helpers import TRAIN_DATA, make_examples

N_WORDS = sum(len(text.split()) for text, _ in TRAIN_DATA)


def test_concatenated_doc_repeats_the_sentences_with_their_boundaries():
    examples = make_examples(spacy.blank("xx"))
    first = len(TRAIN_DATA[0][0].split())
    doc = concatenated_doc(examples, N_WORDS + first + 2, sentences=True)
    assert len(doc["words"]) == len(doc["spaces"]) == len(doc["sent_starts"]) == N_WORDS + first + 2
    assert doc["words"][N_WORDS : N_WORDS + first] == TRAIN_DATA[0][0].split()
    starts = [i for i, start in enumerate(doc["sent_starts"]) if start]
    assert starts == [0, first, N_WORDS - len(TRAIN_DATA[2][0].split()), N_WORDS, N_WORDS + first]
    assert concatenated_doc(examples, 7, sentences=False)["sent_starts"] is None


@pytest.fixture(scope="module")
def blank_pipeline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("blank") / "pipeline"
    spacy.blank("xx").to_disk(path)
    return path


def test_peak_memory_runs_the_doc_in_a_fresh_process(blank_pipeline: Path):
    doc = concatenated_doc(make_examples(spacy.blank("xx")), 30, sentences=True)
    ballast = bytearray(1 << 30)  # a parent's peak of 1 GB must not show in the child's numbers
    ballast[:: 1 << 12] = b"x" * (1 << 18)  # one byte a page, so that every page is resident
    report = peak_memory(blank_pipeline, doc)
    del ballast
    assert report["n_words"] == 30 and report["sentences"] is True
    assert 20 < report["loaded_mb"] <= report["load_peak_mb"] < 1024  # MB, not KiB or bytes
    assert report["loaded_mb"] * 0.9 <= report["peak_mb"] < report["loaded_mb"] + 100


def test_measure_peak_memory_keeps_a_doc_without_boundaries(
    blank_pipeline: Path, tmp_path: Path, capsys: pytest.CaptureFixture
):
    doc_path = tmp_path / "doc.json"
    srsly.write_json(doc_path, concatenated_doc(make_examples(spacy.blank("xx")), 30, sentences=False))
    measure_peak_memory(str(blank_pipeline), str(doc_path))
    report = json.loads(capsys.readouterr().out)
    assert report["n_words"] == 30 and report["sentences"] is False


def test_bench_memory_compares_the_long_doc_with_the_short_one(monkeypatch: pytest.MonkeyPatch):
    measured: List[Tuple[int, bool]] = []

    def fake_peak_memory(model: Path, doc: Dict[str, Any]) -> Dict[str, float]:
        measured.append((len(doc["words"]), doc["sent_starts"] is not None))
        return {"load_peak_mb": 300.0, "loaded_mb": 100.0, "peak_mb": 100.0 + len(doc["words"])}

    monkeypatch.setattr(bench, "peak_memory", fake_peak_memory)
    result = bench.bench_memory(Path("pipeline"), make_examples(spacy.blank("xx")), words=(5, 50))
    assert measured == [(5, True), (50, True), (5, False), (50, False)]
    assert result["with"] == result["without"] == {
        "short_words": 5,
        "long_words": 50,
        "load_peak_mb": 300.0,
        "loaded_mb": 100.0,
        "short_peak_mb": 105.0,
        "long_peak_mb": 150.0,
        "long_to_short": 150.0 / 105.0,
    }
    speed = {"inference_words_per_second": 1, "encoder_forward_words_per_second": 1, "training_words_per_second": 1,
             "training_words_per_second_first_pass": 1, "inference_gflop": 1, "encoder_forward_gflop": 1}
    markdown = bench.bench_markdown({"x": {**speed, "n_docs": 1, "n_words": 1, "memory": result}})
    assert "| x | with | 300 | 100 | 105 (5 words) | 150 (50 words) | 1.43 |" in markdown
    assert "| x | without |" in markdown
