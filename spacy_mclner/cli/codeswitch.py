"""`codeswitch`: code-switched views of a labelled English corpus."""
from pathlib import Path
from typing import Dict, List, Optional

import typer

from ._util import app, freedict_langs_option, lang_paths, split_option


@app.command("codeswitch")
def codeswitch_cli(
    source: Path = typer.Argument(..., help="Labelled source .spacy file (from convert)"),
    output: Path = typer.Argument(..., help="Output .spacy file of code-switched views"),
    langs: str = typer.Option(..., "--langs", help="Comma-separated target languages, such as de,es,nl,zh"),
    dicts: List[str] = typer.Option([], "--dict", help="LANG=PATH of a MUSE word-pair file (en<TAB>target); repeatable"),
    cldr: bool = typer.Option(True, "--cldr/--no-cldr", help="Use CLDR country and language names (babel)"),
    freedict_langs: str = typer.Option("all", "--freedict-langs", help="Languages that read Debian's FreeDict dictionary from --freedict-dir: all (every one Debian has), none, or a comma-separated list"),
    freedict_dir: Optional[Path] = typer.Option(None, "--freedict-dir", help="Folder of the FreeDict files (`dictionaries` fills one without root); default: where Debian installs them"),
    seed: int = typer.Option(0, "--seed"),
    views: int = typer.Option(1, "--views", help="Views per source sentence and language"),
    langs_per_doc: int = typer.Option(0, "--langs-per-doc", help="Languages drawn at random for each source sentence (0: every language)"),
    word_prob: float = typer.Option(0.3, "--word-prob", help="Probability of switching a translatable phrase outside entities"),
    limit: int = typer.Option(0, "--limit", help="Use only the first N source docs (0: all)"),
    report: Optional[Path] = typer.Option(None, "--report", help="Write the coverage report as JSON here"),
) -> None:
    """Make code-switched views of an English corpus: entities and some words translated."""
    from ..data.codeswitch import codeswitch_file
    from ..data.dictionaries import FREEDICT_DIR

    word_pair_paths: Dict[str, List[Path]] = {}
    for lang, path in lang_paths(dicts, "--dict"):
        word_pair_paths.setdefault(lang, []).append(path)
    result = codeswitch_file(
        source,
        output,
        split_option(langs) or [],
        seed=seed,
        n_views=views,
        word_prob=word_prob,
        word_pair_paths=word_pair_paths,
        cldr=cldr,
        freedict_langs=freedict_langs_option(freedict_langs),
        freedict_dir=freedict_dir or FREEDICT_DIR,
        limit=limit,
        report_path=report,
        langs_per_doc=langs_per_doc,
    )
    for lang, coverage in result["coverage"].items():
        typer.echo(
            f"{lang}\t{coverage['sentences']} views\tentities switched {coverage['entities_switched_share']:.1%} "
            f"of {coverage['entities']}\twords switched {coverage['words_switched_share']:.1%} of {coverage['words']}"
        )
    typer.echo(f"Wrote views to {output}")
