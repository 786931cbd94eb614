"""An HTML page of dev sentences with gold and predicted entities side by side (displaCy), per language.

Numbers say how often a pipeline is wrong; the page shows how: a few sentences of
each language where some pipeline's entities differ from the gold ones, the gold
rendering first and each pipeline's below it.
"""
import html
import warnings
from typing import Dict, List, Mapping, Sequence

from spacy import displacy
from spacy.tokens import Doc
from spacy.training import Example

from ..data.annotations import get_doc_lang

# Sentences shown per language, and how many of each language's first dev sentences are kept to choose them from.
SENTENCES_PER_LANG = 5
CANDIDATES_PER_LANG = 500


def _spans(doc: Doc) -> List[tuple]:
    return [(ent.start, ent.end, ent.label_) for ent in doc.ents]


def keep_candidates(scored: Sequence[Example], per_lang: int = CANDIDATES_PER_LANG) -> List[Example]:
    """The first `per_lang` examples of each language: all the page needs, so memory stays small."""
    counts: Dict[str, int] = {}
    kept = []
    for eg in scored:
        lang = get_doc_lang(eg.reference) or "xx"
        if counts.get(lang, 0) < per_lang:
            counts[lang] = counts.get(lang, 0) + 1
            kept.append(eg)
    return kept


def choose_sentences(predictions: Mapping[str, Sequence[Example]], n: int = SENTENCES_PER_LANG) -> Dict[str, List[int]]:
    """Per language, the positions of its first `n` sentences where some pipeline errs, in data order.

    Every pipeline scored the same examples in the same order, so positions line up.
    Where fewer than `n` sentences hold an error, the first error-free ones fill up.
    """
    first = next(iter(predictions.values()))
    errors: Dict[str, List[int]] = {}
    fill: Dict[str, List[int]] = {}
    for i, eg in enumerate(first):
        lang = get_doc_lang(eg.reference) or "xx"
        gold = _spans(eg.reference)
        wrong = any(_spans(examples[i].predicted) != gold for examples in predictions.values())
        (errors if wrong else fill).setdefault(lang, []).append(i)
    langs = sorted(set(errors) | set(fill))
    return {lang: (errors.get(lang, []) + fill.get(lang, []))[:n] for lang in langs}


def errors_html(predictions: Mapping[str, Sequence[Example]], title: str, n: int = SENTENCES_PER_LANG) -> str:
    """A self-contained HTML page: per language, gold and every pipeline's entities for the chosen sentences."""
    chosen = choose_sentences(predictions, n)
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;margin:2em;max-width:70em}h2{margin-top:2em}"
        ".sentence{border-top:1px solid #ccc;padding:.5em 0}.row{display:flex;gap:1em;align-items:baseline}"
        ".who{width:9em;flex:none;color:#555;font-size:90%}.wrong{color:#b00}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        "<p>Per language, dev sentences where some pipeline's entities differ from the gold ones "
        "(first in data order; error-free ones fill up where there are fewer), gold first.</p>",
    ]
    first = next(iter(predictions.values()))
    for lang, positions in chosen.items():
        parts.append(f"<h2>{html.escape(lang)}</h2>")
        for i in positions:
            gold = first[i].reference
            parts.append("<div class='sentence'>")
            parts.append(_row("gold", gold, False))
            for name, examples in predictions.items():
                predicted = examples[i].predicted
                parts.append(_row(name, predicted, _spans(predicted) != _spans(gold)))
            parts.append("</div>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _row(who: str, doc: Doc, wrong: bool) -> str:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*\[W006\]")  # a sentence without entities is shown as plain text
        rendered = displacy.render(doc, style="ent", page=False, jupyter=False)
    mark = " <span class='wrong'>(differs)</span>" if wrong else ""
    return f"<div class='row'><div class='who'>{html.escape(who)}{mark}</div><div>{rendered}</div></div>"
