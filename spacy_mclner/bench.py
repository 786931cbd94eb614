"""Speed benchmark: inference and training words/s of NER pipelines on the same data.

Numbers go to JSON and markdown files; nothing here asserts a speed.
"""
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Sequence

from spacy.language import Language
from spacy.training import Example
from spacy.util import minibatch

from .corpus import create_labelled_corpus_reader


REPEATS = 3


def _words_per_second(run: Callable[[], Any], n_words: int) -> float:
    """Best of REPEATS runs: other load on the machine only ever slows a run down."""
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return n_words / best


def bench_pipeline(
    nlp: Language, examples: Sequence[Example], *, batch_size: int = 32, train_batches: int = 8
) -> Dict[str, float]:
    """Words/s of inference (`nlp.pipe`), of the NER component's encoder alone, and of training.

    Each rate is the best of REPEATS runs after a warm-up batch. Training
    continues the loaded weights with `nlp.resume_training()`, so pass a copy
    you can spoil.
    """
    ner_names = [name for name, pipe in nlp.pipeline if hasattr(pipe, "model") and pipe.model.has_ref("tok2vec")]
    if len(ner_names) != 1:
        raise ValueError(f"Expected one component with an embedded tok2vec, found {ner_names}")
    tok2vec = nlp.get_pipe(ner_names[0]).model.get_ref("tok2vec")
    docs = [eg.predicted for eg in examples]
    n_words = sum(len(doc) for doc in docs)
    warm_up = [doc.copy() for doc in docs[:batch_size]]
    list(nlp.pipe(warm_up, batch_size=batch_size))
    inference = _words_per_second(
        lambda: list(nlp.pipe((doc.copy() for doc in docs), batch_size=batch_size)), n_words
    )
    # Batched by length, as `mclner.pipe` batches, so the two rates compare like for like.
    by_length = sorted(docs, key=len)
    encoder = _words_per_second(
        lambda: [tok2vec.predict(batch) for batch in minibatch(by_length, batch_size)], n_words
    )
    train_examples = list(examples[: batch_size * train_batches])
    optimizer = nlp.resume_training()
    nlp.update(train_examples[:batch_size], sgd=optimizer)
    training = _words_per_second(
        lambda: [nlp.update(batch, sgd=optimizer) for batch in minibatch(train_examples, batch_size)],
        sum(len(eg.predicted) for eg in train_examples),
    )
    return {
        "inference_words_per_second": inference,
        "encoder_forward_words_per_second": encoder,
        "training_words_per_second": training,
        "n_docs": len(docs),
        "n_words": n_words,
        "batch_size": batch_size,
    }


def bench_markdown(results: Dict[str, Dict[str, float]]) -> str:
    """A markdown table of bench_pipeline results, one row per pipeline."""
    lines = [
        "| pipeline | inference words/s | encoder forward words/s | training words/s | docs | words |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['inference_words_per_second']:.0f} | {r['encoder_forward_words_per_second']:.0f} "
            f"| {r['training_words_per_second']:.0f} | {r['n_docs']} | {r['n_words']} |"
        )
    return "\n".join(lines) + "\n"


def load_examples(nlp: Language, data: Path, limit: int) -> List[Example]:
    examples = list(create_labelled_corpus_reader(data, limit=limit)(nlp))
    if not examples:
        raise ValueError(f"No documents in {data}")
    return examples
