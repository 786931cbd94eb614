"""`report`: pipelines compared side by side on the same dev sets."""
from pathlib import Path
from typing import List, Optional

import typer

from ._util import app, named_paths, split_option, use_gpu


@app.command("report")
def report_cli(
    pipelines: List[str] = typer.Argument(..., help="NAME=PATH of each pipeline (folder or package) to compare, in table order"),
    data: List[Path] = typer.Option(..., "--data", help=".spacy file, folder of them, or token<TAB>label file; repeatable"),
    output: Path = typer.Option(Path("metrics/report"), "--output", "-o", help="Writes OUTPUT.json, OUTPUT.md, OUTPUT.png and OUTPUT.html (dev sentences, gold and predicted entities)"),
    source_lang: str = typer.Option("en", "--source", help="Source language, left out of the target average"),
    lang: Optional[str] = typer.Option(None, "--lang", help="Language of token<TAB>label files (default: from the file or folder name)"),
    limit: int = typer.Option(0, "--limit", help="Evaluate only the first N docs of each file (0: all)"),
    batch_size: int = typer.Option(64, "--batch-size"),
    labels: Optional[str] = typer.Option(None, "--labels", help="Comma-separated entity types to keep in the predictions"),
    self_training: Optional[Path] = typer.Option(None, "--self-training", help="Run folder of `self-train`: adds each finished round's pipeline, named round-K, after PIPELINES"),
    gpu_id: int = typer.Option(-1, "--gpu-id", help="GPU to run on (-1: CPU)"),
) -> None:
    """Compare pipelines side by side: F1 per language and type, target macro F1, bar chart."""
    from ..evaluation.report import compare_pipelines, report_markdown, write_report
    from ..selftrain.rounds import kept_teachers, round_models

    named = {name: str(path) for name, path in named_paths(pipelines, "PIPELINES").items()}
    same_as = kept_teachers(self_training) if self_training is not None else {}
    if self_training is not None:
        for name, path in round_models(self_training).items():
            if name in named:
                raise typer.BadParameter(f"pipeline name {name!r} is also a round of --self-training", param_hint="PIPELINES")
            named[name] = str(path)
    use_gpu(gpu_id)
    report, predictions = compare_pipelines(
        named, data, source_lang=source_lang, lang=lang, limit=limit, batch_size=batch_size,
        labels=split_option(labels), same_as=same_as,
    )
    paths = write_report(report, output, predictions)
    typer.echo(report_markdown(report))
    typer.echo(f"Wrote {', '.join(map(str, paths))}")
