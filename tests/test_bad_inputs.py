"""Bad inputs: each gives correct output or a clear error naming its cause, none crashes
the process or loses a document.

Tested elsewhere, not repeated here:
- empty docs: test_pipe.py::test_empty_and_one_token_docs
- whitespace-only tokens at entity boundaries: test_pipe.py::test_entities_never_begin_or_end_on_whitespace_tokens
- a doc longer than the transformer window: test_pipe.py::test_doc_longer_than_the_transformer_window
- unknown labels in training data: test_pipe.py::test_unknown_label_in_training_data_is_an_error
- a model folder without its cfg: test_pipe.py::test_loading_a_folder_without_cfg_names_it
- entities only in doc.spans, an unreadable .spacy file: test_corpus.py
- the transformer windows around an oversized token: test_span_getters.py
"""
import os
import re
import shutil
import warnings
from pathlib import Path
from typing import Callable, Dict

import pytest
import spacy
from spacy.language import Language
from spacy.tokens import Doc, DocBin, Span
from spacy.training import Example
from spacy.util import load_config, load_model_from_config

from spacy_mclner.data.readers import create_labelled_corpus_reader
from spacy_mclner.data.tokenizer import create_cjk_char_tokenizer

from .helpers import GIANT, entities, make_examples

CONFIG = Path(__file__).parent.parent / "configs" / "mclner.cfg"
CHINESE = "李明在北京大学工作了很多年。"
BAD_TEXTS: Dict[str, str] = {
    "empty": "",
    "whitespace only": " \n\t ",
    "giant token": f"Angela Merkel besuchte Paris . {GIANT} Siemens baut in München .",
    "longer than the transformer window": "Angela Merkel besuchte Paris . " * 60,
    "mixed scripts": "Angela Merkel besuchte Paris . 李明在北京工作 。 ذهب محمد إلى القاهرة .",
    "unsegmented CJK": CHINESE,
}


@pytest.mark.parametrize("text", [" ", "\n\n", " \t \n"])
def test_whitespace_only_docs(trained: Language, text: str):
    doc = trained(text)
    assert doc.text == text
    assert list(doc.ents) == [] and len(doc.spans["mclner"]) == 0


def test_a_20000_character_token_leaves_the_other_entities(trained: Language):
    without = trained(BAD_TEXTS["giant token"].replace(f" {GIANT}", ""))
    doc = trained(BAD_TEXTS["giant token"])
    assert len(without.ents) >= 3
    assert entities(doc) == entities(without)


def test_mixed_scripts_in_one_doc(trained: Language):
    doc = trained(BAD_TEXTS["mixed scripts"])
    assert doc.text == BAD_TEXTS["mixed scripts"]
    assert {("Angela Merkel", "PER"), ("Paris", "LOC")} <= set(entities(doc))


def test_unsegmented_cjk_from_the_xx_tokenizer_warns(trained: Language):
    """Wired in the pipe: it warns, naming the cause and the CJK tokenizer."""
    with pytest.warns(UserWarning, match="CJK"):
        trained(CHINESE)


def test_cjk_tokenizer_puts_entity_boundaries_on_characters(trained: Language):
    cjk_tokenizer = create_cjk_char_tokenizer()(trained)
    beijing = (CHINESE.index("北京"), CHINESE.index("北京") + 2, "LOC")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        doc = trained(cjk_tokenizer(CHINESE))
        gold = Example.from_dict(cjk_tokenizer(CHINESE), {"entities": [beijing]})
    assert not [w for w in caught if re.search("CJK|W030", str(w.message))]  # W030: misaligned entity
    assert [len(token) for token in doc] == [1] * len(CHINESE)
    assert [(ent.text, ent.label_) for ent in gold.reference.ents] == [("北京", "LOC")]
    with pytest.warns(UserWarning, match="W030"):  # the xx tokens cannot hold it
        misaligned = Example.from_dict(trained.make_doc(CHINESE), {"entities": [beijing]})
    assert list(misaligned.reference.ents) == []


def test_every_bad_doc_comes_back_from_pipe(trained: Language):
    texts = list(BAD_TEXTS.values())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        docs = list(trained.pipe(texts, batch_size=2))
        one_by_one = [entities(trained(text)) for text in texts]
    assert [doc.text for doc in docs] == texts
    assert [entities(doc) for doc in docs] == one_by_one


@pytest.fixture(scope="module")
def saved(trained: Language, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("saved") / "pipeline"
    trained.to_disk(path)
    return path


def _truncate(path: Path) -> None:
    with path.open("rb") as file_:
        head = file_.read(1 << 20)
    path.unlink()  # the copy is a hard link: write a new file, not through the link
    path.write_bytes(head)


def _replace(content: bytes) -> Callable[[Path], None]:
    def replace(path: Path) -> None:
        path.unlink()
        path.write_bytes(content)

    return replace


@pytest.mark.parametrize(
    "file,damage",
    [("model", _truncate), ("model", _replace(b"not msgpack" * 100)), ("cfg", _replace(b"{not json"))],
    ids=["truncated model", "garbage model", "garbage cfg"],
)
def test_a_damaged_model_folder_names_the_file(
    saved: Path, tmp_path: Path, file: str, damage: Callable[[Path], None]
):
    copy = tmp_path / "pipeline"
    shutil.copytree(saved, copy, copy_function=os.link)
    damage(copy / "mclner" / file)
    with pytest.raises(ValueError, match=re.escape(str(copy / "mclner" / file))):
        spacy.load(copy)


def test_a_config_naming_a_missing_encoder_folder_names_it(tmp_path: Path):
    missing = tmp_path / "no-encoder"
    nlp = load_model_from_config(load_config(CONFIG, overrides={"paths.encoder": str(missing)}), auto_fill=True)
    with pytest.raises(FileNotFoundError, match=re.escape(str(missing))):
        nlp.initialize(lambda: make_examples(nlp))


def test_overlapping_gold_spans_name_the_file_and_doc(tmp_path: Path):
    """Doc.ents cannot overlap; a DocBin's doc.spans can. The reader refuses them, naming where."""
    vocab = spacy.blank("xx").vocab
    flat = Doc(vocab, words=["Paris", "."], ents=["B-LOC", "O"])
    nested = Doc(vocab, words=["Bank", "of", "China", "."], ents=["B-ORG", "I-ORG", "I-ORG", "O"])
    nested.spans["sc"] = [Span(nested, 0, 3, "ORG"), Span(nested, 2, 3, "LOC")]
    path = tmp_path / "nested.spacy"
    DocBin(docs=[flat, nested]).to_disk(path)
    expected = f"{path}: doc 1 has overlapping spans in doc.spans['sc']: 'Bank of China'"
    with pytest.raises(ValueError, match=re.escape(expected) + ".*'China'"):
        create_labelled_corpus_reader(path)(spacy.blank("xx"))
