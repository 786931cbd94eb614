"""`footprint`: size, load time and memory, inference words/s and dev F1 of pipelines, in one table."""
from pathlib import Path
from typing import List

import typer

from ._util import app, named_paths


@app.command("footprint")
def footprint_cli(
    models: List[str] = typer.Argument(..., help="NAME=PATH of each pipeline to measure (a trimmed one, spaCy's ner, ...)"),
    speed_data: Path = typer.Option(..., "--speed-data", help="Labelled .spacy file whose docs the inference speed is measured on"),
    dev: List[Path] = typer.Option(..., "--dev", help="Dev .spacy files or folders to score F1 per language on"),
    output: Path = typer.Option(Path("metrics/footprint"), "--output", "-o", help="Writes OUTPUT.json and OUTPUT.md"),
    limit: int = typer.Option(256, "--limit", help="Docs of --speed-data to time"),
    batch_size: int = typer.Option(32, "--batch-size"),
) -> None:
    """What each pipeline costs to ship and run, and what it scores, measured the same way in one run."""
    import spacy

    from ..evaluation.footprint import footprint, footprint_markdown
    from ..util import write_json

    paths = named_paths(models, "MODELS")
    for name, path in paths.items():
        if not (path / "config.cfg").is_file():
            raise typer.BadParameter(f"{name}={path} is not a pipeline folder (no config.cfg)", param_hint="MODELS")
    results = footprint({name: (path, spacy.load(path)) for name, path in paths.items()}, speed_data, dev, limit=limit, batch_size=batch_size)
    write_json(output.with_suffix(".json"), results)
    output.with_suffix(".md").write_text(footprint_markdown(results), encoding="utf8")
    typer.echo(footprint_markdown(results))
