"""Vocabulary trimming: the same output on text whose pieces are kept, a smaller pipeline, and a
report of what the dropped pieces change on other text."""
import json
from pathlib import Path
from typing import List

import pytest
import spacy
import torch
import typer
from spacy.language import Language
from transformers import AutoModel, AutoTokenizer, XLMRobertaTokenizer

from spacy_mclner.cli.trim import REPORT_FILE, trim
from spacy_mclner.ml.encoder_runtime import hf_shims
from spacy_mclner.ml.vocab_trim import most_probable_pieces

from .helpers import TRAIN_DATA

KEPT_TEXTS = [text for text, _ in TRAIN_DATA] + ["Die Stadt Paris liegt in Frankreich .", "Google kauft Siemens ."]
# Words never seen in KEPT_TEXTS but spelled with its characters (dropped pieces, re-spelled),
# and two characters it never had (<unk>).
NEW_WORDS = "Bernd fuhr nach Marburg ."
NEW_CHARS = "東 京 ist ."


def _write(path: Path, lines: List[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf8")
    return path


def _folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _dropped_table_bytes(report: dict) -> int:
    """The bytes of the float32 word-piece rows that trimming dropped (the test encoder's width is 384)."""
    return (report["pieces_before"] - report["pieces_kept"]) * 384 * 4


def _predictions(nlp: Language, texts: List[str]) -> list:
    return [[(e.start, e.end, e.label_, round(e._.mclner_score, 6)) for e in doc.ents] for doc in nlp.pipe(texts)]


@pytest.fixture(scope="module")
def trimmed_pipeline(trained: Language, tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("trim")
    trained.to_disk(root / "model")
    counted = _write(root / "en.txt", KEPT_TEXTS)
    check = _write(root / "check.txt", [NEW_WORDS, NEW_CHARS])
    report = trim(root / "model", root / "trimmed", [("en", counted)], 1, [("de", check)])
    return {"root": root, "report": report}


def test_trimmed_pipeline_predicts_the_same_on_kept_text(trimmed_pipeline: dict) -> None:
    root = trimmed_pipeline["root"]
    before, after = spacy.load(root / "model"), spacy.load(root / "trimmed")
    assert _predictions(after, KEPT_TEXTS) == _predictions(before, KEPT_TEXTS)
    assert any(_predictions(before, KEPT_TEXTS))
    # The dropped rows of the word-piece table are gone from the disk (and the tokenizer's entries with them).
    assert _folder_bytes(root / "model") - _folder_bytes(root / "trimmed") > _dropped_table_bytes(trimmed_pipeline["report"])
    (shim,) = hf_shims(after.get_pipe("mclner").model)
    tokenizer, transformer = shim._hfmodel.tokenizer, shim._hfmodel.transformer
    assert transformer.get_input_embeddings().num_embeddings == len(tokenizer) == trimmed_pipeline["report"]["pieces_kept"]
    assert transformer.config.vocab_size == len(tokenizer) < 2000


def test_dropped_pieces_are_respelled_and_counted(trimmed_pipeline: dict) -> None:
    report = trimmed_pipeline["report"]
    on_disk = json.loads((trimmed_pipeline["root"] / "trimmed" / REPORT_FILE).read_text(encoding="utf8"))
    assert on_disk["pieces_kept"] == report["pieces_kept"] and on_disk["min_count"] == 1
    (check,) = report["checks"].values()
    assert check["texts"] == 2 and check["texts_changed"] == 2
    assert 0 < check["dropped_pieces"] < check["pieces"]
    # Only the characters the counted text never had become <unk>: 東 and 京.
    assert check["unk_before"] == 0 and check["unk_after"] == 2
    after = spacy.load(trimmed_pipeline["root"] / "trimmed")
    docs = list(after.pipe([NEW_WORDS, NEW_CHARS]))
    assert [len(doc) for doc in docs] == [5, 4]


def test_float16_storage_halves_the_table_and_keeps_the_predictions(trimmed_pipeline: dict, tmp_path: Path) -> None:
    root = trimmed_pipeline["root"]
    report = trim(root / "model", tmp_path / "fp16", [("en", root / "en.txt")], 1, [], "float16")
    assert report["storage_dtype"] == "float16" and report["pieces_kept"] == trimmed_pipeline["report"]["pieces_kept"]
    assert _folder_bytes(tmp_path / "fp16") < _folder_bytes(root / "trimmed")
    exact, halved = spacy.load(root / "trimmed"), spacy.load(tmp_path / "fp16")
    for ours, theirs in zip(_predictions(halved, KEPT_TEXTS), _predictions(exact, KEPT_TEXTS)):
        assert [e[:3] for e in ours] == [e[:3] for e in theirs]
        assert all(abs(a[3] - b[3]) < 1e-3 for a, b in zip(ours, theirs))
    with pytest.raises(typer.BadParameter, match="float32, float16"):
        trim(root / "model", tmp_path / "bf16", [("en", root / "en.txt")], 1, [], "bfloat16")


def test_trimmed_encoder_folder_computes_the_same_vectors(encoder_dir: Path, tmp_path: Path) -> None:
    counted = _write(tmp_path / "en.txt", KEPT_TEXTS)
    report = trim(Path(encoder_dir), tmp_path / "trimmed", [("en", counted)], 1, [])
    original = AutoTokenizer.from_pretrained(str(encoder_dir), use_fast=True)
    fast = AutoTokenizer.from_pretrained(str(tmp_path / "trimmed"), use_fast=True)
    slow = XLMRobertaTokenizer.from_pretrained(str(tmp_path / "trimmed"))
    assert len(fast) == len(slow) == report["pieces_kept"]
    for text in KEPT_TEXTS + [NEW_WORDS]:
        assert slow(text)["input_ids"] == fast(text)["input_ids"]
    assert [original.tokenize(t) for t in KEPT_TEXTS] == [fast.tokenize(t) for t in KEPT_TEXTS]
    before = AutoModel.from_pretrained(str(encoder_dir)).eval()
    after = AutoModel.from_pretrained(str(tmp_path / "trimmed")).eval()
    with torch.no_grad():
        old = before(**original(KEPT_TEXTS, padding=True, return_tensors="pt")).last_hidden_state
        new = after(**fast(KEPT_TEXTS, padding=True, return_tensors="pt")).last_hidden_state
    assert torch.equal(old, new)


def test_keep_top_also_keeps_the_most_probable_pieces(encoder_dir: Path, tmp_path: Path) -> None:
    counted = [("en", _write(tmp_path / "en.txt", KEPT_TEXTS))]
    plain = trim(Path(encoder_dir), tmp_path / "plain", counted, 1, [])
    top = trim(Path(encoder_dir), tmp_path / "top", counted, 1, [], keep_top=500)
    original = AutoTokenizer.from_pretrained(str(encoder_dir), use_fast=True)
    scored = json.loads(original.backend_tokenizer.to_str())["model"]["vocab"]
    threshold = sorted((score for _, score in scored), reverse=True)[499]
    kept = set(AutoTokenizer.from_pretrained(str(tmp_path / "top"), use_fast=True).get_vocab())
    assert {piece for piece, score in scored if score > threshold} <= kept
    assert plain["pieces_kept"] < top["pieces_kept"] <= plain["pieces_kept"] + 500 and top["keep_top"] == 500
    # Text whose pieces the plain trim kept is segmented as before by both.
    trimmed = AutoTokenizer.from_pretrained(str(tmp_path / "top"), use_fast=True)
    assert [original.tokenize(t) for t in KEPT_TEXTS] == [trimmed.tokenize(t) for t in KEPT_TEXTS]
    with pytest.raises(typer.BadParameter, match="--keep-top|keep_top"):
        trim(Path(encoder_dir), tmp_path / "negative", counted, 1, [], keep_top=-1)


def test_keep_top_reads_the_scores_of_a_pipelines_slow_tokenizer(trimmed_pipeline: dict, tmp_path: Path) -> None:
    root = trimmed_pipeline["root"]
    tokenizer = hf_shims(spacy.load(root / "model").get_pipe("mclner").model)[0]._hfmodel.tokenizer
    top = trim(root / "model", tmp_path / "top", [("en", root / "en.txt")], 1, [], keep_top=500)
    assert trimmed_pipeline["report"]["pieces_kept"] < top["pieces_kept"] <= trimmed_pipeline["report"]["pieces_kept"] + 500
    # The same pieces as the fast tokenizer's scores give.
    assert not tokenizer.is_fast
    tokenizer.save_pretrained(str(tmp_path / "encoder"))
    fast = AutoTokenizer.from_pretrained(str(tmp_path / "encoder"), use_fast=True)
    assert most_probable_pieces(tokenizer, 500) == most_probable_pieces(fast, 500)


def test_trim_refuses_bad_arguments_and_replaces_a_killed_runs_leftovers(trimmed_pipeline: dict, tmp_path: Path) -> None:
    root = trimmed_pipeline["root"]
    counted = [("en", root / "en.txt")]
    with pytest.raises(typer.BadParameter, match="already exists"):
        trim(root / "model", root / "trimmed", counted, 1, [])
    with pytest.raises(typer.BadParameter, match="neither a spaCy pipeline nor a Hugging Face encoder"):
        trim(root, tmp_path / "out", counted, 1, [])
    with pytest.raises(typer.BadParameter, match="missing.txt"):
        trim(root / "model", tmp_path / "out", [("en", root / "missing.txt")], 1, [])
    # A run killed while writing leaves OUTPUT.partial; the next run starts it afresh.
    leftover = tmp_path / "out.partial"
    leftover.mkdir()
    (leftover / "junk").write_text("half-written", encoding="utf8")
    trim(root / "model", tmp_path / "out", counted, 1, [])
    assert not leftover.exists() and not (tmp_path / "out" / "junk").exists()
    assert spacy.load(tmp_path / "out").get_pipe("mclner").labels


def test_footprint_measures_each_pipeline_the_same_way(trimmed_pipeline: dict, tmp_path: Path) -> None:
    from spacy.tokens import DocBin

    from spacy_mclner.evaluation.footprint import footprint, footprint_markdown

    from .helpers import make_examples

    root = trimmed_pipeline["root"]
    dev = tmp_path / "en-dev.spacy"
    DocBin(docs=[eg.reference for eg in make_examples(spacy.blank("xx"))], store_user_data=True).to_disk(dev)
    pipelines = {name: (root / name, spacy.load(root / name)) for name in ("model", "trimmed")}
    results = footprint(pipelines, dev, [dev], limit=3)
    assert results["model"]["disk_mb"] - results["trimmed"]["disk_mb"] > _dropped_table_bytes(trimmed_pipeline["report"]) / 2**20
    for result in results.values():
        assert result["n_docs"] == 3 and result["inference_words_per_second"] > 0
        assert 0 < result["load_seconds"] and 0 < result["loaded_mb"] <= result["load_peak_mb"]
        assert result["dev_f1"] == {"en": 1.0}  # the pipe was overfitted on these sentences
    table = footprint_markdown(results)
    assert table.splitlines()[0].startswith("| pipeline | disk MB |") and "dev F1 en" in table


def test_trim_command_reads_spacy_text_needs_some_text_and_limits_it(trimmed_pipeline: dict, tmp_path: Path) -> None:
    from spacy.tokens import DocBin
    from typer.testing import CliRunner

    from spacy_mclner.cli import app

    root = trimmed_pipeline["root"]
    nlp = spacy.blank("xx")
    DocBin(docs=[nlp.make_doc(text) for text in KEPT_TEXTS]).to_disk(tmp_path / "en.spacy")
    runner = CliRunner()
    done = runner.invoke(app, ["trim", str(root / "model"), str(tmp_path / "out"), "--text", f"en={tmp_path / 'en.spacy'}"])
    assert done.exit_code == 0, done.output
    assert json.loads((tmp_path / "out" / REPORT_FILE).read_text(encoding="utf8"))["pieces_kept"] == trimmed_pipeline["report"]["pieces_kept"]
    refused = runner.invoke(app, ["trim", str(root / "model"), str(tmp_path / "none")])
    assert refused.exit_code != 0 and "give --text" in refused.output and not (tmp_path / "none").exists()
    first = runner.invoke(app, ["trim", str(root / "model"), str(tmp_path / "first"), "--text", f"en={tmp_path / 'en.spacy'}", "--text-limit", "1"])
    assert first.exit_code == 0, first.output
    report = json.loads((tmp_path / "first" / REPORT_FILE).read_text(encoding="utf8"))
    assert report["text_limit"] == 1 and report["pieces_kept"] < trimmed_pipeline["report"]["pieces_kept"]
    negative = runner.invoke(app, ["trim", str(root / "model"), str(tmp_path / "neg"), "--text", f"en={tmp_path / 'en.spacy'}", "--text-limit", "-1"])
    assert negative.exit_code != 0 and "--text-limit" in negative.output
