"""How the Hugging Face encoder inside the tok2vec runs: a frozen bottom, its cache, bfloat16.

Freezing the embeddings and the bottom K layers keeps the multilingual encoder's
cross-lingual alignment while it is fine-tuned on English (Wu & Dredze 2019) and
makes a training step cheaper: the frozen layers take no backward pass and no
optimizer update. They run without dropout and without gradient, in training as
in inference, so their output for a sentence never changes during a run, and a
cache can hold it: a training sentence (or code-switched view) then goes through
the frozen layers once per run instead of once per epoch.

The cache is keyed by a window's word-piece ids (so new data can never hit an old
entry), lives on the encoder instance (a deserialised or new encoder starts empty),
is cleared when a frozen weight is replaced or changed in place, stores float16,
stops growing at its megabyte cap, and is consulted in training only.

This module patches one Hugging Face model instance: its encoder's `forward` (an
instance attribute, so the module tree and state dict are untouched) and a
forward pre-hook that records the word-piece ids of the call.
"""
import warnings
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, ContextManager, Dict, List, Optional, Tuple

import torch
from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import Model
from thinc.types import Floats2d

PRECISIONS = ("float32", "bfloat16", "auto", "int8")
# auto: bfloat16 on hardware that computes it natively, float32 elsewhere (with a warning), so that
# one config trains and annotates on any machine; an explicit bfloat16 is refused where unsupported.
# int8 runs the encoder's linear layers with int8 weights (torch's dynamic quantization): inference only.
INFERENCE_ONLY_PRECISIONS = ("int8",)
_PATCH_ATTR = "_spacy_mclner_runtime"


@dataclass(frozen=True)
class EncoderRuntime:
    """The model settings that decide how the encoder runs."""

    freeze_layers: int = 0
    frozen_cache_mb: float = 0.0
    precision: str = "float32"

    def __post_init__(self) -> None:
        if self.freeze_layers < 0:
            raise ValueError(f"freeze_layers must be at least 0, got {self.freeze_layers}")
        if self.frozen_cache_mb < 0:
            raise ValueError(f"frozen_cache_mb must be at least 0, got {self.frozen_cache_mb}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")

    @property
    def patches_encoder(self) -> bool:
        return self.freeze_layers > 0 or self.precision != "float32"


def autocast(precision: str, device: torch.device) -> ContextManager:
    """Autocast to bfloat16 on `device`, or nothing for float32 and int8; refuses hardware without bfloat16."""
    if resolved_precision(precision, device) != "bfloat16":
        return nullcontext()
    check_bfloat16(device)
    return torch.autocast(device.type, dtype=torch.bfloat16)


def resolved_precision(precision: str, device: torch.device) -> str:
    """The precision `device` computes in: 'auto' becomes bfloat16 or float32, the others stay."""
    if precision != "auto":
        return precision
    return _auto_precision(device.type)


@lru_cache(maxsize=None)
def _auto_precision(device_type: str) -> str:
    """Decided (and, where it is float32, said) once per process and device type."""
    if bfloat16_supported(torch.device(device_type)):
        return "bfloat16"
    warnings.warn(
        f"precision = 'auto': this {device_type} has no bfloat16 support (on a CPU: avx512_bf16 or AMX), so the "
        "encoder runs in float32: predictions within bfloat16's rounding of it, training about 1.8x slower than "
        "bfloat16 on hardware that has it.",
        stacklevel=2,
    )
    return "float32"


def bfloat16_supported(device: torch.device) -> bool:
    """Whether `device` computes bfloat16 natively rather than emulating it in software."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()


def check_bfloat16(device: torch.device) -> None:
    """Raise where bfloat16 would be emulated in software: far slower, never what a user asked for."""
    if not bfloat16_supported(device):
        raise ValueError(
            f"precision = 'bfloat16' needs a {device.type} with bfloat16 support (on a CPU: avx512_bf16 or AMX); "
            "this one has none. Set the model's precision to 'float32', or to 'auto' (bfloat16 where supported)."
        )


@dataclass
class FrozenCache:
    """Frozen-layer outputs per word-piece window, in float16, up to `max_bytes`."""

    max_bytes: int
    entries: Dict[bytes, torch.Tensor] = field(default_factory=dict)
    used_bytes: int = 0
    hits: int = 0
    misses: int = 0
    full: bool = False

    def get(self, key: bytes) -> Optional[torch.Tensor]:
        found = self.entries.get(key)
        if found is None:
            self.misses += 1
        else:
            self.hits += 1
        return found

    def put(self, key: bytes, hidden: torch.Tensor) -> None:
        size = hidden.numel() * 2
        if self.used_bytes + size > self.max_bytes:
            if not self.full:
                warnings.warn(
                    f"The frozen-layer cache reached its cap of {self.max_bytes / 2**20:.0f} MB after "
                    f"{len(self.entries)} windows; later windows run through the frozen layers at every "
                    "epoch. Raise the model's frozen_cache_mb to cache them all."
                )
            self.full = True
            return
        self.entries[key] = hidden.to(torch.float16)
        self.used_bytes += size

    def clear(self) -> None:
        self.entries.clear()
        self.used_bytes = 0
        self.full = False


class _Patch:
    """The state that one patched Hugging Face model carries."""

    def __init__(self, hf_model: torch.nn.Module, settings: EncoderRuntime) -> None:
        self.settings = settings
        self.hf_model = hf_model
        self.cache = FrozenCache(int(settings.frozen_cache_mb * 2**20))
        self.input_ids: Optional[torch.Tensor] = None
        self.attention_mask: Optional[torch.Tensor] = None
        self.fingerprint: Tuple = ()
        self.quantized: Optional[torch.nn.ModuleList] = None
        self.quantized_fingerprint: Tuple = ()

    def frozen_modules(self) -> List[torch.nn.Module]:
        if not self.settings.freeze_layers:
            return []
        return [self.hf_model.embeddings, *self.hf_model.encoder.layer[: self.settings.freeze_layers]]

    def weights_fingerprint(self, modules: Optional[List[torch.nn.Module]] = None) -> Tuple:
        """Changes when a weight of `modules` (default: the frozen ones) is replaced or modified
        in place (torch's version counter)."""
        modules = self.frozen_modules() if modules is None else modules
        return tuple((p.data_ptr(), p._version) for module in modules for p in module.parameters())

    def quantized_layers(self) -> torch.nn.ModuleList:
        """An int8 copy of the encoder's layers (linear layers dynamically quantized), made on
        first use and again whenever a weight changed; the model's own weights stay float32,
        so the pipeline saves, loads and trains as before."""
        layers = self.hf_model.encoder.layer
        fingerprint = self.weights_fingerprint([layers])
        if self.quantized is None or fingerprint != self.quantized_fingerprint:
            import copy

            from torch.ao.quantization import quantize_dynamic

            if self.quantized is None:
                warnings.warn(
                    "precision = 'int8' quantizes the encoder's activations per tensor: with multilingual-e5-small "
                    "it cost 5 to 10 dev F1 points on every language (docs/production.md). Score it on your dev set, "
                    "or use 'bfloat16'."
                )
            self.quantized = quantize_dynamic(copy.deepcopy(layers), {torch.nn.Linear}, dtype=torch.qint8)
            self.quantized_fingerprint = fingerprint
        return self.quantized


def runtime_of(hf_model: torch.nn.Module) -> Optional[_Patch]:
    return getattr(hf_model, _PATCH_ATTR, None)


def hf_shims(model: Model) -> List[Any]:
    """The spacy-transformers shims of the loaded Hugging Face models inside a thinc model."""
    return [
        node.layers[0].shims[0]
        for node in model.walk()
        if node.name == "transformer" and node.attrs.get("has_transformer")
    ]


def hf_models(tok2vec: Model) -> List[torch.nn.Module]:
    """The Hugging Face models inside a tok2vec that holds a loaded transformer."""
    return [shim._model for shim in hf_shims(tok2vec)]


def prepare_encoder(tok2vec: Model, settings: EncoderRuntime, freeze_word_embeddings: bool) -> None:
    """Set which encoder weights train and patch the encoder to run as `settings` say.

    Called before every forward pass: deserialising or initialising rebuilds the
    Hugging Face model, unpatched and with every weight trainable.
    """
    if settings.freeze_layers and not freeze_word_embeddings:
        raise ValueError(
            f"freeze_layers = {settings.freeze_layers} freezes the whole embedding layer, "
            "but freeze_word_embeddings = false asks to train the word-piece table: set it to true"
        )
    for hf_model in hf_models(tok2vec):
        hf_model.get_input_embeddings().weight.requires_grad_(not freeze_word_embeddings)
        patch = runtime_of(hf_model)
        if patch is not None and patch.settings == settings:
            continue
        if patch is not None:
            raise ValueError("The encoder was patched with other runtime settings; build a new model instead")
        if settings.patches_encoder:
            _install(hf_model, settings)


@registry.architectures("spacy_mclner.EncoderRuntime.v1")
def with_encoder_runtime(
    tok2vec: Model[List[Doc], List[Floats2d]],
    freeze_layers: int = 0,
    frozen_cache_mb: float = 0.0,
    precision: str = "float32",
    freeze_word_embeddings: bool = False,
) -> Model[List[Doc], List[Floats2d]]:
    """A transformer tok2vec run with the `mclner` model's encoder settings, for any component.

    Lets spaCy's own `ner` train its encoder exactly as `mclner` does (frozen
    bottom, cache, bfloat16), so that a comparison of the two is one of heads and
    objectives, not of encoder regimes. The settings mean what they mean on
    spacy_mclner.MCLNERModel.v1.
    """
    settings = EncoderRuntime(freeze_layers, frozen_cache_mb, precision)

    def forward(model: Model, docs: List[Doc], is_train: bool) -> Tuple[List[Floats2d], Any]:
        prepare_encoder(tok2vec, settings, freeze_word_embeddings)
        return tok2vec(docs, is_train)

    def init(model: Model, X: Optional[List[Doc]] = None, Y: Any = None) -> None:
        tok2vec.initialize(X=X, Y=Y)
        if tok2vec.has_dim("nO"):
            model.set_dim("nO", tok2vec.get_dim("nO"))

    return Model("encoder_runtime", forward, init=init, layers=[tok2vec], dims={"nO": None})


def _install(hf_model: torch.nn.Module, settings: EncoderRuntime) -> None:
    encoder = getattr(hf_model, "encoder", None)
    layers = getattr(encoder, "layer", None)
    if layers is None or not hasattr(hf_model, "embeddings"):
        raise ValueError(
            f"freeze_layers and precision need a BERT-like encoder (embeddings, encoder.layer); "
            f"{type(hf_model).__name__} has another layout"
        )
    if settings.freeze_layers >= len(layers):
        raise ValueError(
            f"freeze_layers = {settings.freeze_layers}, but the encoder has {len(layers)} layers: "
            "at least its top layer must train"
        )
    patch = _Patch(hf_model, settings)
    for module in patch.frozen_modules():
        module.requires_grad_(False)
    setattr(hf_model, _PATCH_ATTR, patch)
    hf_model.register_forward_pre_hook(lambda module, args, kwargs: _record_inputs(patch, kwargs), with_kwargs=True)
    encoder.forward = lambda hidden_states, attention_mask=None, **kwargs: _encoder_forward(
        patch, hidden_states, attention_mask, **kwargs
    )


def _record_inputs(patch: _Patch, kwargs: Dict[str, Any]) -> None:
    patch.input_ids = kwargs.get("input_ids")
    patch.attention_mask = kwargs.get("attention_mask")
    # The shim switches the whole model to training mode; the frozen part runs without dropout.
    for module in patch.frozen_modules():
        module.eval()


def _encoder_forward(
    patch: _Patch,
    hidden_states: torch.Tensor,
    attention_mask: Optional[torch.Tensor] = None,
    head_mask: Any = None,
    encoder_hidden_states: Any = None,
    encoder_attention_mask: Any = None,
    past_key_values: Any = None,
    use_cache: Optional[bool] = None,
    output_attentions: bool = False,
    output_hidden_states: bool = False,
    return_dict: bool = True,
    **unused: Any,
) -> Any:
    """The encoder's layer stack: frozen layers (or their cache), then the trained ones."""
    from transformers.modeling_outputs import BaseModelOutputWithPastAndCrossAttentions

    if encoder_hidden_states is not None or past_key_values is not None or use_cache or output_attentions:
        raise ValueError("freeze_layers and precision support encoder-only use: no cross-attention, cache or attentions")
    if output_hidden_states:
        raise ValueError("freeze_layers and precision return the last hidden state only")
    if head_mask is not None and any(mask is not None for mask in head_mask):
        raise ValueError("freeze_layers and precision do not support head masks")
    layers = patch.hf_model.encoder.layer
    k = patch.settings.freeze_layers
    if patch.settings.precision in INFERENCE_ONLY_PRECISIONS:
        if patch.hf_model.training:
            raise ValueError(
                f"precision = {patch.settings.precision!r} is for inference: train with 'float32' or 'bfloat16', "
                f"then load the pipeline with components.<name>.model.precision = {patch.settings.precision!r}"
            )
        layers, k = patch.quantized_layers(), 0
    with autocast(patch.settings.precision, hidden_states.device):
        hidden = _frozen_output(patch, hidden_states, attention_mask) if k else hidden_states
        for layer in layers[k:]:
            hidden = layer(hidden, attention_mask)[0]
    hidden = hidden.float()
    if not return_dict:
        return (hidden,)
    return BaseModelOutputWithPastAndCrossAttentions(last_hidden_state=hidden)


def _run_frozen(patch: _Patch, hidden: torch.Tensor, attention_mask: Optional[torch.Tensor]) -> torch.Tensor:
    with torch.no_grad():
        for layer in patch.hf_model.encoder.layer[: patch.settings.freeze_layers]:
            hidden = layer(hidden, attention_mask)[0]
    return hidden


def _frozen_output(patch: _Patch, hidden_states: torch.Tensor, attention_mask: Optional[torch.Tensor]) -> torch.Tensor:
    """The frozen layers' output for a batch of windows, from the cache where it holds them."""
    use_cache = patch.hf_model.training and patch.cache.max_bytes > 0 and patch.input_ids is not None
    if not use_cache:
        return _run_frozen(patch, hidden_states, attention_mask)
    fingerprint = patch.weights_fingerprint()
    if fingerprint != patch.fingerprint:
        patch.cache.clear()
        patch.fingerprint = fingerprint
    ids = patch.input_ids
    mask = patch.attention_mask if patch.attention_mask is not None else torch.ones_like(ids)
    lengths = [int(n) for n in mask.sum(dim=1).tolist()]
    keys = [ids[row, :n].cpu().numpy().tobytes() for row, n in enumerate(lengths)]
    found = [patch.cache.get(key) for key in keys]
    missing = [row for row, hit in enumerate(found) if hit is None]
    output = torch.zeros_like(hidden_states)
    if missing:
        rows = torch.as_tensor(missing, device=hidden_states.device)
        computed = _run_frozen(patch, hidden_states[rows], _rows_of_mask(attention_mask, rows))
        for i, row in enumerate(missing):
            found[row] = computed[i, : lengths[row]]
            patch.cache.put(keys[row], found[row])
    for row, hidden in enumerate(found):
        output[row, : lengths[row]] = hidden.to(output.dtype)
    return output


def _rows_of_mask(attention_mask: Optional[torch.Tensor], rows: torch.Tensor) -> Optional[torch.Tensor]:
    """The extended attention mask (batch first, or None where nothing is padded) for some rows."""
    if attention_mask is None or attention_mask.shape[0] == 1:
        return attention_mask
    return attention_mask[rows]
