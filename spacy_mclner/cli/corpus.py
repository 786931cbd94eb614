"""`corpus` and `unpack`: the benchmark data laid out and converted for training."""
from pathlib import Path
from typing import Optional

import typer

from ._util import app, split_option


@app.command("corpus")
def corpus_cli(
    data_dir: Path = typer.Argument(..., help="Benchmark data folder: conll2003/{en,de}, conll2002/{es,nl}, panx/LANG, as the README says (unused with --train)"),
    out_dir: Path = typer.Argument(..., help="Writes OUT/train.spacy and OUT/dev/LANG.spacy"),
    benchmark: str = typer.Option("conll", "--benchmark", help="conll (CoNLL-2002/2003) or panx (PAN-X)"),
    source: str = typer.Option("en", "--source", help="Labelled source language"),
    targets: str = typer.Option(..., "--targets", help="Comma-separated target languages, such as de,es,nl"),
    train_limit: int = typer.Option(0, "--train-limit", help="Keep the first N source training sentences (0: all)"),
    train: str = typer.Option("", "--train", help="Your own labelled source data instead of the benchmark's (.spacy file or folder, or token<TAB>label file; any entity labels); needs --dev"),
    dev: str = typer.Option("", "--dev", help="Your own labelled dev data, every target language in it (files named LANG.spacy / LANG-dev.tsv, or docs recording their language)"),
) -> None:
    """Convert a benchmark's source training split and the dev splits of source and targets, or your own data."""
    from ..data.benchmarks import convert_benchmark
    from ..data.user_corpus import convert_user_corpus

    langs = split_option(targets) or []
    if bool(train) != bool(dev):
        raise typer.BadParameter("--train and --dev go together", param_hint="--train")
    if train:
        counts = convert_user_corpus(out_dir, Path(train), Path(dev), source=source, targets=langs, train_limit=train_limit)
    else:
        counts = convert_benchmark(data_dir, out_dir, benchmark=benchmark, source=source, targets=langs, train_limit=train_limit)
    for name, n_docs in counts.items():
        typer.echo(f"{out_dir / name}\t{n_docs} docs")


@app.command("unpack")
def unpack_cli(
    raw_dir: Path = typer.Argument(..., help="Folder of the downloaded archives (conll2003.zip, panx_dataset.zip)"),
    data_dir: Path = typer.Argument(..., help="Data folder to lay them out in (conll2003/, conll2002/, panx/, as the README says)"),
    panx_langs: Optional[str] = typer.Option(None, "--panx-langs", help="Comma-separated PAN-X languages to unpack (default: all)"),
) -> None:
    """Lay out the public downloads like the benchmark data folder the commands read."""
    from ..data.benchmarks import unpack_public_sources

    written = unpack_public_sources(raw_dir, data_dir, panx_langs=split_option(panx_langs))
    typer.echo(f"Wrote {len(written)} files under {data_dir}")
