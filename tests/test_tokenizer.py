import subprocess
import sys
from pathlib import Path
from typing import List

import pytest
import spacy
from hypothesis import given, settings
from hypothesis import strategies as st
from spacy.language import Language
from spacy.util import load_config

from spacy_mclner.data.tokenizer import unsegmented_cjk_tokens

CONFIGS = sorted((Path(__file__).parent.parent / "configs").glob("*.cfg"))
CJK_TOKENIZER = {"@tokenizers": "spacy_mclner.CJKCharTokenizer.v1"}


@pytest.fixture(scope="module")
def nlp() -> Language:
    return spacy.blank("xx", config={"nlp": {"tokenizer": CJK_TOKENIZER}})


def words(nlp: Language, text: str) -> List[str]:
    return [token.text for token in nlp(text)]


@pytest.mark.parametrize(
    "text,expected",
    [
        ("我在北京工作。", ["我", "在", "北", "京", "工", "作", "。"]),
        ("2024年に東京へ", ["2024", "年", "に", "東", "京", "へ"]),
        ("年2024", ["年", "2024"]),
        ("「東京」と大阪", ["「", "東", "京", "」", "と", "大", "阪"]),
        ("ソニーのｿﾆｰ", ["ソ", "ニ", "ー", "の", "ｿ", "ﾆ", "ｰ"]),
        ("Apple在𠀋京", ["Apple", "在", "𠀋", "京"]),
    ],
)
def test_han_and_kana_become_one_token_each(nlp: Language, text: str, expected: List[str]):
    assert words(nlp, text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Angela Merkel besuchte Paris.",
        "I can't go (really) -- see https://example.com/a?b=c :)",
        "서울에서 만났다",
    ],
)
def test_text_without_han_or_kana_is_tokenised_as_by_default(nlp: Language, text: str):
    assert words(nlp, text) == words(spacy.blank("xx"), text)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ab1 \n、。-北京東ソに서울", max_size=30))
def test_keeps_the_text_and_leaves_no_han_or_kana_run(nlp: Language, text: str):
    doc = nlp(text)
    assert doc.text == text
    assert unsegmented_cjk_tokens(doc, max_chars=1) == []
    assert all(len(token) == 1 for token in doc if any(char in "北京東ソに" for char in token.text))


def test_unsegmented_cjk_tokens_finds_unsplit_clauses(nlp: Language):
    text = "李明在北京大学工作了很多年。 Angela 去了 上海 대한민국국회의사당에서"
    xx_doc = spacy.blank("xx")(text)
    assert [xx_doc[i].text for i in unsegmented_cjk_tokens(xx_doc)] == ["李明在北京大学工作了很多年"]
    assert unsegmented_cjk_tokens(xx_doc, max_chars=13) == []
    assert unsegmented_cjk_tokens(nlp(text)) == []


def test_a_saved_pipeline_loads_its_tokenizer_without_an_import(nlp: Language, tmp_path: Path):
    nlp.to_disk(tmp_path / "pipeline")
    code = f"import spacy\nprint(' '.join(t.text for t in spacy.load({str(tmp_path / 'pipeline')!r})('在北京')))"
    result = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert result.stdout.split() == ["在", "北", "京"]


@pytest.mark.parametrize("config_path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_configs_use_the_cjk_tokenizer(config_path: Path):
    config = load_config(config_path)
    nlp = spacy.blank(config["nlp"]["lang"], config={"nlp": {"tokenizer": config["nlp"]["tokenizer"]}})
    assert words(nlp, "在北京") == ["在", "北", "京"]

