"""The encoder runtime: a frozen bottom that takes no update, its training cache, bfloat16."""
from pathlib import Path
from typing import Dict, List

import numpy
import pytest
import spacy
import torch
from spacy.language import Language
from spacy.util import fix_random_seed

from spacy_mclner.ml.encoder_runtime import (
    EncoderRuntime,
    bfloat16_supported,
    hf_models,
    resolved_precision,
    runtime_of,
)

from .helpers import TRAIN_DATA, make_examples, make_nlp


CPU_HAS_BF16 = bfloat16_supported(torch.device("cpu"))


def _hf(nlp: Language, name: str = "mclner") -> torch.nn.Module:
    (hf_model,) = hf_models(nlp.get_pipe(name).model.get_ref("tok2vec"))
    return hf_model


def _weights(module: torch.nn.Module) -> Dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in module.named_parameters()}


def _train(nlp: Language, steps: int) -> List[float]:
    examples = make_examples(nlp)
    optimizer = nlp.initialize(lambda: examples)
    return [nlp.update(examples, sgd=optimizer, drop=0.1)["mclner"] for _ in range(steps)]


def _probabilities(nlp: Language) -> numpy.ndarray:
    pipe = nlp.get_pipe("mclner")
    docs = [nlp.make_doc(text) for text, _ in TRAIN_DATA]
    return pipe.probabilities(pipe.predict(docs))


def test_frozen_layers_take_no_update(encoder_dir: Path):
    fix_random_seed(0)
    nlp = make_nlp(encoder_dir, freeze_layers=1)
    examples = make_examples(nlp)
    optimizer = nlp.initialize(lambda: examples)
    hf_model = _hf(nlp)
    frozen = {**_weights(hf_model.embeddings), **_weights(hf_model.encoder.layer[0])}
    trained = _weights(hf_model.encoder.layer[1])
    for _ in range(2):
        nlp.update(examples, sgd=optimizer)
    after_frozen = {**_weights(hf_model.embeddings), **_weights(hf_model.encoder.layer[0])}
    assert all(torch.equal(frozen[name], after_frozen[name]) for name in frozen)
    moved = [name for name, p in _weights(hf_model.encoder.layer[1]).items() if not torch.equal(p, trained[name])]
    assert moved, "the top layer did not train"


def test_freezing_leaves_predictions_unchanged(trained: Language, encoder_dir: Path):
    """The patched layer stack computes what Hugging Face's own does."""
    frozen = make_nlp(encoder_dir, freeze_layers=1)
    frozen.from_bytes(trained.to_bytes())
    assert runtime_of(_hf(trained)) is None
    numpy.testing.assert_allclose(_probabilities(frozen), _probabilities(trained), atol=1e-5)
    assert runtime_of(_hf(frozen)) is not None


def test_cache_trains_as_without_it_and_is_never_used_in_inference(encoder_dir: Path):
    fix_random_seed(0)
    uncached = make_nlp(encoder_dir, freeze_layers=1)
    losses = _train(uncached, 3)
    fix_random_seed(0)
    cached = make_nlp(encoder_dir, freeze_layers=1, frozen_cache_mb=10)
    cached_losses = _train(cached, 3)
    numpy.testing.assert_allclose(cached_losses, losses, rtol=1e-3)
    cache = runtime_of(_hf(cached)).cache
    assert cache.misses == len(TRAIN_DATA) and cache.hits == 2 * len(TRAIN_DATA)
    assert 0 < cache.used_bytes <= cache.max_bytes
    list(cached.pipe(text for text, _ in TRAIN_DATA))
    assert (cache.hits, cache.misses) == (2 * len(TRAIN_DATA), len(TRAIN_DATA))


def test_cache_is_cleared_when_a_frozen_weight_changes(encoder_dir: Path):
    fix_random_seed(0)
    nlp = make_nlp(encoder_dir, freeze_layers=1, frozen_cache_mb=10)
    examples = make_examples(nlp)
    optimizer = nlp.initialize(lambda: examples)
    nlp.update(examples, sgd=optimizer)
    hf_model = _hf(nlp)
    cache = runtime_of(hf_model).cache
    with torch.no_grad():
        hf_model.encoder.layer[0].output.dense.weight.add_(0.01)
    nlp.update(examples, sgd=optimizer)
    assert cache.hits == 0 and cache.misses == 2 * len(TRAIN_DATA)


def test_cache_stops_growing_at_its_cap(encoder_dir: Path):
    nlp = make_nlp(encoder_dir, freeze_layers=1, frozen_cache_mb=0.01)  # about 10 kB: room for one of the three windows
    with pytest.warns(UserWarning, match="frozen_cache_mb"):
        _train(nlp, 2)
    cache = runtime_of(_hf(nlp)).cache
    assert 0 < len(cache.entries) < len(TRAIN_DATA)
    assert cache.used_bytes <= cache.max_bytes


@pytest.mark.parametrize(
    "settings,message",
    [
        ({"freeze_layers": -1}, "freeze_layers must be at least 0"),
        ({"frozen_cache_mb": -1}, "frozen_cache_mb must be at least 0"),
        ({"precision": "float16"}, "precision must be one of"),
    ],
)
def test_bad_settings_are_refused_when_the_model_is_built(encoder_dir: Path, settings, message):
    with pytest.raises(ValueError, match=message):
        make_nlp(encoder_dir, **settings)


@pytest.mark.parametrize(
    "settings,message",
    [
        ({"freeze_layers": 2}, "the encoder has 2 layers"),
        ({"freeze_layers": 1, "freeze_word_embeddings": False}, "freeze_word_embeddings"),
    ],
)
def test_settings_the_encoder_cannot_take_are_refused(encoder_dir: Path, settings, message):
    nlp = make_nlp(encoder_dir, **settings)
    with pytest.raises(ValueError, match=message):
        _train(nlp, 1)


def test_runtime_settings_follow_the_config_not_the_saved_weights(trained: Language, encoder_dir: Path, tmp_path: Path):
    """A pipeline trained in float32 can be loaded with other runtime settings."""
    trained.to_disk(tmp_path / "pipeline")
    overrides = {"components": {"mclner": {"model": {"freeze_layers": 1}}}}
    loaded = spacy.load(tmp_path / "pipeline", config=overrides)
    numpy.testing.assert_allclose(_probabilities(loaded), _probabilities(trained), atol=1e-5)
    assert runtime_of(_hf(loaded)).settings == EncoderRuntime(freeze_layers=1)


def _same_entities_as(trained: Language, encoder_dir: Path, precision: str, max_probability_change: float) -> Language:
    """`trained`'s weights run at `precision`: probabilities close to float32's, the same entities."""
    nlp = make_nlp(encoder_dir, precision=precision)
    nlp.from_bytes(trained.to_bytes())
    assert numpy.abs(_probabilities(nlp) - _probabilities(trained)).max() < max_probability_change
    texts = [text for text, _ in TRAIN_DATA]
    assert [[(e.start, e.end, e.label_) for e in doc.ents] for doc in nlp.pipe(texts)] == [
        [(e.start, e.end, e.label_) for e in doc.ents] for doc in trained.pipe(texts)
    ]
    return nlp


@pytest.mark.skipif(not CPU_HAS_BF16, reason="this CPU has no bfloat16 support")
def test_bfloat16_predicts_what_float32_does_and_trains(trained: Language, encoder_dir: Path):
    _same_entities_as(trained, encoder_dir, "bfloat16", max_probability_change=0.05)
    fix_random_seed(0)
    losses = _train(make_nlp(encoder_dir, precision="bfloat16", freeze_layers=1, frozen_cache_mb=10), 3)
    assert all(numpy.isfinite(losses)) and losses[-1] < losses[0]


def test_auto_precision_follows_the_hardware_and_runs_anywhere(trained: Language, encoder_dir: Path):
    cpu = torch.device("cpu")
    expected = "bfloat16" if CPU_HAS_BF16 else "float32"
    assert resolved_precision("auto", cpu) == expected
    assert resolved_precision("float32", cpu) == "float32" and resolved_precision("int8", cpu) == "int8"
    _same_entities_as(trained, encoder_dir, "auto", max_probability_change=0.05 if expected == "bfloat16" else 1e-5)
    fix_random_seed(0)
    losses = _train(make_nlp(encoder_dir, precision="auto", freeze_layers=1, frozen_cache_mb=10), 3)
    assert all(numpy.isfinite(losses)) and losses[-1] < losses[0]


@pytest.mark.skipif(CPU_HAS_BF16, reason="this CPU has bfloat16 support")
def test_explicit_bfloat16_is_refused_where_the_hardware_has_none(trained: Language, encoder_dir: Path):
    nlp = make_nlp(encoder_dir, precision="bfloat16")
    nlp.from_bytes(trained.to_bytes())
    with pytest.raises(ValueError, match="needs a cpu with bfloat16 support.*or to 'auto'"):
        nlp("Angela Merkel visited Paris.")


def test_int8_predicts_what_float32_does_saves_float32_and_refuses_training(trained: Language, encoder_dir: Path, tmp_path: Path):
    # int8 activations and weights move probabilities (up to 0.18 here), not the entities.
    quantized = _same_entities_as(trained, encoder_dir, "int8", max_probability_change=0.25)
    patch = runtime_of(_hf(quantized))
    assert isinstance(patch.quantized[0].attention.self.query, torch.ao.nn.quantized.dynamic.Linear)
    # The int8 copy lives beside the model: what is saved is the float32 weights, unchanged.
    quantized.to_disk(tmp_path / "int8")
    reloaded = spacy.load(tmp_path / "int8", config={"components": {"mclner": {"model": {"precision": "float32"}}}})
    numpy.testing.assert_allclose(_probabilities(reloaded), _probabilities(trained), atol=1e-6)
    with pytest.raises(ValueError, match="'int8' is for inference"):
        quantized.update(make_examples(quantized), sgd=quantized.resume_training())


def test_spacy_ner_trains_its_encoder_the_same_way(encoder_dir: Path):
    fix_random_seed(0)
    nlp = spacy.blank("xx")
    tok2vec = {
        "@architectures": "spacy_mclner.EncoderRuntime.v1",
        "freeze_layers": 1,
        "frozen_cache_mb": 10,
        "freeze_word_embeddings": True,
        "tok2vec": {
            "@architectures": "spacy-transformers.Tok2VecTransformer.v3",
            "name": str(encoder_dir),
            "tokenizer_config": {"use_fast": False},
            "get_spans": {"@span_getters": "spacy-transformers.strided_spans.v1", "window": 128, "stride": 96},
            "pooling": {"@layers": "reduce_mean.v1"},
        },
    }
    model = {"@architectures": "spacy.TransitionBasedParser.v2", "state_type": "ner", "hidden_width": 32,
             "maxout_pieces": 2, "use_upper": False, "tok2vec": tok2vec}
    nlp.add_pipe("ner", config={"model": model})
    examples = make_examples(nlp)
    optimizer = nlp.initialize(lambda: examples)
    hf_model = _hf(nlp, "ner")
    frozen = _weights(hf_model.encoder.layer[0])
    for _ in range(2):
        nlp.update(examples, sgd=optimizer)
    assert all(torch.equal(p, frozen[name]) for name, p in _weights(hf_model.encoder.layer[0]).items())
    assert runtime_of(hf_model).cache.hits == len(TRAIN_DATA)


def test_bench_counts_what_training_put_in_the_cache(trained: Language, encoder_dir: Path, monkeypatch: pytest.MonkeyPatch):
    from spacy_mclner.evaluation import bench

    monkeypatch.setattr(bench, "REPEATS", 2)
    copy = make_nlp(encoder_dir, freeze_layers=1, frozen_cache_mb=10).from_bytes(trained.to_bytes())
    examples = make_examples(copy)
    results = bench.bench_pipelines(
        {"x": (copy, examples)}, batch_size=2, training_batches=lambda nlp: [examples[2:]]
    )
    # The warm-up's two sentences are not counted; the one training sentence is, once.
    assert results["x"]["frozen_cache_windows"] == 1 and results["x"]["n_train_sentences"] == 1
    assert 0 < results["x"]["frozen_cache_mb"] < 0.1
    assert "the frozen-layer cache holds" in bench.bench_markdown(results)
