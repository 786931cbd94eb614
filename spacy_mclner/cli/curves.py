"""`curves`: learning curves of training runs and whether each has plateaued."""
from pathlib import Path
from typing import List, Optional

import typer

from ._util import app, named_paths, split_option


@app.command("curves")
def curves_cli(
    runs: List[str] = typer.Argument(..., help="NAME=FOLDER of each `spacy train` run, holding the logger's curve.jsonl, or NAME=FILE.jsonl, such a file itself"),
    targets: str = typer.Option(..., "--targets", help="Comma-separated target languages to average, such as de,es,nl"),
    output: Path = typer.Option(Path("metrics/curves"), "--output", "-o", help="Writes OUTPUT.json, OUTPUT.md and OUTPUT.png"),
    at_steps: Optional[str] = typer.Option(None, "--at-steps", help="Comma-separated steps at which to compare the runs' F1 (and its mean over them)"),
) -> None:
    """Learning curves (target macro F1 against steps) of training runs, and whether each has plateaued."""
    from ..evaluation.curves import curves_report, read_curve

    langs = split_option(targets) or []
    try:
        steps = [int(step) for step in split_option(at_steps) or []]
    except ValueError:
        raise typer.BadParameter(f"expected comma-separated step numbers, got {at_steps!r}", param_hint="--at-steps")
    curves = [
        read_curve(name, path if path.suffix == ".jsonl" else path / "curve.jsonl", langs)
        for name, path in named_paths(runs, "RUNS").items()
    ]
    typer.echo(curves_report(curves, langs, output, at_steps=steps))
