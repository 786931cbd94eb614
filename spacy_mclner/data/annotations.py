"""Everything `spacy_mclner` keeps in a Doc's `user_data`, in one place.

DocBin (with store_user_data=True) saves `user_data`, so what a step writes there travels
with the docs from one command to the next: a doc's language (convert), a code-switched
view's source and phrase alignment (codeswitch), the teacher's distributions of a
pseudo-labelled doc (pseudo-label). Two keys live in memory only, during training: the
views attached to a source doc by the multi-view reader and, in a batch, a view's source.
"""
import re
from typing import Dict, Optional, Sequence

import numpy
import spacy
from spacy.tokens import Doc

from ..grid import band_size

# The doc's language code, so that scores can be broken down by language.
LANG_KEY = "mclner_lang"
# On a code-switched view: the index of its source doc in the source corpus, and the phrase
# alignment as (source start, source end, view start, view end) token blocks.
SOURCE_INDEX_KEY = "mclner_source_index"
ALIGNMENT_KEY = "mclner_alignment"
# On a source reference doc during training: its code-switched view Examples (memory only).
VIEWS_KEY = "mclner_views"
# On a view reference doc inside a batch: the batch position of its source (memory only).
PAIR_KEY = "mclner_pair"
# On a pseudo-labelled doc: the teacher's labels, band width and band probabilities.
TEACHER_KEY = "mclner_teacher"
TEACHER_DTYPE = "float16"

_LANG_PATTERN = re.compile(r"[a-z]{2,3}")


def set_doc_lang(doc: Doc, lang: str) -> None:
    """Record the doc's language where DocBin (store_user_data=True) keeps it."""
    validate_lang(lang)
    doc.user_data[LANG_KEY] = lang


def get_doc_lang(doc: Doc) -> Optional[str]:
    """Return the language recorded by set_doc_lang, or None."""
    return doc.user_data.get(LANG_KEY)


def validate_lang(lang: str) -> None:
    """Refuse what is not shaped like an ISO 639 code."""
    if not isinstance(lang, str) or not _LANG_PATTERN.fullmatch(lang):
        raise ValueError(
            f"Invalid language code {lang!r}: expected 2 or 3 lowercase "
            "letters (ISO 639), such as 'en', 'zh' or 'xx'"
        )


def check_known_lang(lang: str) -> None:
    """Raise unless spaCy or CLDR (babel) knows the language code `lang`.

    A typo ("ge" for German) would otherwise label a corpus under a language
    that no dev set scores. spaCy alone knows too few of the PAN-X languages
    (not jv, ka, kk, my or sw), CLDR alone not spaCy's multi-language "xx".
    """
    import babel

    validate_lang(lang)
    try:
        spacy.util.get_lang_class(lang)
        return
    except ImportError:
        pass
    try:
        babel.Locale.parse(lang)
    except (ValueError, babel.UnknownLocaleError):
        raise ValueError(f"Unknown language code {lang!r}: neither spaCy nor CLDR (babel) knows it") from None


# Self-training's L_mse (docs/method.md section 5, eq. 10) pulls the student's class
# distribution of every grid cell towards the teacher's. The teacher labels a corpus once per
# round, so its distributions are stored then, with the labels, rather than computed by a
# second model in every training step: the student's steps cost no extra forward pass and no
# teacher in memory. A doc keeps only the cells of its band (entities up to `max_entity_width`
# words and the NNW cells), in float16: about 2 KB for a 20-word sentence with 4 entity types,
# linear in its length. Pseudo-labelled docs are single sentences, so a doc's band is its
# sentence's band.


def set_teacher_distributions(doc: Doc, probs: numpy.ndarray, labels: Sequence[str], max_width: int) -> None:
    """Store the teacher's (band cells x classes) probabilities of `doc`, compactly, where DocBin keeps them."""
    n_cells = band_size(len(doc), max_width)
    if probs.ndim != 2 or probs.shape[0] != n_cells:
        raise ValueError(f"Expected the probabilities of {n_cells} band cells, got an array of shape {probs.shape}")
    doc.user_data[TEACHER_KEY] = {
        "labels": list(labels),
        "max_width": int(max_width),
        "probs": numpy.ascontiguousarray(probs, dtype=TEACHER_DTYPE).tobytes(),
    }


def has_teacher_distributions(doc: Doc) -> bool:
    return TEACHER_KEY in doc.user_data


def get_teacher_distributions(doc: Doc, labels: Sequence[str], max_width: int) -> numpy.ndarray:
    """The stored (band cells x classes) probabilities, float32, checked against the student's labels and band."""
    record: Dict = doc.user_data[TEACHER_KEY]
    if list(record["labels"]) != list(labels) or record["max_width"] != max_width:
        raise ValueError(
            f"A pseudo-labelled doc carries teacher distributions over labels {list(record['labels'])} and entities "
            f"up to {record['max_width']} words, but the student has labels {list(labels)} and max_entity_width "
            f"{max_width}; doc starts: {doc.text[:60]!r}"
        )
    probs = numpy.frombuffer(record["probs"], dtype=TEACHER_DTYPE)
    n_cells = band_size(len(doc), max_width)
    n_classes = len(labels) + 2
    if probs.size != n_cells * n_classes:
        raise ValueError(
            f"The teacher distributions of a pseudo-labelled doc hold {probs.size} values, not {n_cells} band cells "
            f"x {n_classes} classes for its {len(doc)} tokens; doc starts: {doc.text[:60]!r}"
        )
    return probs.reshape(n_cells, n_classes).astype("float32")
