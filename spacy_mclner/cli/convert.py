"""`convert`: a token<TAB>label file into a .spacy file."""
from pathlib import Path

import typer

from ._util import app


@app.command("convert")
def convert_cli(
    input_path: Path = typer.Argument(..., help="token<TAB>label file (CoNLL / PAN-X layout)"),
    output_path: Path = typer.Argument(..., help="Output .spacy file"),
    lang: str = typer.Option(..., "--lang", help="Language code recorded on every doc"),
    limit: int = typer.Option(0, "--limit", help="Keep only the first N sentences (0: all)"),
) -> None:
    """Convert a token<TAB>label file into a .spacy file, one sentence per Doc."""
    from ..data.corpus import convert_file

    n_docs = convert_file(input_path, output_path, lang=lang, limit=limit)
    typer.echo(f"Wrote {n_docs} docs to {output_path}")
