"""The same seed and data give the same model and the same predictions on CPU."""
import hashlib
from pathlib import Path
from typing import Tuple

from spacy.util import fix_random_seed

from .helpers import TRAIN_DATA, make_examples, make_nlp

STEPS = 3


def train(encoder_dir: Path, seed: int) -> Tuple[str, bytes]:
    """(digest of the trained pipe's bytes, logits it predicts) after a few steps with dropout."""
    fix_random_seed(seed)
    nlp = make_nlp(encoder_dir, dropout=0.1)  # dropout on: its masks must repeat too
    examples = make_examples(nlp)
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(STEPS):
        nlp.update(examples, sgd=optimizer, drop=0.1)
    pipe = nlp.get_pipe("mclner")
    logits = pipe.predict([nlp.make_doc(text) for text, _ in TRAIN_DATA]).logits
    return hashlib.sha256(pipe.to_bytes()).hexdigest(), pipe.model.ops.to_numpy(logits).tobytes()


def test_same_seed_same_model_and_predictions(encoder_dir: Path):
    first = train(encoder_dir, seed=0)
    assert train(encoder_dir, seed=0) == first
    assert train(encoder_dir, seed=1)[0] != first[0]  # the digest does see the trained weights
