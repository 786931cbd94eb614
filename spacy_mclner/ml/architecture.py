"""Thinc adapter: Docs -> encoder word vectors -> per-segment grids of relation logits.

The encoder is a spacy-transformers Tok2VecTransformer embedded in the model
(not a listener), because the component encodes extra views of a batch. The
relation head is a PyTorch module (relation_head.py) built lazily once the
number of relation classes and the encoder width are known, so a saved pipeline
can rebuild it before its weights are deserialised.
"""
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable, List, Optional, Sequence, Tuple

import numpy
import torch
from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import ArgsKwargs, Model, PyTorchWrapper_v2, torch2xp, xp2torch
from thinc.types import Floats2d, Floats3d, Floats4d, FloatsXd, Ints1d

from ..grid import GridWindow, Sentence, grid_windows
from .batching import padded_groups
from .encoder_runtime import EncoderRuntime, autocast, prepare_encoder
from .encoders import resolve_encoder
from .relation_head import RelationHead, receptive_radius


@dataclass
class GridBatch:
    """Model output for a batch of docs: one padded grid per window, one vector per sentence.

    `projections` is empty outside training: it only feeds the contrastive losses.
    """

    logits: Floats4d
    sentence_vectors: Floats2d
    projections: FloatsXd
    lengths: Ints1d
    windows: List[GridWindow]
    sentences: List[Sentence]


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
    encoder_batch_words: int = 256,
    freeze_word_embeddings: bool = True,
    freeze_layers: int = 0,
    frozen_cache_mb: float = 0.0,
    precision: str = "float32",
    max_entity_width: int = 32,
    nO: Optional[int] = None,
) -> Model[List[Doc], GridBatch]:
    """The MCL-NER token-pair relation model.

    tok2vec: word vectors per doc, e.g. spacy-transformers.Tok2VecTransformer.v3.
    fusion: contextual fusion over word vectors: "lstm" (BiLSTM) or "none".
    max_segment_words: length of a grid window; longer sentences (and docs without
        sentence boundaries) get overlapping windows that lose no entity (grid.grid_windows).
    encoder_batch_words: the encoder takes a batch in calls of docs of similar
        length, each at most this many padded words (longest doc x docs; a longer
        doc goes alone). A batch of long docs would otherwise reach the transformer
        as one call over all their windows, whose activations grow with the batch;
        the relation head still takes the whole batch.
    freeze_word_embeddings: keep the encoder's word-piece embedding table fixed.
        It holds most of a multilingual encoder's weights (96M of 118M in
        multilingual-e5-small); English training only ever moves the rows of pieces
        seen in English, drifting them away from the untouched target-language
        rows, and its dense update dominates a CPU training step.
    freeze_layers: the encoder's embeddings and its bottom K layers take no
        gradient and run without dropout (encoder_runtime.py); 0 trains them all.
    frozen_cache_mb: in training, keep the frozen layers' output per word-piece
        window in memory, up to this many MB (float16), so that a sentence runs
        through them once per run rather than once per epoch; 0: no cache.
    precision: "float32", or "bfloat16" to run encoder and head under bfloat16
        autocast, in training and inference (needs a CPU or GPU with bfloat16), or
        "auto": bfloat16 where the hardware has it, float32 (with a warning) elsewhere, or
        "int8" to run the encoder's linear layers with int8 weights (torch's dynamic
        quantization, CPU), in inference only: load a trained pipeline with it.
    max_entity_width: the band of cells a relation can occupy; the `mclner`
        component overrides it with its own `max_entity_width`.
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
    # Held by the forward pass, not in attrs: thinc saves attrs with the weights and
    # restores them on loading, which would override a config that loads a pipeline
    # with other settings (bfloat16 inference of a float32-trained model, say).
    runtime = EncoderRuntime(freeze_layers, frozen_cache_mb, precision)
    return Model(
        "mclner_model",
        partial(forward, runtime=runtime),
        init=init,
        layers=[tok2vec],
        refs={"tok2vec": tok2vec},
        dims={"nO": nO, "nI": None},
        attrs={
            "head_config": head_config,
            "max_segment_words": max_segment_words,
            "encoder_batch_words": encoder_batch_words,
            "freeze_word_embeddings": freeze_word_embeddings,
            "max_entity_width": max_entity_width,
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


def sentences_of(docs: List[Doc]) -> List[Sentence]:
    """Sentences of a batch where a doc has sentence boundaries, else whole docs; empty docs have none."""
    sentences: List[Sentence] = []
    for i, doc in enumerate(docs):
        if not len(doc):
            continue
        if doc.has_annotation("SENT_START"):
            sentences.extend((i, sent.start, sent.end) for sent in doc.sents)
        else:
            sentences.append((i, 0, len(doc)))
    return sentences


def windows_of(model: Model, sentences: List[Sentence]) -> List[GridWindow]:
    """Grid windows of each sentence, in doc token offsets."""
    radius = receptive_radius(model.attrs["head_config"]["dilations"])
    return [
        GridWindow(doc_i, row, sent_start + start, sent_start + end, sent_start + own_start, sent_start + own_end)
        for row, (doc_i, sent_start, sent_end) in enumerate(sentences)
        for start, end, own_start, own_end in grid_windows(
            sent_end - sent_start, model.attrs["max_segment_words"], model.attrs["max_entity_width"], radius
        )
    ]


def forward(model: Model, docs: List[Doc], is_train: bool, runtime: EncoderRuntime) -> Tuple[GridBatch, Callable]:
    tok2vec = model.get_ref("tok2vec")
    head = model.get_ref("head")
    ops = model.ops
    # Applied at every pass: deserialising rebuilds the transformer unfrozen and unpatched.
    prepare_encoder(tok2vec, runtime, model.attrs["freeze_word_embeddings"])
    word_vectors, backprop_tok2vec = _encode(tok2vec, docs, is_train, model.attrs["encoder_batch_words"])
    sentences = sentences_of(docs)
    windows = windows_of(model, sentences)
    lengths = numpy.asarray([end - start for _, start, end in sentences], dtype="int64")
    window_index = numpy.asarray(
        [(w.sentence, w.start - sentences[w.sentence][1], w.end - w.start) for w in windows], dtype="int64"
    ).reshape(-1, 3)
    if not sentences:
        empty = GridBatch(
            ops.alloc4f(0, 0, 0, model.get_dim("nO")),
            ops.alloc2f(0, model.get_dim("nI")),
            ops.alloc1f(0),
            ops.asarray1i(lengths),
            [],
            [],
        )
        return empty, lambda d_grid: backprop_tok2vec([ops.alloc2f(*wv.shape) for wv in word_vectors])
    padded = ops.alloc3f(len(sentences), int(lengths.max()), model.get_dim("nI"))
    for row, (doc_i, start, end) in enumerate(sentences):
        padded[row, : end - start] = word_vectors[doc_i][start:end]
    head_input = (padded, lengths, window_index, model.attrs["max_entity_width"])
    with autocast(runtime.precision, head.shims[0].device):
        (logits, sentence_vectors, projections), backprop_head = head(head_input, is_train)
    window_lengths = ops.asarray1i(window_index[:, 2])
    output = GridBatch(logits, sentence_vectors, projections, window_lengths, windows, sentences)

    def backprop(d_grid: GridGradient) -> Any:
        d_padded = backprop_head(d_grid)
        d_word_vectors = [ops.alloc2f(*wv.shape) for wv in word_vectors]
        for row, (doc_i, start, end) in enumerate(sentences):
            d_word_vectors[doc_i][start:end] += d_padded[row, : end - start]
        return backprop_tok2vec(d_word_vectors)

    return output, backprop


def _encode(tok2vec: Model, docs: List[Doc], is_train: bool, batch_words: int) -> Tuple[List[Floats2d], Callable]:
    """Word vectors per doc, from encoder calls of at most `batch_words` padded words.

    Each call takes docs of similar length (encoder_calls). Empty docs bypass the
    transformer, which cannot take them, and get a 0 x 0 array.
    """
    vectors = [tok2vec.ops.alloc2f(0, 0) for _ in docs]
    backprops = []
    for call in encoder_calls(docs, batch_words):
        call_vectors, backprop_call = tok2vec([docs[i] for i in call], is_train)
        for i, vector in zip(call, call_vectors):
            vectors[i] = vector
        backprops.append((call, backprop_call))

    def backprop(d_vectors: List[Floats2d]) -> List[Doc]:
        for call, backprop_call in backprops:
            backprop_call([d_vectors[i] for i in call])
        return []

    return vectors, backprop


def encoder_calls(docs: Sequence[Doc], batch_words: int) -> List[List[int]]:
    """Indices of the non-empty docs, grouped by length into calls of at most `batch_words` padded words.

    Within a call the docs keep their order in the batch.
    """
    if batch_words < 1:
        raise ValueError(f"encoder_batch_words must be at least 1, got {batch_words}")
    filled = [i for i, doc in enumerate(docs) if len(doc)]
    groups = padded_groups([len(docs[i]) for i in filled], batch_words, lambda n, longest: n * longest)
    return [[filled[j] for j in sorted(group)] for group in groups]


def _head_inputs(
    model: Model, X: Tuple[Floats3d, numpy.ndarray, numpy.ndarray, int], is_train: bool
) -> Tuple[ArgsKwargs, Callable[[ArgsKwargs], Floats3d]]:
    padded, lengths, windows, max_width = X
    device = model.shims[0].device
    vectors = xp2torch(padded, requires_grad=is_train, device=device)
    lengths_t = torch.as_tensor(lengths, dtype=torch.long, device=device)
    windows_t = torch.as_tensor(windows, dtype=torch.long, device=device)

    def reverse(d_inputs: ArgsKwargs) -> Floats3d:
        return torch2xp(d_inputs.args[0])

    return ArgsKwargs(args=(vectors, lengths_t, windows_t, max_width), kwargs={}), reverse


def _head_outputs(
    model: Model, X_Ytorch: Tuple[Any, Tuple[torch.Tensor, ...]], is_train: bool
) -> Tuple[Tuple[FloatsXd, ...], Callable[[GridGradient], ArgsKwargs]]:
    _, outputs_t = X_Ytorch
    # Under bfloat16 autocast; the losses and numpy take float32.
    outputs_t = tuple(t.float() for t in outputs_t)
    outputs = tuple(torch2xp(t) for t in outputs_t)
    device = model.shims[0].device

    def reverse(d_outputs: GridGradient) -> ArgsKwargs:
        pairs = [(t, xp2torch(d, device=device)) for t, d in zip(outputs_t, d_outputs) if d is not None]
        if not pairs:
            raise ValueError("Backpropagating through the relation head needs at least one gradient")
        tensors, grads = zip(*pairs)
        return ArgsKwargs(args=(list(tensors),), kwargs={"grad_tensors": list(grads)})

    return outputs, reverse
