"""Vocabulary trimming: keep only the word pieces that the chosen languages use.

A multilingual encoder's word-piece table is most of its weights: 250,037 x 384 of
multilingual-e5-small's 118M. A pipeline for four languages uses a fraction of those
pieces, so trimming the table (and the tokenizer with it) shrinks the pipeline without
touching a weight that the kept text ever reaches.

The tokenizer stays a Hugging Face Unigram (sentencepiece) tokenizer with a smaller
vocabulary. Unigram segmentation is a best path over the vocabulary's pieces, so a
text whose pieces are all kept is segmented exactly as before (every path it had is
still there, with the same scores, and no new one appeared), and its ids map one to
one: the trimmed encoder computes the same vectors for it. A word that needed a
dropped piece is spelled with the kept ones instead (down to single characters, which
are kept whenever they occur); only a character with no kept piece becomes `<unk>`.
`segmentation_report` counts both on any text.
"""
import json
from collections import Counter
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Sequence, Set

import torch

from .protobuf import LENGTH_DELIMITED, fields, get_len_field

# Field numbers of sentencepiece's ModelProto (pieces, trainer_spec), SentencePiece (piece, type)
# and TrainerSpec (model_type), and the enum values used here.
_SPM_PIECES, _SPM_TRAINER_SPEC = 1, 2
_SPM_PIECE, _SPM_TYPE = 1, 3
_SPM_MODEL_TYPE = 3
_SPM_NORMAL = 1
_SPM_MODEL_TYPES = {1: "Unigram", 2: "BPE", 3: "WordLevel", 4: "Char"}
_BATCH = 1000
TOKENIZER_FILE = "tokenizer.json"
STORAGE_DTYPES = {"float32": torch.float32, "float16": torch.float16}
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"


@dataclass(frozen=True)
class KeptPieces:
    """Which old ids survive, in their old order: new id i is old id `ids[i]`."""

    ids: List[int]
    vocab_size: int

    @property
    def new_id(self) -> Dict[int, int]:
        return {old: new for new, old in enumerate(self.ids)}


@dataclass
class PieceCounts:
    """How often each word-piece id occurs in some text, and which characters the text has."""

    ids: Counter = field(default_factory=Counter)
    chars: Set[str] = field(default_factory=set)


def count_pieces(tokenizer: Any, texts: Iterable[str]) -> PieceCounts:
    """Segment `texts` with `tokenizer` (no special tokens) and count the pieces."""
    counts = PieceCounts()
    for batch in _batches(texts):
        for text, ids in zip(batch, _piece_ids(tokenizer, batch)):
            counts.ids.update(ids)
            counts.chars.update(text)
    return counts


def _batches(texts: Iterable[str]) -> Iterator[List[str]]:
    """The texts in lists of _BATCH: a fast tokenizer segments a list in one call."""
    texts = iter(texts)
    while batch := list(islice(texts, _BATCH)):
        yield batch


def _piece_ids(tokenizer: Any, texts: List[str]) -> List[List[int]]:
    return tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]


def pieces_to_keep(tokenizer: Any, counts: PieceCounts, min_count: int, keep_top: int = 0) -> KeptPieces:
    """The special and added tokens, every piece seen at least `min_count` times, the
    `keep_top` most probable pieces of the tokenizer's model (`most_probable_pieces`), and the
    one-character pieces (with and without the word-start mark) of every character the
    text has, so that any word of it can still be spelled without `<unk>`."""
    if min_count < 1:
        raise ValueError(f"min_count must be at least 1, got {min_count}")
    if keep_top < 0:
        raise ValueError(f"keep_top must be 0 (none) or more, got {keep_top}")
    pieces = tokenizer_pieces(tokenizer)
    keep = set(tokenizer.all_special_ids) | set(tokenizer.added_tokens_decoder)
    keep.update(piece_id for piece_id, count in counts.ids.items() if count >= min_count)
    keep.update(most_probable_pieces(tokenizer, keep_top) if keep_top else ())
    spellers = counts.chars | {"▁" + char for char in counts.chars}
    keep.update(piece_id for piece_id, piece in enumerate(pieces) if piece in spellers)
    return KeptPieces(sorted(keep), len(pieces))


def most_probable_pieces(tokenizer: Any, top: int) -> List[int]:
    """The ids of the `top` pieces with the highest log-probability in the Unigram model.

    They are the pieces common across all the text the tokenizer was trained on, names among
    them: kept whatever the counted text holds, they spare names that it never had from being
    spelled in smaller pieces, at the cost of their rows."""
    scores = _piece_scores(tokenizer)
    return sorted(range(len(scores)), key=scores.__getitem__, reverse=True)[:top]


def _piece_scores(tokenizer: Any) -> List[float]:
    """Each piece's log-probability by id: from `tokenizer.json`'s model in a fast tokenizer, from
    the sentencepiece model in a slow one (whose ids are offset from the model's)."""
    if tokenizer.is_fast:
        return [score for _, score in json.loads(tokenizer.backend_tokenizer.to_str())["model"]["vocab"]]
    processor = tokenizer.sp_model
    return [processor.GetScore(processor.PieceToId(piece)) for piece in tokenizer_pieces(tokenizer)]


def tokenizer_pieces(tokenizer: Any) -> List[str]:
    """The pieces of a Unigram (sentencepiece) tokenizer, fast or slow, by id."""
    if tokenizer.is_fast:
        kind = json.loads(tokenizer.backend_tokenizer.to_str())["model"]["type"]
    else:  # a slow tokenizer: the sentencepiece model it holds (its file may be gone)
        sp_model = getattr(tokenizer, "sp_model", None)
        kind = _sentencepiece_type(sp_model.serialized_model_proto()) if sp_model is not None else type(tokenizer).__name__
    if kind != "Unigram":
        raise ValueError(f"vocabulary trimming supports Unigram (sentencepiece) tokenizers; this one is {kind}")
    return tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))


def _sentencepiece_type(model: bytes) -> str:
    """The model type that a sentencepiece ModelProto's TrainerSpec names (UNIGRAM when unset)."""
    trainer_spec = next((f.payload for f in fields(model) if f.number == _SPM_TRAINER_SPEC), b"")
    kind = next((f.payload[0] for f in fields(trainer_spec) if f.number == _SPM_MODEL_TYPE), 1)
    return _SPM_MODEL_TYPES.get(kind, f"sentencepiece model type {kind}")


def write_trimmed_tokenizer(tokenizer: Any, kept: KeptPieces, folder: Path, vocab_file_contents: bytes = b"") -> Any:
    """Save `tokenizer` to `folder` with only the kept pieces, renumbered, and return it loaded from there.

    `vocab_file_contents`: the sentencepiece model of a tokenizer that no longer has
    its file on disk (spacy-transformers keeps it in memory). The sentencepiece model
    (what a slow tokenizer reads) and tokenizer.json (a fast one's) are both trimmed,
    so that the two agree.
    """
    from transformers import AutoTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    vocab_file_name = tokenizer.vocab_files_names.get("vocab_file")
    if vocab_file_contents and vocab_file_name:
        (folder / vocab_file_name).write_bytes(vocab_file_contents)
        tokenizer.vocab_file = str(folder / vocab_file_name)
    pieces = tokenizer_pieces(tokenizer)
    if len(pieces) != kept.vocab_size:
        raise ValueError(f"the tokenizer has {len(pieces)} pieces, the kept ids were chosen from {kept.vocab_size}")
    tokenizer.save_pretrained(str(folder))
    new_id = kept.new_id
    kept_pieces = [pieces[i] for i in kept.ids]

    if (folder / TOKENIZER_FILE).is_file():
        state = json.loads((folder / TOKENIZER_FILE).read_text(encoding="utf8"))
        model = state["model"]
        model["vocab"] = [model["vocab"][i] for i in kept.ids]
        model["unk_id"] = new_id[model["unk_id"]]
        for added in state.get("added_tokens") or []:
            added["id"] = new_id[added["id"]]
        state["post_processor"] = _renumbered_processor(state.get("post_processor"), new_id)
        (folder / TOKENIZER_FILE).write_text(json.dumps(state, ensure_ascii=False), encoding="utf8")
    config = json.loads((folder / TOKENIZER_CONFIG_FILE).read_text(encoding="utf8"))
    if "added_tokens_decoder" in config:
        config["added_tokens_decoder"] = {str(new_id[int(i)]): token for i, token in config["added_tokens_decoder"].items()}
    (folder / TOKENIZER_CONFIG_FILE).write_text(json.dumps(config, indent=2, ensure_ascii=False), encoding="utf8")
    if vocab_file_name and (folder / vocab_file_name).is_file():
        spm = folder / vocab_file_name
        spm.write_bytes(trimmed_sentencepiece(spm.read_bytes(), kept_pieces))

    trimmed = AutoTokenizer.from_pretrained(str(folder), use_fast=tokenizer.is_fast)
    if trimmed.convert_ids_to_tokens(list(range(len(trimmed)))) != kept_pieces:
        raise ValueError(f"the trimmed {type(trimmed).__name__} does not number the kept pieces in order; not trimmed")
    return trimmed


def _renumbered_processor(processor: Any, new_id: Dict[int, int]) -> Any:
    """The post-processor with the ids of the special tokens it adds renumbered."""
    if processor is None:
        return None
    kind = processor["type"]
    if kind == "TemplateProcessing":
        for special in processor["special_tokens"].values():
            special["ids"] = [new_id[i] for i in special["ids"]]
    elif kind in ("RobertaProcessing", "BertProcessing"):
        for key in ("sep", "cls"):
            processor[key] = [processor[key][0], new_id[processor[key][1]]]
    elif kind == "Sequence":
        processor["processors"] = [_renumbered_processor(p, new_id) for p in processor["processors"]]
    elif kind != "ByteLevel":
        raise ValueError(f"cannot renumber a tokenizer post-processor of type {kind}")
    return processor


def trimmed_sentencepiece(model: bytes, kept_pieces: Iterable[str]) -> bytes:
    """A sentencepiece ModelProto with only the kept normal pieces (control and unknown
    pieces always stay); every other field is copied unchanged."""
    kept = set(kept_pieces)
    out = []
    for item in fields(model):
        if item.number == _SPM_PIECES and item.wire_type == LENGTH_DELIMITED:
            piece = get_len_field(item.payload, _SPM_PIECE).decode("utf8")
            kind = next((f.payload for f in fields(item.payload) if f.number == _SPM_TYPE), b"\x01")
            if kind[0] == _SPM_NORMAL and piece not in kept:
                continue
        out.append(item.encoded)
    return b"".join(out)


def trim_embeddings(transformer: torch.nn.Module, kept: KeptPieces, storage_dtype: str = "float32") -> None:
    """Keep only the kept rows of the word-piece table, in place, and renumber the config's token ids.

    The embedding module stays the same object (runtime patches may hold it); only
    its weight is replaced. Rows past the tokenizer's vocabulary (multilingual-e5-small
    pads its table from 250,002 pieces to 250,037 rows) are never looked up and go too.
    storage_dtype "float16" halves the table for saving: loading copies it back into
    the float32 model, so every vector moves by float16's rounding (at most 1.2e-4 in
    multilingual-e5-small); "float32" keeps it exact.
    """
    if storage_dtype not in STORAGE_DTYPES:
        raise ValueError(f"storage_dtype must be one of {', '.join(STORAGE_DTYPES)}, got {storage_dtype!r}")
    embeddings = transformer.get_input_embeddings()
    if embeddings.num_embeddings < kept.vocab_size:
        raise ValueError(f"the encoder has {embeddings.num_embeddings} word pieces, the tokenizer {kept.vocab_size}")
    new_id = kept.new_id
    rows = torch.tensor(kept.ids, dtype=torch.long, device=embeddings.weight.device)
    weight = embeddings.weight.detach().index_select(0, rows).to(STORAGE_DTYPES[storage_dtype])
    embeddings.weight = torch.nn.Parameter(weight, requires_grad=embeddings.weight.requires_grad)
    embeddings.num_embeddings = len(kept.ids)
    if embeddings.padding_idx is not None:
        embeddings.padding_idx = new_id[embeddings.padding_idx]
    config = transformer.config
    config.vocab_size = len(kept.ids)
    for key in ("pad_token_id", "bos_token_id", "eos_token_id", "unk_token_id", "sep_token_id", "cls_token_id"):
        if getattr(config, key, None) is not None:
            setattr(config, key, new_id[getattr(config, key)])


def segmentation_report(original: Any, trimmed: Any, texts: Sequence[str]) -> Dict[str, int]:
    """On `texts`: how many pieces the original tokenizer makes, how many of them were dropped,
    how many texts segment differently after trimming, and how many `<unk>` each tokenizer makes."""
    report = {"texts": len(texts), "pieces": 0, "dropped_pieces": 0, "texts_changed": 0, "unk_before": 0, "unk_after": 0}
    trimmed_vocab = trimmed.get_vocab()
    for batch in _batches(texts):
        for old_ids, new_ids in zip(_piece_ids(original, batch), _piece_ids(trimmed, batch)):
            old_pieces = original.convert_ids_to_tokens(old_ids)
            report["pieces"] += len(old_ids)
            report["dropped_pieces"] += sum(piece not in trimmed_vocab for piece in old_pieces)
            report["texts_changed"] += old_pieces != trimmed.convert_ids_to_tokens(new_ids)
            report["unk_before"] += old_ids.count(original.unk_token_id)
            report["unk_after"] += new_ids.count(trimmed.unk_token_id)
    return report


def trim_hf_shim(shim: Any, kept: KeptPieces, storage_dtype: str = "float32") -> None:
    """Trim the tokenizer and word-piece table that a spacy-transformers shim holds, in place."""
    import dataclasses
    import tempfile

    hf = shim._hfmodel
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = write_trimmed_tokenizer(hf.tokenizer, kept, Path(tmp), hf.vocab_file_contents or b"")
        vocab_file = getattr(tokenizer, "vocab_file", None)
        contents = Path(vocab_file).read_bytes() if vocab_file and Path(vocab_file).is_file() else None
    trim_embeddings(hf.transformer, kept, storage_dtype)
    shim._hfmodel = dataclasses.replace(hf, tokenizer=tokenizer, vocab_file_contents=contents)
