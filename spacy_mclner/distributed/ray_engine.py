"""The Ray engine: Ray Data hands the shards still to do to a pool of actors that hold the pipeline.

Each worker is a Ray actor that loads the pipeline once and annotates (or pseudo-labels) whole
shards, each into its own file (shards.py), with torch on its share of the CPUs. Ray Data
schedules the shards over the cluster's nodes, and restarts a worker whose process died and
gives its shard to it again, `worker_restarts` times at most, so that a shard that kills its
worker every time stops the run instead of looping. A shard that fails in the work itself (its file cannot be
written, say) is reported and left without a file while the others go on; the run then stops
with the failures, and the same command run again does what is missing.
docs/scaling.md says why Ray Data and how to run it on a cluster.
"""

import json
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Dict, List, Optional, Tuple, Type, Union

import numpy
import spacy
from spacy.vocab import Vocab

from ..data.annotations import check_known_lang
from ..data.corpus import docbin_docs
from ..data.documents import input_files
from ..selftrain.pseudo_label import PseudoLabelReport, check_threshold
from ..util import content_sha256, progress
from . import WORKER_RESTARTS
from .shards import Shard, ShardPlan, annotate_shard, document_reader, pseudo_label_shard, shard_plan, unlabeled_reader

RAY_INSTALL = 'pip install "spacy-mclner[ray]"'
OUTPUT_FORMATS = ("spacy", "jsonl")


@dataclass
class ShardedRun:
    """What a sharded run did: its shards, those found done, those done now, their docs and words,
    its wall time, and the CPUs (torch threads) of each worker."""

    shards: int
    done_before: int
    done_now: int
    docs: int
    words: int
    seconds: float
    cpus_per_worker: int = 0


def import_ray() -> ModuleType:
    """Ray with Ray Data, or an error that says how to install them."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as error:
        raise ImportError(f"The Ray engine needs Ray Data: {RAY_INSTALL}") from error
    return ray


class ShardWorker:
    """A Ray Data worker: holds the pipeline, and does each shard it is handed into its file.

    A row is one shard: its description in JSON and its output file. The worker reads the
    shard's documents itself, so only descriptions travel through Ray, and a restarted
    worker needs nothing but its constructor's few arguments. Subclasses load what they
    need and say what one shard is (`do_shard`).
    """

    def __init__(self, files: List[str], threads: int) -> None:
        import torch

        torch.set_num_threads(threads)
        self.files = [Path(file) for file in files]

    def do_shard(self, shard: Shard, output: Path) -> Dict[str, int]:
        raise NotImplementedError

    def __call__(self, batch: Dict[str, numpy.ndarray]) -> Dict[str, numpy.ndarray]:
        ids, counts, errors = [], [], []
        for description, output in zip(batch["shard"], batch["output"]):
            shard = Shard.from_dict(json.loads(description))
            ids.append(shard.id)
            try:
                counts.append(self.do_shard(shard, Path(output)))
                errors.append("")
            except Exception as exception:
                # Reported, not raised: raised, it would stop the other workers' shards too.
                counts.append({})
                errors.append(f"{type(exception).__name__}: {exception}")
        return {
            "shard": numpy.array(ids),
            "docs": numpy.array([count.get("docs", 0) for count in counts]),
            "words": numpy.array([count.get("words", 0) for count in counts]),
            "error": numpy.array(errors),
        }


class ShardAnnotator(ShardWorker):
    def __init__(self, files: List[str], threads: int, model: str, lang: Optional[str], batch_size: int) -> None:
        import spacy

        super().__init__(files, threads)
        self.nlp = spacy.load(model)
        self.lang, self.batch_size = lang, batch_size

    def do_shard(self, shard: Shard, output: Path) -> Dict[str, int]:
        return annotate_shard(self.nlp, self.files, shard, output, lang=self.lang, batch_size=self.batch_size)


class ShardPseudoLabeller(ShardWorker):
    def __init__(
        self, files: List[str], threads: int, model: str, lang: str, text: bool, threshold: float, batch_size: int
    ) -> None:
        from ..pipeline.mclner import load_mclner

        super().__init__(files, threads)
        self.nlp, self.teacher = load_mclner(model)
        self.lang, self.text, self.threshold, self.batch_size = lang, text, threshold, batch_size

    def do_shard(self, shard: Shard, output: Path) -> Dict[str, int]:
        return pseudo_label_shard(
            self.nlp,
            self.teacher,
            self.files,
            shard,
            output,
            lang=self.lang,
            text=self.text,
            threshold=self.threshold,
            batch_size=self.batch_size,
        )


def model_name(model: Union[str, Path]) -> str:
    """A pipeline folder as an absolute path, which every worker can open; a package name as it is."""
    return str(Path(model).resolve()) if Path(model).exists() else str(model)


def model_fingerprint(model: str) -> str:
    """The SHA-256 of the pipeline's files (a folder, or an installed package's data folder), so that a
    rerun with another model under the same name does not take the old model's shards for its own."""
    folder = Path(model)
    if not folder.is_dir():
        if not spacy.util.is_package(model):
            raise FileNotFoundError(f"{model} is neither a pipeline folder nor an installed pipeline package")
        package = spacy.util.get_package_path(model)
        folder = next((sub for sub in sorted(package.iterdir()) if (sub / "config.cfg").is_file()), package)
    if not (folder / "config.cfg").is_file():
        raise FileNotFoundError(f"{folder} has no config.cfg: not a spaCy pipeline")
    return content_sha256(folder)


def run_settings(task: str, model: str, **settings: Any) -> Dict[str, Any]:
    """What a run's outputs depend on, for its manifest: the task, the pipeline (by name and by
    content) and the task's own `settings`."""
    return {"task": task, "model": model, "model_sha256": model_fingerprint(model), **settings}


def run_shards(
    plan: ShardPlan,
    output_folder: Path,
    worker: Type[ShardWorker],
    worker_args: Dict[str, Any],
    *,
    workers: int,
    cpus_per_worker: int = 0,
    address: Optional[str] = None,
    worker_restarts: int = WORKER_RESTARTS,
) -> ShardedRun:
    """Do the shards of `plan` that `output_folder` lacks on `workers` Ray workers of class `worker`.

    address: the cluster to join (Ray's `ray.init` address: host:port, ray://host:port or
    "auto"); None joins $RAY_ADDRESS or a cluster started on this machine, else starts a local
    one for the run. A Ray connection already made in this process is used as it is.
    cpus_per_worker: CPUs reserved for each worker, torch's threads in it (0: the cluster's
    CPUs divided among the workers). A shard that failed leaves no file: the run raises,
    once the others are done, with each failure. A worker that dies is restarted and given its
    shard again, `worker_restarts` times at most; once more (a shard that kills its worker every
    time, say) stops the run, with the shards written so far kept.
    """
    start = time.perf_counter()
    pending = plan.pending(output_folder)
    run = ShardedRun(len(plan.shards), len(plan.shards) - len(pending), 0, 0, 0, 0.0)
    if not pending:
        run.seconds = time.perf_counter() - start
        return run
    ray = import_ray()
    started_ray = not ray.is_initialized()
    if started_ray:
        ray.init(address=address, include_dashboard=False)
    try:
        threads = run.cpus_per_worker = cpus_per_worker or max(1, int(ray.cluster_resources().get("CPU", 1)) // workers)
        items = [
            {"shard": json.dumps(asdict(shard)), "output": str(plan.output(output_folder, shard))} for shard in pending
        ]
        with warnings.catch_warnings():
            # Ray's remote arguments of map_batches, deprecated from 2.60 and gone in 2.64 (pyproject's bound)
            warnings.filterwarnings("ignore", message="`ray_remote_args` is deprecated")
            done = ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
                worker,
                batch_size=1,
                compute=ray.data.ActorPoolStrategy(size=workers),
                num_cpus=threads,
                fn_constructor_kwargs={"files": [str(file) for file in plan.files], "threads": threads, **worker_args},
                # Ray Data's defaults, -1, retry a shard without end. Both are bounded: a worker left
                # restarting when the run stops would hold its CPUs for as long as Ray runs.
                max_task_retries=worker_restarts,
                max_restarts=worker_restarts,
            )
        failed: Dict[str, str] = {}
        with progress(total=len(pending), desc=plan.settings["task"], unit="shard") as bar:
            try:
                for row in done.iter_rows():
                    if row["error"]:
                        failed[str(row["shard"])] = str(row["error"])
                    else:
                        run.done_now += 1
                        run.docs += int(row["docs"])
                        run.words += int(row["words"])
                    bar.update(1)
            except ray.exceptions.RayActorError as error:
                written = len(plan.shards) - len(plan.pending(output_folder))
                raise RuntimeError(
                    f"A worker died {worker_restarts + 1} times (killed, out of memory or lost: its log "
                    f"says which; a shard that kills its worker every time does this), so the run "
                    f"stopped; {written} of the {len(plan.shards)} shards are written. Give the workers "
                    f"more memory or a smaller --batch-size, or allow more restarts (--worker-restarts); "
                    f"the same command again does the shards that {output_folder} lacks."
                ) from error
    finally:
        if started_ray:
            ray.shutdown()
    if failed:
        errors = "\n".join(f"  shard {shard_id}: {error}" for shard_id, error in sorted(failed.items()))
        raise RuntimeError(
            f"{len(failed)} of the {len(pending)} shards to do failed, {run.done_now} are written:\n{errors}\n"
            f"The same command again does the shards that {output_folder} lacks."
        )
    run.seconds = time.perf_counter() - start
    return run


def annotation_plan(
    model: str, input_path: Path, output_folder: Path, *, output_format: str, lang: Optional[str], shard_size: int
) -> ShardPlan:
    """The shards of annotate's input `input_path` in `output_folder`, as found there or planned now."""
    settings = run_settings("annotate", model, lang=lang, format=output_format)
    files = input_files(input_path)
    return shard_plan(
        input_path, files, output_folder, read=document_reader(Vocab()), shard_size=shard_size, settings=settings
    )


def annotate_with_ray(
    model: Union[str, Path],
    input_path: Union[str, Path],
    output_folder: Union[str, Path],
    *,
    workers: int = 1,
    output_format: str = "spacy",
    lang: Optional[str] = None,
    batch_size: int = 64,
    shard_size: int = 10_000,
    address: Optional[str] = None,
    cpus_per_worker: int = 0,
    worker_restarts: int = WORKER_RESTARTS,
) -> ShardedRun:
    """Annotate the shards of `input_path` (annotate's inputs) that `output_folder` lacks; see run_shards."""
    input_path, output_folder, model = Path(input_path), Path(output_folder).resolve(), model_name(model)
    plan = annotation_plan(
        model, input_path, output_folder, output_format=output_format, lang=lang, shard_size=shard_size
    )
    worker_args = {"model": model, "lang": lang, "batch_size": batch_size}
    return run_shards(
        plan,
        output_folder,
        ShardAnnotator,
        worker_args,
        workers=workers,
        cpus_per_worker=cpus_per_worker,
        address=address,
        worker_restarts=worker_restarts,
    )


def pseudo_label_with_ray(
    model: Union[str, Path],
    unlabeled: Union[str, Path],
    output_folder: Union[str, Path],
    *,
    lang: str,
    threshold: float,
    text: bool = False,
    limit: int = 0,
    workers: int = 1,
    batch_size: int = 64,
    shard_size: int = 10_000,
    address: Optional[str] = None,
    cpus_per_worker: int = 0,
    worker_restarts: int = WORKER_RESTARTS,
) -> Tuple[ShardedRun, PseudoLabelReport]:
    """Pseudo-label the shards of `unlabeled` (read as `read_unlabeled` reads it) that `output_folder` lacks,
    each into a .spacy file of its kept sentences; see run_shards. The report counts every shard's
    kept sentences, those of earlier runs too, from the files."""
    unlabeled, output_folder, model = Path(unlabeled), Path(output_folder).resolve(), model_name(model)
    check_known_lang(lang)
    check_threshold(threshold)
    if not unlabeled.is_file():
        raise FileNotFoundError(f"Unlabelled text file not found: {unlabeled}")
    settings = run_settings("pseudo-label", model, lang=lang, text=text, threshold=threshold, format="spacy")
    plan = shard_plan(
        unlabeled,
        [unlabeled],
        output_folder,
        read=unlabeled_reader(spacy.blank("xx"), lang, text),
        shard_size=shard_size,
        settings=settings,
        limit=limit,
    )
    worker_args = {"model": model, "lang": lang, "text": text, "threshold": threshold, "batch_size": batch_size}
    run = run_shards(
        plan,
        output_folder,
        ShardPseudoLabeller,
        worker_args,
        workers=workers,
        cpus_per_worker=cpus_per_worker,
        address=address,
        worker_restarts=worker_restarts,
    )
    vocab = Vocab()
    kept = (doc for shard in plan.shards for doc in docbin_docs(plan.output(output_folder, shard), vocab))
    return run, PseudoLabelReport.of_kept(lang, threshold, sum(shard.docs for shard in plan.shards), kept)
