"""`pseudo-label`: a trained pipeline labels target text, keeping the sentences it is sure of."""
from pathlib import Path
from typing import Optional

import typer

from ._util import PSEUDO_LABEL_THRESHOLD, app, split_option


@app.command("pseudo-label")
def pseudo_label_cli(
    model: Path = typer.Argument(..., help="Trained pipeline folder with an mclner pipe: the teacher"),
    unlabeled: Path = typer.Argument(..., help="Target text: one token a line, blank line between sentences (the benchmarks' `unlabeled`), or with --text one sentence a line"),
    output: Path = typer.Argument(..., help="Output .spacy file of the kept, pseudo-labelled sentences"),
    lang: str = typer.Option(..., "--lang", help="Language of the text (a code spaCy or CLDR knows)"),
    threshold: float = typer.Option(PSEUDO_LABEL_THRESHOLD, "--threshold", help="Minimal score of every entity of a kept sentence"),
    text: bool = typer.Option(False, "--text", help="UNLABELED is raw text, one sentence a line"),
    limit: int = typer.Option(0, "--limit", help="Pseudo-label only the first N sentences (0: all)"),
    dev: Optional[Path] = typer.Option(None, "--dev", help="Labelled LANG sentences (.spacy file or folder, or token<TAB>label file): report the kept labels' quality on them"),
    dev_limit: int = typer.Option(0, "--dev-limit", help="Score the quality on the first N dev sentences (0: all)"),
    labels: Optional[str] = typer.Option(None, "--labels", help="Comma-separated types to score in the quality (e.g. PER,LOC,ORG for PAN-X)"),
    report: Optional[Path] = typer.Option(None, "--report", help="Write the report as JSON here"),
    batch_size: int = typer.Option(64, "--batch-size"),
) -> None:
    """Label target text with a trained pipeline, keeping the sentences whose every entity is sure and whole."""
    from ..data.corpus import read_gold, read_unlabeled
    from ..pipeline.mclner import load_mclner
    from ..selftrain.pseudo_label import pseudo_label_corpus
    from ..util import write_json

    nlp, pipe = load_mclner(model)
    docs = read_unlabeled(unlabeled, nlp, lang, text=text, limit=limit)
    gold = read_gold(dev, nlp, lang, limit=dev_limit) if dev is not None else None
    result = pseudo_label_corpus(
        pipe, docs, output, lang=lang, threshold=threshold, gold=gold, labels=split_option(labels), batch_size=batch_size
    )
    typer.echo(
        f"{lang}\tkept {result.kept_sentences} of {result.sentences} sentences, {result.kept_entities} entities "
        f"{result.entities_per_label}\t-> {output}"
    )
    if result.quality is not None:
        quality = result.quality
        typer.echo(
            f"{lang}\tpseudo-label quality on {quality['kept_sentences']} kept of {quality['sentences']} dev sentences: "
            f"P {quality['p']:.4f}\tR {quality['r']:.4f}\tF {quality['f']:.4f}"
        )
    if report is not None:
        write_json(report, result.to_dict())
