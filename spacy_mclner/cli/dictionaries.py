"""`dictionaries`: the FreeDict dictionaries the code-switcher reads, in a project folder."""
from pathlib import Path
from typing import Optional

import typer

from ._util import app, freedict_langs_option


@app.command("dictionaries")
def dictionaries_cli(
    out_dir: Path = typer.Argument(..., help="Folder to put the dictionaries in (pass it to codeswitch --freedict-dir)"),
    langs: str = typer.Option(..., "--langs", help="Comma-separated target languages, such as de,es,nl, or none"),
    system_dir: Optional[Path] = typer.Option(None, "--system-dir", help="Where installed FreeDict packages are (default: where Debian installs them)"),
) -> None:
    """Copy each language's FreeDict dictionary from the system, or fetch Debian's package (no root needed)."""
    from ..data.dictionaries import FREEDICT_DIR
    from ..data.freedict_download import provide_freedict

    targets = freedict_langs_option(langs)
    if targets is None:
        raise typer.BadParameter("name the languages (or none): Debian has FreeDict dictionaries for 29", param_hint="--langs")
    out_dir.mkdir(parents=True, exist_ok=True)
    if not targets:
        typer.echo("No FreeDict dictionaries wanted (--langs none): views use CLDR names (and any --dict files) only")
        return
    sources = provide_freedict(targets, out_dir, system_dir=system_dir or FREEDICT_DIR)
    for lang in targets:
        if lang in sources:
            typer.echo(f"{lang}\tFreeDict English-{lang}: {sources[lang]}")
        else:
            typer.echo(f"{lang}\tno FreeDict English-{lang} in Debian: views use CLDR names (and any --dict files) only")
