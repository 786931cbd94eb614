"""The component's settings are written once (MCLNERSettings) and reach spaCy's config, validation and cfg."""
import dataclasses
import inspect

import pytest
import spacy
from thinc.api import ConfigValidationError

from spacy_mclner.pipeline.mclner import make_mclner
from spacy_mclner.pipeline.settings import MCLNERSettings


def test_factory_signature_and_default_config_come_from_the_settings() -> None:
    fields = {field.name: field for field in dataclasses.fields(MCLNERSettings)}
    parameters = inspect.signature(make_mclner).parameters
    assert list(parameters)[:4] == ["nlp", "name", "model", "scorer"]
    for name, field in fields.items():
        assert parameters[name].default == field.default and parameters[name].annotation is field.type
    meta = spacy.Language.get_factory_meta("mclner")
    assert {key: meta.default_config[key] for key in fields} == dataclasses.asdict(MCLNERSettings())


def test_config_settings_are_validated_and_kept_in_cfg() -> None:
    nlp = spacy.blank("xx")
    pipe = nlp.add_pipe("mclner", config={"none_weight": 0.25, "require_nnw": False})
    assert pipe.settings == MCLNERSettings(none_weight=0.25, require_nnw=False)
    assert pipe.cfg["none_weight"] == 0.25 and pipe.cfg["labels"] == []
    with pytest.raises(ConfigValidationError, match="max_entity_width"):
        spacy.blank("xx").add_pipe("mclner", config={"max_entity_width": "wide"})
    with pytest.raises(ConfigValidationError, match="none_wieght"):
        spacy.blank("xx").add_pipe("mclner", config={"none_wieght": 0.1})


def test_settings_refuse_impossible_values() -> None:
    with pytest.raises(ValueError, match="max_entity_width must be at least 1"):
        MCLNERSettings(max_entity_width=0)
    with pytest.raises(ValueError, match=r"threshold must lie in \[0, 1\]"):
        MCLNERSettings(threshold=1.5)
