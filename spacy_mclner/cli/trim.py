"""`trim`: keep only the word pieces that some languages use, in a pipeline or an encoder folder."""
import json
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import typer

from ._util import app, lang_paths, split_option, unlabeled_paths

REPORT_FILE = "trim_report.json"


@app.command("trim")
def trim_cli(
    input_path: Path = typer.Argument(..., help="A trained pipeline folder, or a Hugging Face encoder folder"),
    output: Path = typer.Argument(..., help="Folder to write the trimmed pipeline or encoder to (must not exist)"),
    text: List[str] = typer.Option([], "--text", help="LANG=PATH: text whose word pieces are kept (a token-per-line or token<TAB>label file, .txt one text a line, .jsonl, or .spacy); repeat per file"),
    data: Optional[Path] = typer.Option(None, "--data", help="Benchmark data folder: also count the `unlabeled` file of each of --targets (as self-train reads them)"),
    benchmark: str = typer.Option("conll", "--benchmark", help="conll or panx, for --data"),
    targets: Optional[str] = typer.Option(None, "--targets", help="Comma-separated target languages to read from --data or --unlabeled-dir"),
    unlabeled_dir: str = typer.Option("", "--unlabeled-dir", help="Folder of your own raw target text, LANG.txt or LANG.jsonl for each of --targets; replaces --data's files"),
    min_count: int = typer.Option(1, "--min-count", help="Keep a piece seen at least this often in the text (special tokens and one-character pieces always stay); 3 cost 0.2-0.4 dev F1 where 1 cost at most 0.24 (docs/results.md)"),
    keep_top: int = typer.Option(0, "--keep-top", help="Also keep the N most probable pieces of the tokenizer's model, whatever the text holds (30,000 spared a tenth of the dev pieces dropped on CoNLL; text of more languages spares more: docs/production.md)"),
    text_limit: int = typer.Option(0, "--text-limit", help="Count only the first N texts of each --text file and --data / --unlabeled-dir file (0: all)"),
    check: List[str] = typer.Option([], "--check", help="LANG=PATH: text (dev sets, say) on which the report counts dropped pieces and <unk>; repeat"),
    storage_dtype: str = typer.Option("float32", "--storage-dtype", help="float32 (exact) or float16 (half the word-piece table on disk; vectors move by float16's rounding)"),
) -> None:
    """Trim an encoder's vocabulary to the pieces of the given text: a smaller pipeline or encoder."""
    if min_count < 1:
        raise typer.BadParameter(f"must be at least 1, got {min_count}", param_hint="--min-count")
    if text_limit < 0:
        raise typer.BadParameter(f"must be 0 (all) or more, got {text_limit}", param_hint="--text-limit")
    texts = lang_paths(text, "--text")
    if data is not None or unlabeled_dir or targets:
        texts += list(unlabeled_paths([], None if unlabeled_dir else data, benchmark, split_option(targets), unlabeled_dir).items())
    if not texts:
        raise typer.BadParameter("give --text LANG=PATH, or --data (or --unlabeled-dir) with --targets", param_hint="--text")
    report = trim(input_path, output, texts, min_count, lang_paths(check, "--check"), storage_dtype, text_limit, keep_top)
    typer.echo(
        f"Kept {report['pieces_kept']:,} of {report['pieces_before']:,} word pieces; "
        f"{report['mb_before']:.0f} MB -> {report['mb_after']:.0f} MB: {output} (report: {output / REPORT_FILE})"
    )
    for name, counts in report["checks"].items():
        typer.echo(
            f"  {name}: {counts['dropped_pieces']:,} of {counts['pieces']:,} pieces dropped, "
            f"{counts['texts_changed']:,} of {counts['texts']:,} texts segmented differently, "
            f"<unk> {counts['unk_before']:,} -> {counts['unk_after']:,}"
        )


def trim(
    input_path: Path,
    output: Path,
    texts: List[Tuple[str, Path]],
    min_count: int,
    checks: List[Tuple[str, Path]],
    storage_dtype: str = "float32",
    text_limit: int = 0,
    keep_top: int = 0,
) -> Dict[str, Any]:
    """Write the trimmed copy of `input_path` to `output`, whole or not at all, with its report.

    text_limit: count the first N texts of each file of `texts` (0: all).
    keep_top: also keep the N most probable pieces of the tokenizer's model.
    """
    from ..ml.vocab_trim import STORAGE_DTYPES
    from ..util import folder_mb, written_whole

    if storage_dtype not in STORAGE_DTYPES:
        raise typer.BadParameter(f"expected one of {', '.join(STORAGE_DTYPES)}, got {storage_dtype!r}", param_hint="--storage-dtype")
    if keep_top < 0:
        raise typer.BadParameter(f"keep_top must be 0 (none) or more, got {keep_top}", param_hint="--keep-top")
    is_pipeline = (input_path / "config.cfg").is_file() and (input_path / "meta.json").is_file()
    if not input_path.is_dir() or not (is_pipeline or (input_path / "config.json").is_file()):
        raise typer.BadParameter(f"{input_path} is neither a spaCy pipeline nor a Hugging Face encoder folder", param_hint="INPUT")
    if output.exists():
        raise typer.BadParameter(f"{output} already exists", param_hint="OUTPUT")
    count_texts = _read_texts(texts, "--text", text_limit)
    check_texts = {f"{lang}={path}": _read_texts([(lang, path)], "--check") for lang, path in checks}
    started = time.perf_counter()
    with written_whole(output, folder=True) as partial:
        trimmed = _trim_pipeline if is_pipeline else _trim_encoder
        report = trimmed(input_path, partial, count_texts, min_count, check_texts, storage_dtype, keep_top)
        report.update(
            input=str(input_path),
            texts=[f"{lang}={path}" for lang, path in texts],
            text_limit=text_limit,
            min_count=min_count,
            keep_top=keep_top,
            storage_dtype=storage_dtype,
            seconds=round(time.perf_counter() - started, 1),
            mb_before=round(folder_mb(input_path), 1),
            mb_after=round(folder_mb(partial), 1),
        )
        (partial / REPORT_FILE).write_text(json.dumps(report, indent=2), encoding="utf8")
    return report


def _read_texts(files: List[Tuple[str, Path]], option: str, limit: int = 0) -> List[str]:
    """The texts of each file, the first `limit` of each (0: all)."""
    from itertools import islice

    import spacy

    from ..data.corpus import corpus_files, docbin_docs, read_unlabeled

    nlp = spacy.blank("xx")
    texts = []
    for lang, path in files:
        try:
            if path.is_dir() or path.suffix == ".spacy":
                docs = (doc for file in corpus_files([path]) for doc in docbin_docs(file, nlp.vocab))
            else:
                docs = read_unlabeled(path, nlp, lang, text=path.suffix == ".txt")
            texts.extend(doc.text for doc in islice(docs, limit or None))
        except (OSError, ValueError) as err:
            raise typer.BadParameter(str(err), param_hint=option) from err
    return texts


def _trim_pipeline(
    path: Path, output: Path, texts: List[str], min_count: int, checks: Dict[str, List[str]], storage_dtype: str, keep_top: int
) -> Dict[str, Any]:
    """Trim every transformer inside the pipeline's components (each is counted on its own tokenizer)."""
    import copy

    import spacy

    from ..ml.encoder_runtime import hf_shims
    from ..ml.vocab_trim import count_pieces, pieces_to_keep, trim_hf_shim

    nlp = spacy.load(path)
    shims = [shim for _, pipe in nlp.pipeline if hasattr(pipe, "model") for shim in hf_shims(pipe.model)]
    if len(shims) != 1:
        raise typer.BadParameter(f"pipeline {path} holds {len(shims)} loaded transformers; trim takes one", param_hint="INPUT")
    original = copy.deepcopy(shims[0]._hfmodel.tokenizer)
    kept = pieces_to_keep(original, count_pieces(original, texts), min_count, keep_top)
    trim_hf_shim(shims[0], kept, storage_dtype)
    nlp.to_disk(output)
    return _report(kept, original, shims[0]._hfmodel.tokenizer, checks)


def _trim_encoder(
    path: Path, output: Path, texts: List[str], min_count: int, checks: Dict[str, List[str]], storage_dtype: str, keep_top: int
) -> Dict[str, Any]:
    from transformers import AutoModel, AutoTokenizer

    from ..ml.vocab_trim import count_pieces, pieces_to_keep, trim_embeddings, write_trimmed_tokenizer

    original = AutoTokenizer.from_pretrained(str(path), use_fast=True)
    kept = pieces_to_keep(original, count_pieces(original, texts), min_count, keep_top)
    model = AutoModel.from_pretrained(str(path))
    trim_embeddings(model, kept, storage_dtype)
    model.save_pretrained(str(output))
    trimmed = write_trimmed_tokenizer(original, kept, output)  # saves `original` as it is, then cuts the files
    return _report(kept, original, trimmed, checks)


def _report(kept: Any, original: Any, trimmed: Any, checks: Dict[str, List[str]]) -> Dict[str, Any]:
    from ..ml.vocab_trim import segmentation_report

    return {
        "pieces_before": kept.vocab_size,
        "pieces_kept": len(kept.ids),
        "checks": {name: segmentation_report(original, trimmed, lines) for name, lines in checks.items()},
    }
