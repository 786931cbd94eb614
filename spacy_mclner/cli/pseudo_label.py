"""`pseudo-label`: a trained pipeline labels target text, keeping the sentences it is sure of."""
from pathlib import Path
from typing import Optional

import typer

from ..distributed import WORKER_RESTARTS
from ._util import (
    CPUS_PER_WORKER_HELP,
    ENGINE_HELP,
    PSEUDO_LABEL_THRESHOLD,
    RAY_ADDRESS_HELP,
    WORKER_RESTARTS_HELP,
    WORKERS_HELP,
    app,
    check_engine,
    check_ray_options,
    split_option,
)

# The options that only the Ray engine reads.
RAY_OPTIONS = {
    "workers": "--workers",
    "cpus_per_worker": "--cpus-per-worker",
    "ray_address": "--ray-address",
    "worker_restarts": "--worker-restarts",
    "shard_size": "--shard-size",
}


@app.command("pseudo-label")
def pseudo_label_cli(
    ctx: typer.Context,
    model: Path = typer.Argument(..., help="Trained pipeline folder with an mclner pipe: the teacher"),
    unlabeled: Path = typer.Argument(..., help="Target text: one token a line, blank line between sentences (the benchmarks' `unlabeled`), or with --text one sentence a line"),
    output: Path = typer.Argument(..., help="Output .spacy file of the kept, pseudo-labelled sentences (with --engine ray: a folder of .spacy shards)"),
    lang: str = typer.Option(..., "--lang", help="Language of the text (a code spaCy or CLDR knows)"),
    threshold: float = typer.Option(PSEUDO_LABEL_THRESHOLD, "--threshold", help="Minimal score of every entity of a kept sentence"),
    text: bool = typer.Option(False, "--text", help="UNLABELED is raw text, one sentence a line"),
    limit: int = typer.Option(0, "--limit", help="Pseudo-label only the first N sentences (0: all)"),
    dev: Optional[Path] = typer.Option(None, "--dev", help="Labelled LANG sentences (.spacy file or folder, or token<TAB>label file): report the kept labels' quality on them"),
    dev_limit: int = typer.Option(0, "--dev-limit", help="Score the quality on the first N dev sentences (0: all)"),
    labels: Optional[str] = typer.Option(None, "--labels", help="Comma-separated types to score in the quality (e.g. PER,LOC,ORG for PAN-X)"),
    report: Optional[Path] = typer.Option(None, "--report", help="Write the report as JSON here"),
    batch_size: int = typer.Option(64, "--batch-size"),
    engine: str = typer.Option("local", "--engine", help=ENGINE_HELP),
    workers: int = typer.Option(1, "--workers", help=WORKERS_HELP),
    cpus_per_worker: int = typer.Option(0, "--cpus-per-worker", help=CPUS_PER_WORKER_HELP),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help=RAY_ADDRESS_HELP),
    worker_restarts: int = typer.Option(WORKER_RESTARTS, "--worker-restarts", help=WORKER_RESTARTS_HELP),
    shard_size: int = typer.Option(10_000, "--shard-size", help="--engine ray: sentences per shard, a worker's unit of work"),
) -> None:
    """Label target text with a trained pipeline, keeping the sentences whose every entity is sure and whole."""
    from ..data.corpus import read_gold, read_unlabeled
    from ..pipeline.mclner import load_mclner
    from ..selftrain.pseudo_label import pseudo_label_corpus, pseudo_label_quality
    from ..util import write_json

    check_engine(ctx, engine, RAY_OPTIONS)
    if engine == "ray":
        from ..distributed.ray_engine import pseudo_label_with_ray

        check_ray_options(
            output,
            workers=workers,
            cpus_per_worker=cpus_per_worker,
            shard_size=shard_size,
            worker_restarts=worker_restarts,
        )
        if dev is not None:  # read first: a bad dev file is an error before the run, not after it
            nlp, pipe = load_mclner(model)
            gold = read_gold(dev, nlp, lang, limit=dev_limit)
        run, result = pseudo_label_with_ray(
            model,
            unlabeled,
            output,
            lang=lang,
            threshold=threshold,
            text=text,
            limit=limit,
            workers=workers,
            batch_size=batch_size,
            shard_size=shard_size,
            address=ray_address,
            cpus_per_worker=cpus_per_worker,
            worker_restarts=worker_restarts,
        )
        typer.echo(f"{lang}\t{run.done_now} shards pseudo-labelled, {run.done_before} of {run.shards} found done before")
        if dev is not None:
            result.quality = pseudo_label_quality(
                pipe, gold, threshold=threshold, labels=split_option(labels), batch_size=batch_size
            )
    else:
        nlp, pipe = load_mclner(model)
        docs = read_unlabeled(unlabeled, nlp, lang, text=text, limit=limit)
        gold = read_gold(dev, nlp, lang, limit=dev_limit) if dev is not None else None
        result = pseudo_label_corpus(
            pipe, docs, output, lang=lang, threshold=threshold, gold=gold, labels=split_option(labels), batch_size=batch_size
        )
    typer.echo(
        f"{lang}\tkept {result.kept_sentences} of {result.sentences} sentences, {result.kept_entities} entities "
        f"{result.entities_per_label}\t-> {output}"
    )
    if result.quality is not None:
        quality = result.quality
        typer.echo(
            f"{lang}\tpseudo-label quality on {quality['kept_sentences']} kept of {quality['sentences']} dev sentences: "
            f"P {quality['p']:.4f}\tR {quality['r']:.4f}\tF {quality['f']:.4f}"
        )
    if report is not None:
        write_json(report, result.to_dict())
