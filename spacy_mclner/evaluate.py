"""Evaluate any spaCy NER pipeline on labelled files: strict entity scores per language."""
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from spacy.language import Language
from spacy.training import Example

from .corpus import create_labelled_corpus_reader
from .scoring import score_entities


def evaluate_pipeline(
    nlp: Language,
    paths: Sequence[Path],
    *,
    limit: int = 0,
    batch_size: int = 64,
    labels: Optional[Sequence[str]] = None,
) -> Dict[str, Any]:
    """Run `nlp` over the .spacy files' texts (their own tokens) and score its `Doc.ents`.

    Scoring reads only `Doc.ents`, so the pipeline may be `mclner`, spaCy's
    `ner` or anything else that sets entities. `labels` keeps only predictions
    of those types, for test sets with fewer types than the training data
    (a CoNLL model, which knows MISC, on PAN-X). Also reports inference words/s.
    """
    examples: List[Example] = list(
        create_labelled_corpus_reader(",".join(str(p) for p in paths), limit=limit)(nlp)
    )
    if not examples:
        raise ValueError(f"No documents to evaluate in {', '.join(map(str, paths))}")
    start = time.perf_counter()
    predicted = list(nlp.pipe((eg.predicted for eg in examples), batch_size=batch_size))
    seconds = time.perf_counter() - start
    if labels is not None:
        for doc in predicted:
            doc.set_ents([ent for ent in doc.ents if ent.label_ in labels], default="outside")
    scores = score_entities(Example(doc, eg.reference) for doc, eg in zip(predicted, examples))
    n_words = sum(len(doc) for doc in predicted)
    scores["speed"] = {"words": n_words, "seconds": seconds, "words_per_second": n_words / seconds}
    return scores
