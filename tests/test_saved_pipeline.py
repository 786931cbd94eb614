"""A pipeline saved by an earlier version of the package loads and predicts as it did then.

`fixtures/saved-pipeline` was written at commit 68ed68b, before the package took its current
layout, by `fixtures/make_saved_pipeline.py`; its predictions then are in predictions.json.
"""
from pathlib import Path

import pytest
import spacy
import srsly

SAVED = Path(__file__).parent / "fixtures" / "saved-pipeline"


def test_saved_pipeline_predicts_as_when_saved() -> None:
    nlp = spacy.load(SAVED)
    expected = srsly.read_json(SAVED / "predictions.json")
    assert sum(len(record["ents"]) for record in expected) > 0
    for record, doc in zip(expected, nlp.pipe([record["text"] for record in expected])):
        assert [[ent.start, ent.end, ent.label_] for ent in doc.ents] == record["ents"]
        group = doc.spans["mclner"]
        assert [[span.start, span.end, span.label_] for span in group] == record["candidates"]
        assert [float(score) for score in group.attrs["scores"]] == pytest.approx(record["scores"], abs=1e-5)
