"""What the commands share: the typer app, option parsing helpers and defaults."""
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import typer

app = typer.Typer(
    name="spacy_mclner",
    help="Zero-shot cross-lingual NER for spaCy (MCL-NER).",
    no_args_is_help=True,
    add_completion=False,
)

# Pseudo-labelling keeps a sentence only when every entity's score reaches this.
PSEUDO_LABEL_THRESHOLD = 0.9
# How `annotate` and `pseudo-label` run: in this process, or in shards on a Ray cluster (docs/scaling.md).
ENGINES = ("local", "ray")
ENGINE_HELP = "local: this process; ray: shards on the workers of a Ray cluster, resumable (docs/scaling.md)"
WORKERS_HELP = "--engine ray: how many workers, each holding the pipeline"
CPUS_PER_WORKER_HELP = "--engine ray: CPUs (torch threads) of each worker (0: the cluster's CPUs shared out)"
WORKER_RESTARTS_HELP = (
    "--engine ray: how many times a worker that died is restarted, its shard given to it again, before the run stops"
)
RAY_ADDRESS_HELP = (
    "--engine ray: the cluster to join: HOST:PORT, ray://HOST:10001 or auto "
    "(default: $RAY_ADDRESS, else a cluster started on this machine, else a new local one)"
)


def split_option(value: Optional[str]) -> Optional[List[str]]:
    """A comma-separated option as a list, None when not given."""
    return [part.strip() for part in value.split(",") if part.strip()] if value else None


def freedict_langs_option(value: str) -> Optional[List[str]]:
    """--freedict-langs / --langs of the FreeDict commands: "all" (None: every language Debian
    has), "none" (an empty list), or a comma-separated list."""
    if value == "all":
        return None
    return [] if value == "none" else split_option(value) or []


def check_engine(ctx: typer.Context, engine: str, ray_only: Dict[str, str]) -> None:
    """--engine is local or ray; with the local one, an option that only the Ray engine reads
    (`ray_only`: parameter name -> option) is an error, not ignored."""
    if engine not in ENGINES:
        raise typer.BadParameter(f"expected one of {', '.join(ENGINES)}, got {engine!r}", param_hint="--engine")
    if engine == "local":
        for name, option in ray_only.items():
            if ctx.get_parameter_source(name).name != "DEFAULT":
                raise typer.BadParameter("applies to --engine ray only", param_hint=option)


def check_ray_options(
    output: Path, *, workers: int, cpus_per_worker: int, shard_size: int, worker_restarts: int, gpu_id: int = -1
) -> None:
    """The Ray engine's options, and Ray being installed; each error names its option."""
    from ..distributed.ray_engine import import_ray

    if output.suffix:
        raise typer.BadParameter(f"--engine ray writes a folder of shards, got {output}", param_hint="OUTPUT")
    for value, option in ((workers, "--workers"), (shard_size, "--shard-size")):
        if value < 1:
            raise typer.BadParameter(f"must be at least 1, got {value}", param_hint=option)
    for value, option in ((cpus_per_worker, "--cpus-per-worker"), (worker_restarts, "--worker-restarts")):
        if value < 0:
            raise typer.BadParameter(f"must be 0 or more, got {value}", param_hint=option)
    if gpu_id >= 0:
        raise typer.BadParameter("applies to --engine local only: the Ray workers run on CPUs", param_hint="--gpu-id")
    try:
        import_ray()
    except ImportError as error:
        raise typer.BadParameter(str(error), param_hint="--engine") from None


def use_gpu(gpu_id: int) -> None:
    if gpu_id >= 0:
        import spacy

        spacy.require_gpu(gpu_id)


def _key_value(option: str, key: str, param_hint: str) -> Tuple[str, Path]:
    name, sep, path = option.partition("=")
    if not sep or not name.strip() or not path.strip():
        raise typer.BadParameter(f"expected {key}=PATH, got {option!r}", param_hint=param_hint)
    return name.strip(), Path(path.strip())


def named_paths(options: List[str], param_hint: str) -> Dict[str, Path]:
    """NAME=PATH arguments as an ordered mapping; a name given twice is an error."""
    named: Dict[str, Path] = {}
    for option in options:
        name, path = _key_value(option, "NAME", param_hint)
        if name in named:
            raise typer.BadParameter(f"name {name!r} given twice", param_hint=param_hint)
        named[name] = path
    return named


def lang_paths(options: List[str], param_hint: str) -> List[Tuple[str, Path]]:
    """LANG=PATH options as (lang, path) pairs; a language may come more than once."""
    return [_key_value(option, "LANG", param_hint) for option in options]


def unlabeled_paths(
    options: List[str], data: Optional[Path], benchmark: str, targets: Optional[List[str]], unlabeled_dir: str = ""
) -> Dict[str, Path]:
    """Each target language's unlabelled text (self-train, trim): --unlabeled LANG=PATH options, and
    --targets read from --unlabeled-dir (LANG.jsonl or LANG.txt) or else from --data."""
    from ..data.benchmarks import benchmark_file

    paths: Dict[str, Path] = {}
    pairs = lang_paths(options, "--unlabeled")
    if unlabeled_dir:
        if targets is None:
            raise typer.BadParameter("--unlabeled-dir needs --targets", param_hint="--unlabeled-dir")
        pairs += [(lang, own_text(Path(unlabeled_dir), lang)) for lang in targets]
    elif (data is None) != (targets is None):
        raise typer.BadParameter("--data and --targets go together", param_hint="--data")
    elif data is not None and targets is not None:
        pairs += [(lang, benchmark_file(data, benchmark, lang, "unlabeled")) for lang in targets]
    for lang, path in pairs:
        if lang in paths:
            raise typer.BadParameter(f"unlabelled text for {lang!r} given twice", param_hint="--unlabeled")
        paths[lang] = path
    if not paths:
        raise typer.BadParameter("give --unlabeled LANG=PATH, or --data with --targets", param_hint="--unlabeled")
    return paths


def own_text(folder: Path, lang: str) -> Path:
    """FOLDER/LANG.jsonl or FOLDER/LANG.txt, exactly one of them."""
    found = [folder / f"{lang}{suffix}" for suffix in (".jsonl", ".txt") if (folder / f"{lang}{suffix}").is_file()]
    if len(found) != 1:
        what = "both" if found else "neither"
        raise typer.BadParameter(
            f"expected one of {folder / (lang + '.jsonl')} and {folder / (lang + '.txt')}, found {what}", param_hint="--unlabeled-dir"
        )
    return found[0]
