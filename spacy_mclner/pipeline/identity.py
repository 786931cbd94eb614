"""Whether two saved `mclner` pipelines predict alike on the same docs: the same weights, model and settings.

A self-training student whose best checkpoint is its first evaluation (taken
before the learning rate's warm-up moved any weight) is its teacher again.
Scoring it a second time costs minutes on a CPU and tells nothing new, so the
rounds and the report ask this instead. Weights are compared tensor by tensor,
not by the saved bytes, which also hold the folder a transformer was loaded from.
The tokenizer is not compared: it makes docs from text, and scores are taken on
the dev sets' own tokens (a student's config may name another tokenizer).
"""
from pathlib import Path
from typing import Any, Dict, Union

import numpy
import torch
from thinc.api import Model, PyTorchShim

from .mclner import load_mclner


def same_predictor(first: Union[str, Path], second: Union[str, Path]) -> bool:
    """True when two pipeline folders hold the same components and `mclner` model, with the same prediction settings."""
    nlp_a, pipe_a = load_mclner(first)
    nlp_b, pipe_b = load_mclner(second)
    if nlp_a.pipe_names != nlp_b.pipe_names or pipe_a.name != pipe_b.name:
        return False
    if nlp_a.config["components"][pipe_a.name]["model"] != nlp_b.config["components"][pipe_b.name]["model"]:
        return False
    if pipe_a.labels != pipe_b.labels or pipe_a.settings.prediction_cfg() != pipe_b.settings.prediction_cfg():
        return False
    others = [name for name in nlp_a.pipe_names if name != pipe_a.name]
    if any(nlp_a.get_pipe(name).to_bytes() != nlp_b.get_pipe(name).to_bytes() for name in others):
        return False
    return same_weights(pipe_a.model, pipe_b.model)


def same_weights(first: Model, second: Model) -> bool:
    """True when two models of the same structure hold equal parameters, torch modules and tokenizer vocabularies."""
    nodes_a, nodes_b = list(first.walk()), list(second.walk())
    if [node.name for node in nodes_a] != [node.name for node in nodes_b]:
        return False
    for node_a, node_b in zip(nodes_a, nodes_b):
        if _params(node_a).keys() != _params(node_b).keys():
            return False
        if any(not numpy.array_equal(value, _params(node_b)[name]) for name, value in _params(node_a).items()):
            return False
        if len(node_a.shims) != len(node_b.shims):
            return False
        for shim_a, shim_b in zip(node_a.shims, node_b.shims):
            if isinstance(shim_a, PyTorchShim) != isinstance(shim_b, PyTorchShim):
                return False
            if isinstance(shim_a, PyTorchShim) and not _same_state(shim_a._model, shim_b._model):
                return False
        tokenizers = [node.attrs.get("tokenizer") for node in (node_a, node_b)]
        if any(tokenizer is not None for tokenizer in tokenizers):
            if None in tokenizers or tokenizers[0].get_vocab() != tokenizers[1].get_vocab():
                return False
    return True


def _params(node: Model) -> Dict[str, Any]:
    return {name: node.ops.to_numpy(node.get_param(name)) for name in node.param_names if node.has_param(name)}


def _same_state(first: torch.nn.Module, second: torch.nn.Module) -> bool:
    state_a, state_b = first.state_dict(), second.state_dict()
    return state_a.keys() == state_b.keys() and all(torch.equal(state_a[key], state_b[key]) for key in state_a)
