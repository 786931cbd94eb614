"""The Ray engine: Ray Data hands the shards still to do to a pool of actors that hold the pipeline.

Each worker is a Ray actor that loads the pipeline once and annotates whole shards, each into
its own file (shards.py), with torch on its share of the CPUs. Ray Data schedules the shards
over the cluster's nodes, and restarts a worker whose process died and gives its shard to it
again. A shard that fails in the annotation itself (its file cannot be written, say) is
reported and left without a file while the others go on; the run then stops with the
failures, and the same command run again does what is missing.
docs/scaling.md says why Ray Data and how to run it on a cluster.
"""

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Dict, List, Optional, Union

import numpy

from ..util import progress
from .shards import Shard, annotate_shard, shard_plan

RAY_INSTALL = 'pip install "spacy-mclner[ray]"'
OUTPUT_FORMATS = ("spacy", "jsonl")


@dataclass
class ShardedRun:
    """What a sharded run did: its shards, those found done, those annotated now, their docs and words, wall time."""

    shards: int
    done_before: int
    annotated: int
    docs: int
    words: int
    seconds: float


def import_ray() -> ModuleType:
    """Ray with Ray Data, or an error that says how to install them."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as error:
        raise ImportError(f"The Ray engine needs Ray Data: {RAY_INSTALL}") from error
    return ray


class ShardAnnotator:
    """A Ray Data worker: loads the pipeline once, then annotates each shard it is handed into its file.

    A row is one shard: its description in JSON and its output file. The worker reads the
    shard's documents itself, so only descriptions travel through Ray, and a restarted
    worker needs nothing but its constructor's few arguments.
    """

    def __init__(self, model: str, files: List[str], lang: Optional[str], batch_size: int, threads: int) -> None:
        import spacy
        import torch

        torch.set_num_threads(threads)
        self.nlp = spacy.load(model)
        self.files, self.lang, self.batch_size = [Path(file) for file in files], lang, batch_size

    def __call__(self, batch: Dict[str, numpy.ndarray]) -> Dict[str, numpy.ndarray]:
        ids, docs, words, errors = [], [], [], []
        for description, output in zip(batch["shard"], batch["output"]):
            shard = Shard.from_dict(json.loads(description))
            n_docs = n_words = 0
            error = ""
            try:
                n_docs, n_words = annotate_shard(
                    self.nlp, self.files, shard, Path(output), lang=self.lang, batch_size=self.batch_size
                )
            except Exception as exception:
                # Reported, not raised: raised, it would stop the other workers' shards too.
                error = f"{type(exception).__name__}: {exception}"
            ids.append(shard.id)
            docs.append(n_docs)
            words.append(n_words)
            errors.append(error)
        return {
            "shard": numpy.array(ids),
            "docs": numpy.array(docs),
            "words": numpy.array(words),
            "error": numpy.array(errors),
        }


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
) -> ShardedRun:
    """Annotate the shards of `input_path` that `output_folder` lacks, on `workers` Ray workers.

    address: the cluster to join (Ray's `ray.init` address: host:port, ray://host:port or
    "auto"); None joins $RAY_ADDRESS or a cluster started on this machine, else starts a local
    one for the run. A Ray connection already made in this process is used as it is.
    cpus_per_worker: CPUs reserved for each worker, torch's threads in it (0: the cluster's
    CPUs divided among the workers).
    """
    start = time.perf_counter()
    ray = import_ray()
    output_folder = Path(output_folder).resolve()
    model = str(Path(model).resolve()) if Path(model).exists() else str(model)
    settings = {"task": "annotate", "model": model, "lang": lang, "format": output_format}
    plan = shard_plan(input_path, output_folder, shard_size=shard_size, settings=settings)
    pending = plan.pending(output_folder)
    run = ShardedRun(len(plan.shards), len(plan.shards) - len(pending), 0, 0, 0, 0.0)
    if not pending:
        run.seconds = time.perf_counter() - start
        return run
    started_ray = not ray.is_initialized()
    if started_ray:
        ray.init(address=address, include_dashboard=False)
    try:
        threads = cpus_per_worker or max(1, int(ray.cluster_resources().get("CPU", 1)) // workers)
        items = [
            {"shard": json.dumps(asdict(shard)), "output": str(plan.output(output_folder, shard))} for shard in pending
        ]
        annotated = ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
            ShardAnnotator,
            batch_size=1,
            compute=ray.data.ActorPoolStrategy(size=workers),
            num_cpus=threads,
            fn_constructor_kwargs={
                "model": model,
                "files": [str(file) for file in plan.files],
                "lang": lang,
                "batch_size": batch_size,
                "threads": threads,
            },
        )
        failed: Dict[str, str] = {}
        with progress(total=len(pending), desc="annotate", unit="shard") as bar:
            for row in annotated.iter_rows():
                if row["error"]:
                    failed[str(row["shard"])] = str(row["error"])
                else:
                    run.annotated += 1
                    run.docs += int(row["docs"])
                    run.words += int(row["words"])
                bar.update(1)
    finally:
        if started_ray:
            ray.shutdown()
    if failed:
        errors = "\n".join(f"  shard {shard_id}: {error}" for shard_id, error in sorted(failed.items()))
        raise RuntimeError(
            f"{len(failed)} of the {len(pending)} shards to do failed, {run.annotated} are written:\n{errors}\n"
            f"The same command again annotates the shards that {output_folder} lacks."
        )
    run.seconds = time.perf_counter() - start
    return run
