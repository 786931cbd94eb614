"""`annotate`: run a trained pipeline over text, JSONL or .spacy files, streaming."""
from pathlib import Path
from typing import Optional

import typer

from ._util import app, use_gpu


@app.command("annotate")
def annotate_cli(
    model: Path = typer.Argument(..., help="Trained pipeline folder (or installed package name)"),
    input_path: Path = typer.Argument(..., help="A .txt (one document a line), .jsonl (a `text` field a line) or .spacy file, or a folder of them"),
    output: Path = typer.Argument(..., help="OUTPUT.jsonl (entities with offsets and scores), OUTPUT.spacy, or a folder for .spacy shards"),
    lang: Optional[str] = typer.Option(None, "--lang", help="Record this language on every doc (kept in .spacy output)"),
    batch_size: int = typer.Option(64, "--batch-size"),
    shard_size: int = typer.Option(10_000, "--shard-size", help="Docs per .spacy shard when OUTPUT is a folder"),
    gpu_id: int = typer.Option(-1, "--gpu-id", help="GPU to run on (-1: CPU)"),
) -> None:
    """Annotate documents with a trained pipeline: entities, offsets and scores, in bounded memory."""
    use_gpu(gpu_id)
    n_docs = annotate(model, input_path, output, lang=lang, batch_size=batch_size, shard_size=shard_size)
    typer.echo(f"Annotated {n_docs} docs -> {output}")


def annotate(
    model: Path, input_path: Path, output: Path, *, lang: Optional[str] = None, batch_size: int = 64, shard_size: int = 10_000
) -> int:
    """Annotate every document under `input_path` into `output`; returns the number of docs.

    Documents are read, annotated and written one batch at a time. Each output file is
    written whole or not at all (a `.partial` file until it is complete), so a run that
    dies leaves no output that looks finished.
    """
    import spacy

    from ..data.annotations import validate_lang
    from ..data.documents import OUTPUT_SUFFIXES, count_documents, read_documents, writer_for
    from ..pipeline.annotate import annotate_documents, score_attribute
    from ..util import progress

    if output.suffix and output.suffix not in OUTPUT_SUFFIXES:
        raise typer.BadParameter(f"expected OUTPUT.jsonl, OUTPUT.spacy or a folder, got {output}", param_hint="OUTPUT")
    if shard_size < 1:
        raise typer.BadParameter(f"must be at least 1, got {shard_size}", param_hint="--shard-size")
    if lang is not None:
        validate_lang(lang)
    nlp = spacy.load(model)
    n_docs = 0
    with writer_for(output, score_attribute(nlp), shard_size) as writer:
        annotated = annotate_documents(nlp, read_documents(input_path, nlp.vocab), lang=lang, batch_size=batch_size)
        for doc, record in progress(annotated, total=count_documents(input_path), desc="annotate"):
            writer.write(doc, record)
            n_docs += 1
    return n_docs
