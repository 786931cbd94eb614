"""`bench`: inference, encoder and training speed of pipelines, and their peak memory, on this machine."""
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import typer

from ._util import app


@app.command("bench")
def bench_cli(
    models: List[Path] = typer.Argument(..., help="Trained pipeline folders to compare"),
    data: Path = typer.Option(..., "--data", help="Labelled .spacy file to run on"),
    output: Path = typer.Option(Path("metrics/bench"), "--output", "-o", help="Writes OUTPUT.json and OUTPUT.md"),
    limit: int = typer.Option(512, "--limit", help="Docs to run inference on"),
    batch_size: int = typer.Option(32, "--batch-size"),
    train_batches: int = typer.Option(8, "--train-batches"),
    train_data: Optional[Path] = typer.Option(None, "--train-data", help="Train on this labelled .spacy file's sentences (shuffled) instead of --data"),
    views: Optional[Path] = typer.Option(None, "--views", help="Code-switched views of --train-data (from codeswitch): the source stage with views"),
    train_batch_words: int = typer.Option(250, "--train-batch-words", help="Padded words per training batch with --train-data"),
    train_limit: int = typer.Option(0, "--train-limit", help="Use only the first N sentences of --train-data (and their views); 0: all"),
    memory: bool = typer.Option(True, "--memory/--no-memory", help="Also measure peak memory on a 50- and a 5,000-word doc"),
) -> None:
    """Inference, encoder-forward and training words/s of each pipeline, and peak memory, on this machine."""
    from ..evaluation.bench import bench_markdown

    if views is not None and train_data is None:
        raise typer.BadParameter("--views needs --train-data, the sentences they were made from", param_hint="--views")
    results = bench(
        models,
        data,
        output,
        limit=limit,
        batch_size=batch_size,
        train_batches=train_batches,
        train_data=train_data,
        views=views,
        train_batch_words=train_batch_words,
        train_limit=train_limit,
        memory=memory,
    )
    typer.echo(bench_markdown(results))


def bench(
    models: Sequence[Path],
    data: Path,
    output: Path,
    *,
    limit: int = 512,
    batch_size: int = 32,
    train_batches: int = 8,
    train_data: Optional[Path] = None,
    views: Optional[Path] = None,
    train_batch_words: int = 250,
    train_limit: int = 0,
    memory: bool = True,
) -> Dict[str, Dict[str, Any]]:
    """Bench the pipelines in one interleaved run; writes OUTPUT.json and OUTPUT.md."""
    import spacy

    from ..evaluation.bench import bench_markdown, bench_memory, bench_pipelines, load_examples, multiview_batches
    from ..util import write_json

    pipelines = {}
    for model in models:
        nlp = spacy.load(model)
        pipelines[str(model)] = (nlp, load_examples(nlp, data, limit))
    training = None if train_data is None else multiview_batches(train_data, views, train_batch_words, train_batches, train_limit)
    results = bench_pipelines(pipelines, batch_size=batch_size, train_batches=train_batches, training_batches=training)
    if memory:
        for model in models:
            results[str(model)]["memory"] = bench_memory(model, pipelines[str(model)][1])
    write_json(output.with_suffix(".json"), results)
    output.with_suffix(".md").write_text(bench_markdown(results), encoding="utf8")
    return results
