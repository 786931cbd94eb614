"""What a pipeline costs to ship and run: size on disk, load time and memory, inference speed, dev F1.

One table for the choices a deployment makes (vocabulary trimming, int8 or bfloat16
inference, `mclner` or spaCy's `ner`), each row measured the same way in one run.
Numbers go to JSON and markdown files; nothing here asserts a speed or a size.
"""
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Sequence, Tuple

from spacy.language import Language
from spacy.tokens import Doc

from ..util import folder_mb, markdown_table
from .bench import best_seconds, concatenated_doc, load_examples, peak_memory
from .evaluate import evaluate_pipeline

HEADER_START = ["pipeline", "disk MB", "load s", "load peak MB", "loaded MB", "inference words/s"]


def footprint(
    pipelines: Dict[str, Tuple[Path, Language]],
    speed_data: Path,
    dev: Sequence[Path],
    *,
    limit: int = 256,
    batch_size: int = 32,
) -> Dict[str, Dict[str, Any]]:
    """Measure every pipeline: disk, load (a fresh process each), interleaved inference words/s on
    `limit` docs of `speed_data`, and F1 per language on the `dev` files."""
    results: Dict[str, Dict[str, Any]] = {}
    runs: List[Callable[[], Tuple[float]]] = []
    for name, (path, nlp) in pipelines.items():
        examples = load_examples(nlp, speed_data, limit)
        docs = [eg.predicted for eg in examples]
        loaded = peak_memory(path, concatenated_doc(examples, 50, sentences=True))
        results[name] = {
            "path": str(path),
            "disk_mb": folder_mb(path),
            "load_seconds": loaded["load_seconds"],
            "load_peak_mb": loaded["load_peak_mb"],
            "loaded_mb": loaded["loaded_mb"],
            "n_words": sum(len(doc) for doc in docs),
            "n_docs": len(docs),
        }
        list(nlp.pipe((doc.copy() for doc in docs), batch_size=batch_size))  # warm-up

        def run(nlp: Language = nlp, docs: List[Doc] = docs) -> Tuple[float]:
            start = time.perf_counter()
            list(nlp.pipe((doc.copy() for doc in docs), batch_size=batch_size))
            return (time.perf_counter() - start,)

        runs.append(run)
    for result, (seconds,) in zip(results.values(), best_seconds(runs)):
        result["inference_words_per_second"] = result["n_words"] / seconds
    for name, (_, nlp) in pipelines.items():
        scores = evaluate_pipeline(nlp, dev, batch_size=batch_size, desc=f"dev {name}")
        results[name]["dev_f1"] = {lang: s["f"] for lang, s in scores["ents_per_lang"].items()}
    return results


def footprint_markdown(results: Dict[str, Dict[str, Any]]) -> str:
    langs = sorted({lang for r in results.values() for lang in r["dev_f1"]})
    rows = [
        [
            name, f"{r['disk_mb']:.0f}", f"{r['load_seconds']:.1f}", f"{r['load_peak_mb']:.0f}", f"{r['loaded_mb']:.0f}",
            f"{r['inference_words_per_second']:.0f}", *(f"{100 * r['dev_f1'].get(lang, float('nan')):.1f}" for lang in langs),
        ]
        for name, r in results.items()
    ]  # fmt: skip
    header = HEADER_START + [f"dev F1 {lang}" for lang in langs]
    return "\n".join(markdown_table(header, rows)) + "\n"
