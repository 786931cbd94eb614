"""A tiny mclner pipe and its training data, shared by the test modules."""
import random
import string
from pathlib import Path
from typing import List, Tuple

import spacy
from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example

from spacy_mclner.data.annotations import set_doc_lang

TRAIN_DATA: List[Tuple[str, List[Tuple[int, int, str]]]] = [
    ("Angela Merkel besuchte Paris .", [(0, 13, "PER"), (23, 28, "LOC")]),
    ("Barack Obama works for Google in New York .", [(0, 12, "PER"), (23, 29, "ORG"), (33, 41, "LOC")]),
    ("Siemens baut in München .", [(0, 7, "ORG"), (16, 23, "LOC")]),
]
# A 20,000-character token (a blob, say): about 15,000 word pieces, far past the encoder's 512.
GIANT = "".join(random.Random(0).choice(string.ascii_letters + string.digits) for _ in range(20_000))
SMALL_HEAD = {
    "hidden_width": 64,
    "biaffine_width": 64,
    "pair_width": 32,
    "conv_width": 16,
    "projection_width": 16,
    "dropout": 0.0,
}


def make_nlp(encoder_dir: Path, **model_config) -> Language:
    nlp = spacy.blank("xx")
    model = {"tok2vec": {"name": str(encoder_dir)}, **SMALL_HEAD, **model_config}
    nlp.add_pipe("mclner", config={"model": model, "encoder_lr_scale": 0.1})
    return nlp


def make_examples(nlp: Language) -> List[Example]:
    examples = []
    for text, ents in TRAIN_DATA:
        example = Example.from_dict(nlp.make_doc(text), {"entities": ents})
        set_doc_lang(example.reference, "en")
        examples.append(example)
    return examples


def entities(doc: Doc) -> List[Tuple[str, str]]:
    return [(ent.text, ent.label_) for ent in doc.ents]
