"""Annotate words/s: the local engine, spaCy's `nlp.pipe` with 1 and 2 processes, and the Ray
engine with 1 and 2 workers, on the same text.

The text is the first N sentences of a token-per-line file (PAN-X German's `unlabeled`, say),
one sentence a line, written under corpus/ (git-ignored). A local Ray cluster is started once,
before the runs, so the times leave its start out; each run includes loading the pipeline (in
each worker, for Ray), as a user's run does. Each run writes into a fresh folder, so every
shard is annotated. Numbers go to OUTPUT/ray.json and OUTPUT/ray.md; nothing here asserts a speed.

Usage: python scripts/bench_ray.py MODEL UNLABELED [--sentences 2000] [--shard-size 250] [--output results/scaling]
"""

import argparse
import os
import platform
import shutil
import subprocess
import time
from pathlib import Path

import ray
import spacy
import srsly
import torch
from spacy.vocab import Vocab

from spacy_mclner.cli.annotate import annotate
from spacy_mclner.data.corpus import read_conll_docs
from spacy_mclner.distributed.ray_engine import annotate_with_ray
from spacy_mclner.util import markdown_table

WORK = Path("corpus/bench-ray")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("unlabeled", type=Path, help="token-per-line file, a blank line between sentences")
    parser.add_argument("--sentences", type=int, default=2000)
    parser.add_argument("--shard-size", type=int, default=250)
    parser.add_argument("--lang", default="de")
    parser.add_argument("--output", type=Path, default=Path("results/scaling"))
    args = parser.parse_args()

    docs = read_conll_docs(args.unlabeled, Vocab(), args.lang, limit=args.sentences)
    text = WORK / f"{args.lang}-{len(docs)}.txt"
    text.parent.mkdir(parents=True, exist_ok=True)
    text.write_text("".join(doc.text + "\n" for doc in docs), encoding="utf8")
    cpus = os.cpu_count() or 1
    load_before = os.getloadavg()

    runs = []
    out = WORK / "local.jsonl"
    start = time.perf_counter()
    annotate(args.model, text, out, lang=args.lang)
    runs.append(
        {
            "engine": "local",
            "workers": 1,
            "threads_per_worker": torch.get_num_threads(),
            "seconds": time.perf_counter() - start,
        }
    )
    texts = [doc.text for doc in docs]
    for n_process in (1, 2):
        start = time.perf_counter()
        nlp = spacy.load(args.model)
        annotated = sum(1 for _ in nlp.pipe(texts, n_process=n_process, batch_size=64))
        assert annotated == len(docs), annotated
        runs.append(
            {
                "engine": f"nlp.pipe(n_process={n_process})",
                "workers": n_process,
                "threads_per_worker": torch.get_num_threads() if n_process == 1 else 1,
                "seconds": time.perf_counter() - start,
            }
        )
        del nlp
    ray.init(address="local", num_cpus=cpus, include_dashboard=False)
    try:
        for workers in (1, 2):
            out = WORK / f"ray-{workers}"
            shutil.rmtree(out, ignore_errors=True)
            run = annotate_with_ray(
                args.model,
                text,
                out,
                workers=workers,
                output_format="jsonl",
                lang=args.lang,
                shard_size=args.shard_size,
            )
            assert run.done_now == run.shards and run.docs == len(docs), run
            words = run.words  # the pipeline's tokens, the same in every run
            runs.append(
                {"engine": "ray", "workers": workers, "threads_per_worker": run.cpus_per_worker, "seconds": run.seconds}
            )
    finally:
        ray.shutdown()
    for run in runs:
        run["words_per_second"] = words / run["seconds"]
        run["speed_up"] = run["words_per_second"] / runs[0]["words_per_second"]

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    result = {
        "model": str(args.model),
        "input": f"{args.unlabeled} (first {len(docs)} sentences)",
        "docs": len(docs),
        "words": words,
        "shard_size": args.shard_size,
        "cpus": cpus,
        "load_average_before": load_before,
        "ray": ray.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "commit": commit,
        "runs": runs,
    }
    args.output.mkdir(parents=True, exist_ok=True)
    srsly.write_json(args.output / "ray.json", result)
    header = ["engine", "workers", "threads each", "seconds", "words/s", "vs local"]
    rows = [
        (
            r["engine"],
            r["workers"],
            r["threads_per_worker"],
            f"{r['seconds']:.1f}",
            f"{r['words_per_second']:.0f}",
            f"{r['speed_up']:.2f}x",
        )
        for r in runs
    ]
    lines = [
        f"Annotate words/s on {len(docs)} sentences ({words} words) of {args.unlabeled}, shards of {args.shard_size}, "
        f"{args.model}, {cpus} CPUs (load average {load_before[0]:.1f} before), Ray {ray.__version__}, {commit}.",
        "Each time includes loading the pipeline (in every Ray worker), not the start of the local Ray cluster; "
        "nlp.pipe's worker processes run torch on one thread each.",
        "",
        *markdown_table(header, rows),
    ]
    (args.output / "ray.md").write_text("\n".join(lines) + "\n", encoding="utf8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
