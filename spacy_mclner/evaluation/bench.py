"""Benchmark NER pipelines on the same data: words/s, and peak memory on a short and a long doc.

Numbers go to JSON and markdown files; nothing here asserts a speed or a size.
"""
import json
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import srsly
from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import minibatch
from thinc.api import Model
from torch.utils.flop_counter import FlopCounterMode

from ..data.readers import create_labelled_corpus_reader
from ..util import markdown_table

REPEATS = 5
# Words of the short and the long doc whose peak memory is compared.
MEMORY_WORDS = (50, 5000)
# The child process that measures one pipeline on one doc (see peak_memory).
_MEASURE = "import sys; from spacy_mclner.evaluation.bench import measure_peak_memory; measure_peak_memory(*sys.argv[1:])"


def best_seconds(runs: Sequence[Callable[[], Any]]) -> List[Any]:
    """What each run returns, from its fastest of REPEATS, the runs interleaved.

    A run returns its seconds first. Other load on the machine only ever slows a
    run down, and interleaving spreads a slow spell over all of them.
    """
    best: List[Any] = [None] * len(runs)
    for _ in range(REPEATS):
        for i, run in enumerate(runs):
            result = run()
            if best[i] is None or result[0] < best[i][0]:
                best[i] = result
    return best


@contextmanager
def inside_encoder(tok2vec: Model, meter: Callable[[], float]) -> Iterator[List[float]]:
    """How far `meter` advances inside `tok2vec`'s forward while the context is open, summed in a one-item list.

    Metering the encoder within the very pipeline pass that is measured as a
    whole gives both the same batches (each component forms its own: `mclner`
    sorts buffers of docs by length, spaCy's `ner` sorts each batch and splits
    it in four) and, for a clock, the same moment on a machine whose speed
    drifts from run to run.
    """
    total = [0.0]
    forward = tok2vec._func

    def metered_forward(model: Model, X: Any, is_train: bool) -> Any:
        before = meter()
        try:
            return forward(model, X, is_train)
        finally:
            total[0] += meter() - before

    tok2vec._func = metered_forward
    try:
        yield total
    finally:
        tok2vec._func = forward


def torch_flops(run: Callable[[], Any], tok2vec: Model) -> Tuple[int, int]:
    """Floating-point operations that `run` sends to torch, in all and inside `tok2vec`'s forward.

    Counted are matrix products, convolutions and attention (torch's
    FlopCounterMode); unlike a time, the count does not depend on the machine's
    load. Work outside torch (spaCy's transition-based parser runs in numpy) and
    fused kernels that FlopCounterMode does not know (the BiLSTM) are not counted.
    """
    with FlopCounterMode(display=False) as counter, inside_encoder(tok2vec, counter.get_total_flops) as inside:
        run()
    return counter.get_total_flops(), int(inside[0])


def bench_pipelines(
    pipelines: Dict[str, Tuple[Language, Sequence[Example]]],
    *,
    batch_size: int = 32,
    train_batches: int = 8,
    training_batches: Optional[Callable[[Language], List[List[Example]]]] = None,
) -> Dict[str, Dict[str, float]]:
    """Words/s of inference (`nlp.pipe`), of the NER component's encoder within it, and of training.

    Every rate comes from the fastest of REPEATS runs, the runs of all pipelines
    interleaved, so that a slow spell on the machine cannot favour one pipeline;
    the encoder's rate is its share of that same inference run (inside_encoder).
    A first pass over all docs counts inference in torch FLOPs (torch_flops) and
    warms the pipeline up. Training continues the loaded weights with
    `nlp.resume_training()`, so pass copies you can spoil. It runs on
    `train_batches` batches of `batch_size` of the examples, or on the batches
    that `training_batches(nlp)` makes (training sentences with their
    code-switched views, say). Training words are source words, as `spacy train`
    counts them. The first timed training pass is reported apart: a pipeline
    with a frozen-layer cache fills it then, so the first pass is a run's first
    epoch and the fastest pass its later ones.
    """
    inference_runs: List[Callable[[], Tuple[float, float]]] = []
    training_runs: List[Callable[[], Tuple[float]]] = []
    first_passes: List[List[float]] = []
    cache_before: List[Dict[str, float]] = []
    results: Dict[str, Dict[str, float]] = {}
    for name, (nlp, examples) in pipelines.items():
        tok2vec = _ner_tok2vec(nlp)
        docs = [eg.predicted for eg in examples]

        def run_pipeline(nlp: Language = nlp, docs: List[Doc] = docs) -> None:
            list(nlp.pipe((doc.copy() for doc in docs), batch_size=batch_size))

        def timed_inference(run: Callable[[], None] = run_pipeline, tok2vec: Model = tok2vec) -> Tuple[float, float]:
            with inside_encoder(tok2vec, time.perf_counter) as encoder_seconds:
                start = time.perf_counter()
                run()
                seconds = time.perf_counter() - start
            return seconds, encoder_seconds[0]

        flops, encoder_flops = torch_flops(run_pipeline, tok2vec)  # also the warm-up run
        inference_runs.append(timed_inference)
        if training_batches is None:
            batches = list(minibatch(examples[: batch_size * train_batches], batch_size))
        else:
            batches = training_batches(nlp)
        if not batches:
            raise ValueError(f"No training batches for {name}")
        optimizer = nlp.resume_training()
        nlp.update(list(examples[:batch_size]), sgd=optimizer)
        cache_before.append(frozen_cache_use(tok2vec))  # what the warm-up put there
        pass_seconds: List[float] = []
        first_passes.append(pass_seconds)

        def timed_training(
            nlp: Language = nlp, batches: List[List[Example]] = batches, sgd: Any = optimizer, log: List[float] = pass_seconds
        ) -> Tuple[float]:
            start = time.perf_counter()
            for batch in batches:
                nlp.update(batch, sgd=sgd)
            log.append(time.perf_counter() - start)
            return (log[-1],)

        training_runs.append(timed_training)
        train_examples = [eg for batch in batches for eg in batch]
        results[name] = {
            "inference_gflop": flops / 1e9,
            "encoder_forward_gflop": encoder_flops / 1e9,
            "n_docs": len(docs),
            "n_words": sum(len(doc) for doc in docs),
            "n_train_words": sum(len(eg.predicted) for eg in train_examples),
            "n_train_sentences": len(train_examples),
            "batch_size": batch_size,
        }
    inference = best_seconds(inference_runs)
    training = best_seconds(training_runs)
    for result, (seconds, encoder_seconds), (train_seconds,), passes in zip(
        results.values(), inference, training, first_passes
    ):
        result["inference_words_per_second"] = result["n_words"] / seconds
        result["encoder_forward_words_per_second"] = result["n_words"] / encoder_seconds
        result["training_words_per_second"] = result["n_train_words"] / train_seconds
        result["training_words_per_second_first_pass"] = result["n_train_words"] / passes[0]
    for result, (nlp, _), before in zip(results.values(), pipelines.values(), cache_before):
        after = frozen_cache_use(_ner_tok2vec(nlp))
        result.update({key: value - before[key] for key, value in after.items()})
    return results


def frozen_cache_use(tok2vec: Model) -> Dict[str, float]:
    """What the frozen-layer cache holds (empty without one)."""
    from ..ml.encoder_runtime import hf_models, runtime_of

    patches = [runtime_of(hf_model) for hf_model in hf_models(tok2vec)]
    caches = [patch.cache for patch in patches if patch is not None and patch.cache.max_bytes]
    if not caches:
        return {}
    return {
        "frozen_cache_mb": sum(cache.used_bytes for cache in caches) / 2**20,
        "frozen_cache_windows": sum(len(cache.entries) for cache in caches),
    }


def _ner_tok2vec(nlp: Language) -> Model:
    """The encoder embedded in the pipeline's one NER component."""
    ner_names = [name for name, pipe in nlp.pipeline if hasattr(pipe, "model") and pipe.model.has_ref("tok2vec")]
    if len(ner_names) != 1:
        raise ValueError(f"Expected one component with an embedded tok2vec, found {ner_names}")
    return nlp.get_pipe(ner_names[0]).model.get_ref("tok2vec")


SPEED_HEADER = [
    "pipeline", "inference words/s", "its encoder's words/s", "time over the encoder", "torch FLOPs over the encoder",
    "training words/s", "training words/s, first pass", "docs", "words",
]
MEMORY_HEADER = [
    "pipeline", "sentence boundaries", "loading peak MB", "after loading MB", "short doc peak MB",
    "long doc peak MB", "long / short",
]


def bench_markdown(results: Dict[str, Dict[str, Any]]) -> str:
    """Markdown tables of bench_pipelines results, and of bench_memory's under "memory" where present."""
    speed_rows = []
    for name, r in results.items():
        over = r["encoder_forward_words_per_second"] / r["inference_words_per_second"] - 1
        flops_over = r["inference_gflop"] / r["encoder_forward_gflop"] - 1
        speed_rows.append([
            name, f"{r['inference_words_per_second']:.0f}", f"{r['encoder_forward_words_per_second']:.0f}",
            f"{over:+.0%}", f"{flops_over:+.0%}", f"{r['training_words_per_second']:.0f}",
            f"{r['training_words_per_second_first_pass']:.0f}", r["n_docs"], r["n_words"],
        ])
    lines = markdown_table(SPEED_HEADER, speed_rows)
    for name, r in results.items():
        if "frozen_cache_mb" in r:
            lines.append(
                f"\n{name}: the frozen-layer cache holds {r['frozen_cache_mb']:.1f} MB for "
                f"{r['frozen_cache_windows']} windows of the {r['n_train_sentences']} training sentences and "
                f"their views ({1000 * r['frozen_cache_mb'] / r['n_train_sentences']:.1f} MB per 1,000 such sentences)."
            )
    memory = {name: r["memory"] for name, r in results.items() if "memory" in r}
    if memory:
        memory_rows = [
            [
                name, boundaries, f"{m['load_peak_mb']:.0f}", f"{m['loaded_mb']:.0f}",
                f"{m['short_peak_mb']:.0f} ({m['short_words']} words)",
                f"{m['long_peak_mb']:.0f} ({m['long_words']} words)", f"{m['long_to_short']:.2f}",
            ]
            for name, runs in memory.items()
            for boundaries, m in runs.items()
        ]
        lines += [""] + markdown_table(MEMORY_HEADER, memory_rows, aligns="llrrrrr")
    return "\n".join(lines) + "\n"


def bench_memory(
    model: Union[str, Path], examples: Sequence[Example], *, words: Tuple[int, int] = MEMORY_WORDS
) -> Dict[str, Dict[str, Any]]:
    """Peak memory of a saved pipeline on a short and on a long doc, with and without sentences.

    Each doc runs in a fresh process (see measure_peak_memory), so no run sees
    another's high-water mark. The docs join the examples' sentences.
    """
    short_words, long_words = words
    results = {}
    for boundaries in ("with", "without"):
        short, long = (
            peak_memory(model, concatenated_doc(examples, n_words, sentences=boundaries == "with"))
            for n_words in (short_words, long_words)
        )
        results[boundaries] = {
            "short_words": short_words,
            "long_words": long_words,
            "load_peak_mb": short["load_peak_mb"],
            "loaded_mb": short["loaded_mb"],
            "short_peak_mb": short["peak_mb"],
            "long_peak_mb": long["peak_mb"],
            "long_to_short": long["peak_mb"] / short["peak_mb"],
        }
    return results


def concatenated_doc(examples: Sequence[Example], n_words: int, *, sentences: bool) -> Dict[str, Any]:
    """Words, spaces and (with `sentences`) sentence starts of one doc of `n_words` words.

    It joins the examples' docs in order, repeating them when they hold fewer
    words; without `sentences` the doc has no sentence boundaries at all.
    """
    docs = [eg.predicted for eg in examples if len(eg.predicted)]
    if not docs:
        raise ValueError("Cannot build a doc from examples without words")
    words: List[str] = []
    starts: List[bool] = []
    while len(words) < n_words:
        for doc in docs:
            words.extend(token.text for token in doc)
            starts.extend(token.i == 0 for token in doc)
    return {
        "words": words[:n_words],
        "spaces": [True] * n_words,
        "sent_starts": starts[:n_words] if sentences else None,
    }


def peak_memory(model: Union[str, Path], doc: Dict[str, Any]) -> Dict[str, float]:
    """Run `measure_peak_memory` in a fresh Python process; its report as a dict."""
    with tempfile.TemporaryDirectory() as tmp:
        doc_path = Path(tmp) / "doc.json"
        srsly.write_json(doc_path, doc)
        result = subprocess.run(
            [sys.executable, "-c", _MEASURE, str(model), str(doc_path)], capture_output=True, text=True
        )
    if result.returncode != 0:
        raise RuntimeError(f"Measuring the peak memory of {model} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def measure_peak_memory(model: str, doc_path: str) -> None:
    """Load the pipeline and run it on the doc; print the resident memory in MB (2**20 bytes) as JSON.

    load_seconds: how long `spacy.load` took (imports, reading, deserialising);
    load_peak_mb: the peak while loading; loaded_mb: what stays resident after
    it (mostly the model); peak_mb: the peak while running the doc, model
    included. The peak is reset after loading, because deserialising holds the
    weights twice and so peaks above any doc. Linux's per-process counters are
    read rather than getrusage's ru_maxrss, which a child process inherits
    from its parent at exec (the bench's parent holds a loaded pipeline).
    """
    import spacy

    start = time.perf_counter()
    nlp = spacy.load(model)
    load_seconds = time.perf_counter() - start
    data = srsly.read_json(doc_path)
    doc = Doc(nlp.vocab, words=data["words"], spaces=data["spaces"], sent_starts=data["sent_starts"])
    loaded = _resident_mb()
    _reset_peak()
    nlp(doc)
    report = {
        "load_peak_mb": loaded["VmHWM"],
        "loaded_mb": loaded["VmRSS"],
        "peak_mb": _resident_mb()["VmHWM"],
        "load_seconds": load_seconds,
        "n_words": len(doc),
        "sentences": doc.has_annotation("SENT_START"),
    }
    print(json.dumps(report))


def _resident_mb() -> Dict[str, float]:
    """This process's resident memory now (VmRSS) and at its peak (VmHWM), in MB, read at once."""
    fields = {}
    for line in _proc_self("status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024  # kB
    return fields


def _reset_peak() -> None:
    """Set this process's peak resident memory (VmHWM) to its current size."""
    _proc_self("clear_refs").write_text("5")


def _proc_self(name: str) -> Path:
    path = Path("/proc/self") / name
    if not path.exists():
        raise RuntimeError(f"Measuring peak memory needs Linux's {path}; run the bench with --no-memory")
    return path


def multiview_batches(
    source: Path, views: Optional[Path], batch_words: int, n_batches: int, limit: int = 0
) -> Callable[[Language], List[List[Example]]]:
    """The first `n_batches` training batches as `spacy train` makes them in the source stage.

    Shuffled source sentences (seed 0) with their code-switched views where
    `views` is given, in batches of at most `batch_words` padded words
    (spacy.batch_by_padded.v1, as the workflow's runs batch them).
    """
    from spacy.training.batchers import configure_minibatch_by_padded_size

    from ..data.readers import create_multiview_corpus_reader

    def make(nlp: Language) -> List[List[Example]]:
        if views is None:
            examples = create_labelled_corpus_reader(source, limit=limit, shuffle=True, seed=0)(nlp)
        else:
            examples = create_multiview_corpus_reader(source, views, limit=limit, shuffle=True, seed=0)(nlp)
        batcher = configure_minibatch_by_padded_size(size=batch_words, buffer=256, discard_oversize=False)
        return [list(batch) for batch in islice(batcher(examples), n_batches)]

    return make


def load_examples(nlp: Language, data: Path, limit: int) -> List[Example]:
    examples = list(create_labelled_corpus_reader(data, limit=limit)(nlp))
    if not examples:
        raise ValueError(f"No documents in {data}")
    return examples
