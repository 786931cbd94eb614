"""Thinc adapter: Docs -> encoder word vectors -> per-segment grids of relation logits.

The encoder is a spacy-transformers Tok2VecTransformer embedded in the model
(not a listener), because the component encodes extra views of a batch. The
relation head is a PyTorch module (relation_head.py) built lazily once the
number of relation classes and the encoder width are known, so a saved pipeline
can rebuild it before its weights are deserialised.
"""
from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Sequence, Tuple

import numpy
import torch
from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import ArgsKwargs, Model, PyTorchWrapper_v2, torch2xp, xp2torch
from thinc.types import Floats2d, Floats3d, Floats4d, FloatsXd, Ints1d

from .encoders import resolve_encoder
from .grid import segment_bounds
from .relation_head import RelationHead

# (doc index in the batch, first token, end token) of one grid.
Segment = Tuple[int, int, int]


@dataclass
class GridBatch:
    """Model output for a batch of docs: one padded grid per segment.

    `projections` is empty outside training: it only feeds the contrastive losses.
    """

    logits: Floats4d
    sentence_vectors: Floats2d
    projections: FloatsXd
    lengths: Ints1d
    segments: List[Segment]


# Gradients w.r.t. (logits, sentence_vectors, projections); None where a loss does not use one.
GridGradient = Tuple[Optional[Floats4d], Optional[Floats2d], Optional[FloatsXd]]


@registry.architectures("spacy_mclner.MCLNERModel.v1")
def build_mclner_model(
    tok2vec: Model[List[Doc], List[Floats2d]],
    fusion: str = "lstm",
    hidden_width: int = 256,
    biaffine_width: int = 256,
    pair_width: int = 128,
    conv_width: int = 64,
    dilations: Sequence[int] = (1, 2, 3),
    distance_embeddings: bool = True,
    region_embeddings: bool = True,
    projection_width: int = 128,
    dropout: float = 0.1,
    max_segment_words: int = 128,
    freeze_word_embeddings: bool = True,
    nO: Optional[int] = None,
) -> Model[List[Doc], GridBatch]:
    """The MCL-NER token-pair relation model.

    tok2vec: word vectors per doc, e.g. spacy-transformers.Tok2VecTransformer.v3.
    fusion: contextual fusion over word vectors: "lstm" (BiLSTM) or "none".
    max_segment_words: sentences longer than this get cut into several grids.
    freeze_word_embeddings: keep the encoder's word-piece embedding table fixed.
        It holds most of a multilingual encoder's weights (96M of 118M in
        multilingual-e5-small); English training only ever moves the rows of pieces
        seen in English, drifting them away from the untouched target-language
        rows, and its dense update dominates a CPU training step.
    nO: number of relation classes (2 + number of labels), set by the component.
    """
    head_config = {
        "fusion": fusion,
        "hidden_width": hidden_width,
        "biaffine_width": biaffine_width,
        "pair_width": pair_width,
        "conv_width": conv_width,
        "dilations": tuple(dilations),
        "embedding_width": 20,
        "distance_embeddings": distance_embeddings,
        "region_embeddings": region_embeddings,
        "projection_width": projection_width,
        "dropout": dropout,
    }
    return Model(
        "mclner_model",
        forward,
        init=init,
        layers=[tok2vec],
        refs={"tok2vec": tok2vec},
        dims={"nO": nO, "nI": None},
        attrs={
            "head_config": head_config,
            "max_segment_words": max_segment_words,
            "freeze_word_embeddings": freeze_word_embeddings,
        },
    )


def build_head(model: Model, n_classes: int, input_width: int) -> None:
    """Create the PyTorch relation head; the component calls this before deserialising too."""
    if model.has_ref("head"):
        return
    model.set_dim("nO", n_classes)
    model.set_dim("nI", input_width)
    module = RelationHead(input_width, n_classes, **model.attrs["head_config"])
    head = PyTorchWrapper_v2(module, convert_inputs=_head_inputs, convert_outputs=_head_outputs)
    model._layers.append(head)
    model.set_ref("head", head)


def init(model: Model, X: Optional[List[Doc]] = None, Y: Any = None) -> None:
    tok2vec = model.get_ref("tok2vec")
    for node in tok2vec.walk():
        # Resolved here rather than at construction, so that loading a trained
        # pipeline never looks for the encoder it was initialised from.
        if node.name == "transformer" and not node.attrs.get("has_transformer", True):
            node.attrs["name"] = resolve_encoder(node.attrs["name"])
    tok2vec.initialize(X=X)
    if not model.has_ref("head"):
        build_head(model, model.get_dim("nO"), _encoder_width(tok2vec))


def _encoder_width(tok2vec: Model) -> int:
    for node in tok2vec.walk():
        if node.name == "transformer" and node.has_dim("nO"):
            return node.get_dim("nO")
    raise ValueError("Cannot infer the encoder width: the tok2vec has no initialised 'transformer' layer")


def segments_of(docs: List[Doc], max_words: int) -> List[Segment]:
    """Grid segments of a batch: sentences where a doc has sentence boundaries, else whole docs."""
    segments: List[Segment] = []
    for i, doc in enumerate(docs):
        if doc.has_annotation("SENT_START"):
            starts: Sequence[int] = [sent.start for sent in doc.sents]
        else:
            starts = [0]
        segments.extend((i, start, end) for start, end in segment_bounds(len(doc), starts, max_words))
    return segments


def _set_word_embeddings_trainable(tok2vec: Model, trainable: bool) -> None:
    for node in tok2vec.walk():
        if node.name == "transformer" and node.attrs.get("has_transformer"):
            node.layers[0].shims[0]._model.get_input_embeddings().weight.requires_grad_(trainable)


def forward(model: Model, docs: List[Doc], is_train: bool) -> Tuple[GridBatch, Callable]:
    tok2vec = model.get_ref("tok2vec")
    head = model.get_ref("head")
    ops = model.ops
    if is_train:
        # Applied at every update: deserialising rebuilds the transformer unfrozen.
        _set_word_embeddings_trainable(tok2vec, not model.attrs["freeze_word_embeddings"])
    word_vectors, backprop_tok2vec = _encode(tok2vec, docs, is_train)
    segments = segments_of(docs, model.attrs["max_segment_words"])
    lengths = numpy.asarray([end - start for _, start, end in segments], dtype="int64")
    if not segments:
        empty = GridBatch(
            ops.alloc4f(0, 0, 0, model.get_dim("nO")),
            ops.alloc2f(0, model.get_dim("nI")),
            ops.alloc1f(0),
            ops.asarray1i(lengths),
            [],
        )
        return empty, lambda d_grid: backprop_tok2vec([ops.alloc2f(*wv.shape) for wv in word_vectors])
    max_len = int(lengths.max())
    padded = ops.alloc3f(len(segments), max_len, model.get_dim("nI"))
    for row, (doc_i, start, end) in enumerate(segments):
        padded[row, : end - start] = word_vectors[doc_i][start:end]
    (logits, sentence_vectors, projections), backprop_head = head((padded, lengths), is_train)
    output = GridBatch(logits, sentence_vectors, projections, ops.asarray1i(lengths), segments)

    def backprop(d_grid: GridGradient) -> Any:
        d_padded = backprop_head(d_grid)
        d_word_vectors = [ops.alloc2f(*wv.shape) for wv in word_vectors]
        for row, (doc_i, start, end) in enumerate(segments):
            d_word_vectors[doc_i][start:end] += d_padded[row, : end - start]
        return backprop_tok2vec(d_word_vectors)

    return output, backprop


def _encode(tok2vec: Model, docs: List[Doc], is_train: bool) -> Tuple[List[Floats2d], Callable]:
    """Word vectors per doc; empty docs bypass the transformer, which cannot take them."""
    filled = [i for i, doc in enumerate(docs) if len(doc)]
    if len(filled) == len(docs):
        return tok2vec(docs, is_train)
    vectors = [tok2vec.ops.alloc2f(0, 0) for _ in docs]
    if not filled:
        return vectors, lambda d_vectors: []
    filled_vectors, backprop = tok2vec([docs[i] for i in filled], is_train)
    for i, vector in zip(filled, filled_vectors):
        vectors[i] = vector

    def backprop_filled(d_vectors: List[Floats2d]) -> Any:
        return backprop([d_vectors[i] for i in filled])

    return vectors, backprop_filled


def _head_inputs(
    model: Model, X: Tuple[Floats3d, numpy.ndarray], is_train: bool
) -> Tuple[ArgsKwargs, Callable[[ArgsKwargs], Floats3d]]:
    padded, lengths = X
    shim = model.shims[0]
    vectors = xp2torch(padded, requires_grad=is_train, device=shim.device)
    lengths_t = torch.as_tensor(lengths, dtype=torch.long, device=shim.device)

    def reverse(d_inputs: ArgsKwargs) -> Floats3d:
        return torch2xp(d_inputs.args[0])

    return ArgsKwargs(args=(vectors, lengths_t), kwargs={}), reverse


def _head_outputs(
    model: Model, X_Ytorch: Tuple[Any, Tuple[torch.Tensor, ...]], is_train: bool
) -> Tuple[Tuple[FloatsXd, ...], Callable[[GridGradient], ArgsKwargs]]:
    _, outputs_t = X_Ytorch
    outputs = tuple(torch2xp(t) for t in outputs_t)
    device = model.shims[0].device

    def reverse(d_outputs: GridGradient) -> ArgsKwargs:
        pairs = [(t, xp2torch(d, device=device)) for t, d in zip(outputs_t, d_outputs) if d is not None]
        if not pairs:
            raise ValueError("Backpropagating through the relation head needs at least one gradient")
        tensors, grads = zip(*pairs)
        return ArgsKwargs(args=(list(tensors),), kwargs={"grad_tensors": list(grads)})

    return outputs, reverse
