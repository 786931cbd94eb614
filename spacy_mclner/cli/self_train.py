"""`self-train` and `self-train-report`: rounds of pseudo-labelling and student training."""
from pathlib import Path
from typing import List, Optional

import typer

from ._util import PSEUDO_LABEL_THRESHOLD, app, split_option, unlabeled_paths, use_gpu


@app.command("self-train", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def self_train_cli(
    ctx: typer.Context,
    teacher: Path = typer.Argument(..., help="Source-stage pipeline: the first round's teacher"),
    output: Path = typer.Argument(..., help="Run folder: round-0, round-1 ... and quality.md/.json/.png"),
    source: Path = typer.Option(..., "--source", help="Labelled source .spacy file(s), trained on in every round"),
    unlabeled: List[str] = typer.Option([], "--unlabeled", help="LANG=PATH of target text to pseudo-label; repeatable"),
    data: Optional[Path] = typer.Option(None, "--data", help="Benchmark data folder (conll2003/, conll2002/, panx/ as the README says): pseudo-label the `unlabeled` file of each of --targets"),
    benchmark: str = typer.Option("conll", "--benchmark", help="Benchmark of --data: conll or panx"),
    targets: Optional[str] = typer.Option(None, "--targets", help="Comma-separated target languages to read from --data"),
    dev: Path = typer.Option(..., "--dev", help="Folder of labelled dev .spacy files, one per language"),
    views: Optional[Path] = typer.Option(None, "--views", help="Code-switched views of --source (for L_tc)"),
    config: Path = typer.Option(Path("configs/mclner_student.cfg"), "--config", help="Student config"),
    rounds: int = typer.Option(2, "--rounds", help="Self-training rounds K"),
    threshold: float = typer.Option(PSEUDO_LABEL_THRESHOLD, "--threshold", help="Minimal score of every entity of a kept sentence"),
    limit: int = typer.Option(0, "--limit", help="Pseudo-label the first N sentences of each language (0: all)"),
    text: bool = typer.Option(False, "--text", help="The unlabelled files are raw text, one sentence a line"),
    unlabeled_dir: str = typer.Option("", "--unlabeled-dir", help="Folder of your own raw target text, LANG.txt (one sentence a line) or LANG.jsonl (a `text` field a line) for each of --targets; replaces --data's files"),
    labels: Optional[str] = typer.Option(None, "--labels", help="Comma-separated types to score (e.g. PER,LOC,ORG for PAN-X)"),
    eval_limit: int = typer.Option(0, "--eval-limit", help="Score pseudo-labels and rounds on the first N dev docs per language (0: all)"),
    batch_size: int = typer.Option(64, "--batch-size"),
    gpu_id: int = typer.Option(-1, "--gpu-id", help="GPU to run on (-1: CPU)"),
) -> None:
    """K rounds of pseudo-labelling and student training, each in its own folder; reruns resume.

    Extra --section.key value options override the student config, as for `spacy train`.
    """
    from spacy.cli._util import parse_config_overrides

    from ..selftrain.rounds import SelfTrainingPlan, quality_markdown, run_self_training

    plan = SelfTrainingPlan(
        teacher=teacher,
        output=output,
        config=config,
        source=source,
        unlabeled=unlabeled_paths(unlabeled, None if unlabeled_dir else data, benchmark, split_option(targets), unlabeled_dir),
        dev=dev,
        threshold=threshold,
        views=views,
        rounds=rounds,
        unlabeled_limit=limit,
        text=text or bool(unlabeled_dir),
        labels=split_option(labels),
        eval_limit=eval_limit,
        batch_size=batch_size,
        gpu_id=gpu_id,
        overrides=parse_config_overrides(ctx.args),
    )
    use_gpu(gpu_id)
    typer.echo(quality_markdown(run_self_training(plan)))


@app.command("self-train-report")
def self_train_report_cli(
    output: Path = typer.Argument(..., help="Run folder of `self-train`"),
) -> None:
    """Rewrite a self-training run's quality.md, quality.json and quality.png from its finished rounds."""
    from ..selftrain.rounds import quality_markdown, read_rounds, write_quality_report

    records = read_rounds(output)
    write_quality_report(output, records)
    typer.echo(quality_markdown(records))
