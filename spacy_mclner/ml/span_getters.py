"""Transformer windows bounded in word pieces as well as in tokens.

spacy-transformers' `strided_spans.v1` cuts a doc into windows of a fixed number
of tokens. The transformer takes at most `model_max_length` pieces (512), and
spacy-transformers drops every piece past that from the end of a window, so one
very long token (a URL, a base64 blob, an unsegmented clause) takes the pieces
of every token after it in its window: those tokens get no vector. The windows
here also hold no more tokens than their worst-case piece count allows.

Worst case: a token becomes at most `worst_case_pieces(token.text)` pieces,
sum over its characters of max(1, len(NFKC(char))), plus one. This holds for
sentencepiece tokenizers (XLM-R, multilingual-e5): the normaliser maps each
character to at most its NFKC form (U+FDFA, one character, becomes 18), every
piece covers at least one normalised character, and a word may start with a
piece of its own (the "▁" of the space before it or of the start of the text).
Checked with multilingual-e5-small's tokenizer on every code point (pieces of
the character alone; `len(char) + 1` is exceeded by 280 of them, this bound by
none) and on 20,000 random multi-token spans mixing scripts, compatibility
characters, combining marks and spaces (never exceeded; reached exactly).
WordPiece (cased BERT, as in mBERT) adds no piece of its own and each covers
at least one character (argued from its algorithm, not checked here).
"""
import unicodedata
from functools import lru_cache, partial
from typing import Callable, Iterable, List

from spacy.tokens import Doc, Span
from spacy_transformers.util import registry

SpanGetter = Callable[[Iterable[Doc]], List[List[Span]]]


@registry.span_getters("spacy_mclner.bounded_strided_spans.v1")
def configure_bounded_strided_spans(window: int, stride: int, max_pieces: int) -> SpanGetter:
    """Strided windows of at most `window` tokens and `max_pieces` worst-case pieces.

    window, stride: as in spacy-transformers.strided_spans.v1 (windows start
        `stride` tokens apart, so each token gets context on both sides); a
        window cut short by `max_pieces` steps by the same share of its length.
    max_pieces: the transformer's limit minus its special tokens per window,
        510 for multilingual-e5 / XLM-R / mBERT (512 with <s> and </s>).
    A token that alone may exceed `max_pieces` gets a window of its own, so
    only its own pieces can be cut.
    """
    if window < 1 or not 1 <= stride <= window:
        raise ValueError(
            f"bounded_strided_spans needs 1 <= stride <= window, got window={window}, stride={stride} "
            "(a stride above the window would leave tokens out of every window)"
        )
    if max_pieces < 1:
        raise ValueError(f"bounded_strided_spans needs max_pieces >= 1, got {max_pieces}")
    return partial(get_bounded_strided_spans, window=window, stride=stride, max_pieces=max_pieces)


def get_bounded_strided_spans(docs: Iterable[Doc], window: int, stride: int, max_pieces: int) -> List[List[Span]]:
    """The windows of each doc; identical to strided_spans.v1 where no window reaches max_pieces."""
    return [_doc_windows(doc, window, stride, max_pieces) for doc in docs]


def _doc_windows(doc: Doc, window: int, stride: int, max_pieces: int) -> List[Span]:
    costs = [worst_case_pieces(token.text) for token in doc]
    n_tokens = len(costs)
    windows: List[Span] = []
    start = 0
    while start < n_tokens:
        end = start + 1
        pieces = costs[start]
        limit = min(n_tokens, start + window)
        while end < limit and pieces + costs[end] <= max_pieces:
            pieces += costs[end]
            end += 1
        windows.append(doc[start:end])
        if end == n_tokens:
            break
        if pieces > max_pieces or costs[end] > max_pieces:
            # An oversized token ends this window or is it: no overlap into or out of it.
            start = end
        else:
            start += max(1, (end - start) * stride // window)
    return windows


def worst_case_pieces(text: str) -> int:
    """The most word pieces a token's text can become (see the module docstring)."""
    if text.isascii():
        return len(text) + 1
    return sum(_char_pieces(char) for char in text) + 1


@lru_cache(maxsize=65536)
def _char_pieces(char: str) -> int:
    return max(1, len(unicodedata.normalize("NFKC", char)))
