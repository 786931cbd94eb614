"""`evaluate`: strict entity scores of a pipeline per language and type."""
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import typer

from ._util import app, split_option, use_gpu


@app.command("evaluate")
def evaluate_cli(
    model: Path = typer.Argument(..., help="Trained pipeline folder (or installed package name)"),
    data: List[Path] = typer.Argument(..., help=".spacy files, folders of them, or token<TAB>label files"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the scores as JSON here"),
    lang: Optional[str] = typer.Option(None, "--lang", help="Language of token<TAB>label files (default: from the file or folder name, e.g. de-test.tsv)"),
    limit: int = typer.Option(0, "--limit", help="Evaluate only the first N docs of each file (0: all)"),
    batch_size: int = typer.Option(64, "--batch-size"),
    labels: Optional[str] = typer.Option(None, "--labels", help="Comma-separated entity types to keep in the predictions (e.g. PER,LOC,ORG for PAN-X)"),
    gpu_id: int = typer.Option(-1, "--gpu-id", help="GPU to run on (-1: CPU)"),
) -> None:
    """Strict entity P/R/F1 per language and type, with the macro average over languages."""
    use_gpu(gpu_id)
    scores = evaluate(model, data, output, lang=lang, limit=limit, batch_size=batch_size, labels=split_option(labels))
    for lang_code, lang_scores in scores["ents_per_lang"].items():
        typer.echo(
            f"{lang_code}\tP {lang_scores['p']:.4f}\tR {lang_scores['r']:.4f}\tF {lang_scores['f']:.4f}\t({lang_scores['n_docs']} docs)"
        )
    typer.echo(f"macro F over languages {scores['ents_macro_f']:.4f}; micro F {scores['ents_f']:.4f}")
    typer.echo(f"{scores['speed']['words_per_second']:.0f} words/s")


def evaluate(
    model: Path,
    data: Sequence[Path],
    output: Optional[Path] = None,
    *,
    lang: Optional[str] = None,
    limit: int = 0,
    batch_size: int = 64,
    labels: Optional[Sequence[str]] = None,
) -> Dict[str, Any]:
    """Score the pipeline `model` on `data`, writing the scores to `output` when given."""
    import spacy

    from ..evaluation.evaluate import evaluate_pipeline
    from ..util import write_json

    scores = evaluate_pipeline(spacy.load(model), data, lang=lang, limit=limit, batch_size=batch_size, labels=labels)
    if output is not None:
        write_json(output, scores)
    return scores
