"""One token per Han / kana character, and a check for text that was never segmented.

Chinese and Japanese are written without spaces, so spaCy's `xx` tokenizer keeps a
whole clause as one token, and the `mclner` grid, which labels whole tokens, can
find no entity inside it. PAN-X (the zh / ja benchmarks) gives one token per
character; the tokenizer here does the same to raw text. Hangul is left alone:
Korean separates words with spaces.
"""
import re
from typing import Callable, List

from spacy.language import Language
from spacy.tokenizer import Tokenizer
from spacy.tokens import Doc
from spacy.util import compile_infix_regex, compile_prefix_regex, compile_suffix_regex, registry

_HAN = (
    r"\u2E80-\u2FDF"  # CJK radicals, Kangxi radicals
    r"\u3005\u3007\u3021-\u3029\u3038-\u303B"  # 々, 〇, Hangzhou numerals
    r"\u3400-\u4DBF\u4E00-\u9FFF\uF900-\uFAFF"  # extension A, unified, compatibility
    r"\U00020000-\U0003134F"  # extensions B-G, compatibility supplement
)
_KANA = (
    r"\u3041-\u309F"  # hiragana
    r"\u30A0-\u30FF\u31F0-\u31FF\uFF66-\uFF9F"  # katakana, phonetic extensions, halfwidth
    r"\U0001B000-\U0001B16F"  # kana supplement and extensions
)
CJK_CHARS = _HAN + _KANA
# Zero-width infixes before and after every Han / kana character: spaCy's tokenizer
# splits there without adding a token, so "2024年に" gives "2024", "年", "に".
CJK_CHAR_BOUNDARY = rf"(?<=[{CJK_CHARS}])|(?=[{CJK_CHARS}])"
_CJK_CHAR = re.compile(f"[{CJK_CHARS}]")


@registry.tokenizers("spacy_mclner.CJKCharTokenizer.v1")
def create_cjk_char_tokenizer() -> Callable[[Language], Tokenizer]:
    """The language's default tokenizer, plus a token boundary around each Han / kana character.

    Everything else (prefixes, suffixes, exceptions, URLs) works as in
    `spacy.Tokenizer.v1`, so text without Han or kana is tokenised the same.
    The boundary is an infix pattern, saved and loaded with the pipeline.
    """

    def tokenizer_factory(nlp: Language) -> Tokenizer:
        defaults = nlp.Defaults
        infixes = list(defaults.infixes or []) + [CJK_CHAR_BOUNDARY]
        return Tokenizer(
            nlp.vocab,
            rules=defaults.tokenizer_exceptions,
            prefix_search=compile_prefix_regex(defaults.prefixes).search if defaults.prefixes else None,
            suffix_search=compile_suffix_regex(defaults.suffixes).search if defaults.suffixes else None,
            infix_finditer=compile_infix_regex(infixes).finditer,
            token_match=defaults.token_match,
            url_match=defaults.url_match,
        )

    return tokenizer_factory


def unsegmented_cjk_tokens(doc: Doc, max_chars: int = 8) -> List[int]:
    """Indices of the tokens holding more than `max_chars` Han / kana characters.

    Chinese word segmentation gives words of one to four characters, so a longer
    run means the text was never segmented, as by spaCy's `xx` tokenizer.
    """
    return [token.i for token in doc if len(token.text) > max_chars and len(_CJK_CHAR.findall(token.text)) > max_chars]
