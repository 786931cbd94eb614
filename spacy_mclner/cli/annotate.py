"""`annotate`: run a trained pipeline over text, JSONL or .spacy files, streaming, or in shards over a Ray cluster."""
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from ..distributed import WORKER_RESTARTS
from ._util import (
    CPUS_PER_WORKER_HELP,
    ENGINE_HELP,
    RAY_ADDRESS_HELP,
    WORKER_RESTARTS_HELP,
    WORKERS_HELP,
    app,
    check_engine,
    check_ray_options,
    use_gpu,
)

if TYPE_CHECKING:
    from ..distributed.ray_engine import ShardedRun

# The options that only the Ray engine reads.
RAY_OPTIONS = {
    "workers": "--workers",
    "cpus_per_worker": "--cpus-per-worker",
    "ray_address": "--ray-address",
    "worker_restarts": "--worker-restarts",
    "output_format": "--format",
}


@app.command("annotate")
def annotate_cli(
    ctx: typer.Context,
    model: Path = typer.Argument(..., help="Trained pipeline folder (or installed package name)"),
    input_path: Path = typer.Argument(..., help="A .txt (one document a line), .jsonl (a `text` field a line) or .spacy file, or a folder of them"),
    output: Path = typer.Argument(..., help="OUTPUT.jsonl (entities with offsets and scores), OUTPUT.spacy, or a folder for .spacy shards (with --engine ray: a folder)"),
    lang: Optional[str] = typer.Option(None, "--lang", help="Record this language on every doc (kept in .spacy output)"),
    batch_size: int = typer.Option(64, "--batch-size"),
    shard_size: int = typer.Option(10_000, "--shard-size", help="Docs per shard when OUTPUT is a folder (with --engine ray, a worker's unit of work)"),
    gpu_id: int = typer.Option(-1, "--gpu-id", help="GPU to run on (-1: CPU)"),
    engine: str = typer.Option("local", "--engine", help=ENGINE_HELP),
    workers: int = typer.Option(1, "--workers", help=WORKERS_HELP),
    cpus_per_worker: int = typer.Option(0, "--cpus-per-worker", help=CPUS_PER_WORKER_HELP),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help=RAY_ADDRESS_HELP),
    worker_restarts: int = typer.Option(WORKER_RESTARTS, "--worker-restarts", help=WORKER_RESTARTS_HELP),
    output_format: str = typer.Option("spacy", "--format", help="--engine ray: each shard's file, spacy or jsonl"),
) -> None:
    """Annotate documents with a trained pipeline: entities, offsets and scores, in bounded memory."""
    check_engine(ctx, engine, RAY_OPTIONS)
    if engine == "local":
        use_gpu(gpu_id)
        n_docs = annotate(model, input_path, output, lang=lang, batch_size=batch_size, shard_size=shard_size)
        typer.echo(f"Annotated {n_docs} docs -> {output}")
        return
    check_ray_options(
        output,
        workers=workers,
        cpus_per_worker=cpus_per_worker,
        shard_size=shard_size,
        worker_restarts=worker_restarts,
        gpu_id=gpu_id,
    )
    run = annotate_sharded(
        model,
        input_path,
        output,
        lang=lang,
        batch_size=batch_size,
        shard_size=shard_size,
        workers=workers,
        cpus_per_worker=cpus_per_worker,
        ray_address=ray_address,
        output_format=output_format,
        worker_restarts=worker_restarts,
    )
    typer.echo(
        f"Annotated {run.docs} docs ({run.words} words) in {run.done_now} shards in {run.seconds:.1f} s, "
        f"{run.done_before} of {run.shards} shards found done before -> {output}"
    )


def annotate(
    model: Path, input_path: Path, output: Path, *, lang: Optional[str] = None, batch_size: int = 64, shard_size: int = 10_000
) -> int:
    """Annotate every document under `input_path` into `output`; returns the number of docs.

    Documents are read, annotated and written one batch at a time. Each output file is
    written whole or not at all (a `.partial` file until it is complete), so a run that
    dies leaves no output that looks finished.
    """
    import spacy

    from ..data.documents import OUTPUT_SUFFIXES, count_documents, read_documents, writer_for
    from ..pipeline.annotate import annotate_documents, score_attribute
    from ..util import progress

    if output.suffix and output.suffix not in OUTPUT_SUFFIXES:
        raise typer.BadParameter(f"expected OUTPUT.jsonl, OUTPUT.spacy or a folder, got {output}", param_hint="OUTPUT")
    _check_common_options(lang, shard_size)
    nlp = spacy.load(model)
    n_docs = 0
    with writer_for(output, score_attribute(nlp), shard_size) as writer:
        annotated = annotate_documents(nlp, read_documents(input_path, nlp.vocab), lang=lang, batch_size=batch_size)
        for doc, record in progress(annotated, total=count_documents(input_path), desc="annotate"):
            writer.write(doc, record)
            n_docs += 1
    return n_docs


def annotate_sharded(
    model: Path,
    input_path: Path,
    output: Path,
    *,
    lang: Optional[str] = None,
    batch_size: int = 64,
    shard_size: int = 10_000,
    workers: int = 1,
    cpus_per_worker: int = 0,
    ray_address: Optional[str] = None,
    output_format: str = "spacy",
    worker_restarts: int = WORKER_RESTARTS,
) -> "ShardedRun":
    """Annotate `input_path` into the folder `output` in shards on a Ray cluster; a rerun does the unfinished ones."""
    from ..distributed.ray_engine import OUTPUT_FORMATS, annotate_with_ray

    if output_format not in OUTPUT_FORMATS:
        expected = ", ".join(OUTPUT_FORMATS)
        raise typer.BadParameter(f"expected one of {expected}, got {output_format!r}", param_hint="--format")
    _check_common_options(lang, shard_size)
    return annotate_with_ray(
        model,
        input_path,
        output,
        workers=workers,
        output_format=output_format,
        lang=lang,
        batch_size=batch_size,
        shard_size=shard_size,
        address=ray_address,
        cpus_per_worker=cpus_per_worker,
        worker_restarts=worker_restarts,
    )


def _check_common_options(lang: Optional[str], shard_size: int) -> None:
    from ..data.annotations import validate_lang

    if shard_size < 1:
        raise typer.BadParameter(f"must be at least 1, got {shard_size}", param_hint="--shard-size")
    if lang is not None:
        validate_lang(lang)
