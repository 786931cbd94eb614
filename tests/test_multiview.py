"""Multi-view training: views reach the pipe through the reader, and L_sc / L_tc train the encoder."""
from pathlib import Path
from typing import List

import numpy
import pytest
import spacy
from spacy.language import Language
from spacy.tokens import DocBin
from spacy.training import Example
from spacy.util import fix_random_seed

from spacy_mclner.data.annotations import VIEWS_KEY, set_doc_lang
from spacy_mclner.data.codeswitch import codeswitch_docs
from spacy_mclner.data.dictionaries import BilingualDictionary
from spacy_mclner.data.readers import create_multiview_corpus_reader
from spacy_mclner.pipeline.objective import aligned_cells, expand_views

from .helpers import SMALL_HEAD, TRAIN_DATA

DICTIONARY = BilingualDictionary(
    "de",
    {
        "Paris": ["Parigi"],
        "New York": ["Nuova York"],
        "works for": ["arbeitet für"],
        "in": ["im"],
        "Google": ["Gugel AG"],
        "Siemens": ["Siemens"],
        "Angela Merkel": ["Angela Merkel"],
    },
)


def source_docs(nlp: Language):
    docs = []
    for text, ents in TRAIN_DATA:
        doc = Example.from_dict(nlp.make_doc(text), {"entities": ents}).reference
        set_doc_lang(doc, "en")
        docs.append(doc)
    return docs


@pytest.fixture
def corpus(tmp_path: Path):
    nlp = spacy.blank("xx")
    sources = source_docs(nlp)
    views, _ = codeswitch_docs(sources, {"de": DICTIONARY}, ["de"], seed=0, word_prob=1.0)
    DocBin(docs=sources, store_user_data=True).to_disk(tmp_path / "src.spacy")
    DocBin(docs=views, store_user_data=True).to_disk(tmp_path / "views.spacy")
    return tmp_path / "src.spacy", tmp_path / "views.spacy"


def test_reader_attaches_views_to_their_sources(corpus):
    nlp = spacy.blank("xx")
    examples = create_multiview_corpus_reader(*corpus)(nlp)
    assert len(examples) == len(TRAIN_DATA)
    for example in examples:
        (view,) = example.reference.user_data[VIEWS_KEY]
        assert [e.label_ for e in view.reference.ents] == [e.label_ for e in example.reference.ents]
    expanded = expand_views(examples)
    assert len(expanded) == 2 * len(TRAIN_DATA)
    assert not expanded[-1].predicted.has_annotation("ENT_IOB")


def test_aligned_cells_map_entities_to_entities(corpus):
    nlp = spacy.blank("xx")
    examples = create_multiview_corpus_reader(*corpus)(nlp)
    rng = numpy.random.default_rng(0)
    for example in examples:
        source = example.reference
        view = example.reference.user_data[VIEWS_KEY][0].reference
        source_cells, view_cells = aligned_cells(source, view, 8, 4, rng)
        thw_source = {(e.end - 1, e.start): e.label_ for e in source.ents}
        thw_view = {(e.end - 1, e.start): e.label_ for e in view.ents}
        mapped = {
            tuple(s): tuple(v) for s, v in zip(source_cells.tolist(), view_cells.tolist()) if tuple(s) in thw_source
        }
        assert set(mapped) == set(thw_source)  # every entity is one alignment block here
        assert all(thw_view[v] == thw_source[s] for s, v in mapped.items())
        assert len(source_cells) == len(view_cells) > len(mapped)
        assert (source_cells < len(source)).all() and (view_cells < len(view)).all()


def encoder_parameter_grads(nlp: Language) -> List[float]:
    transformer = next(n for n in nlp.get_pipe("mclner").model.walk() if n.name == "transformer")
    module = transformer.layers[0].shims[0]._model
    return [float(p.grad.abs().sum()) for p in module.encoder.parameters() if p.grad is not None]


@pytest.mark.parametrize("loss_name,config", [("sc", {"tc_weight": 0.0}), ("tc", {"sc_weight": 0.0})])
def test_contrastive_losses_reach_the_encoder_and_decrease(loss_name, config, corpus, encoder_dir: Path):
    fix_random_seed(0)
    nlp = spacy.blank("xx")
    model = {"tok2vec": {"name": str(encoder_dir)}, **SMALL_HEAD}
    pipe = nlp.add_pipe("mclner", config={"model": model, "encoder_lr_scale": 1.0, **config})
    examples = create_multiview_corpus_reader(*corpus)(nlp)
    optimizer = nlp.initialize(lambda: examples)
    batch = expand_views(examples)
    history = []
    for _ in range(6):
        # Follow the gradient of the contrastive loss alone: the cross-entropy's is dropped.
        grid, backprop = pipe.model.begin_update([eg.predicted for eg in batch])
        _, (d_logits, d_sentences, d_projections) = pipe.get_loss(batch, grid)
        history.append(pipe._loss_parts[loss_name])
        backprop((d_logits * 0, d_sentences, d_projections))
        assert sum(encoder_parameter_grads(nlp)) > 0
        pipe.finish_update(optimizer)
    assert history[-1] < history[0]
    losses = nlp.update(examples, sgd=optimizer)
    assert set(losses) >= {"mclner", "mclner_ce", "mclner_ce_view", f"mclner_{loss_name}"}


def test_bench_training_batches_carry_the_views_within_the_padded_budget(corpus):
    from spacy_mclner.evaluation.bench import multiview_batches

    source, views = corpus
    batches = multiview_batches(source, views, batch_words=20, n_batches=10)(spacy.blank("xx"))
    examples = [eg for batch in batches for eg in batch]
    assert sorted(eg.reference.text for eg in examples) == sorted(text for text, _ in TRAIN_DATA)
    assert all(eg.reference.user_data.get(VIEWS_KEY) for eg in examples)
    # Padded words: the longest source sentence of a batch times its sentences (views are the pipe's to add).
    assert all(len(batch) * max(len(eg) for eg in batch) <= 20 or len(batch) == 1 for batch in batches)
    assert len(multiview_batches(source, views, batch_words=20, n_batches=1)(spacy.blank("xx"))) == 1


def test_sc_temperature_sets_l_sc_apart_from_l_tc(corpus, encoder_dir: Path):
    fix_random_seed(0)
    nlp = spacy.blank("xx")
    pipe = nlp.add_pipe("mclner", config={"model": {"tok2vec": {"name": str(encoder_dir)}, **SMALL_HEAD}})
    examples = create_multiview_corpus_reader(*corpus)(nlp)
    nlp.initialize(lambda: examples)
    batch = expand_views(examples)
    grid, _ = pipe.model.begin_update([eg.predicted for eg in batch])
    parts = {}
    for sc_temperature in (None, 0.1, 1.0):
        pipe.cfg["sc_temperature"] = sc_temperature
        pipe._rng = numpy.random.default_rng(0)  # L_tc samples the same cells each time
        pipe.get_loss(batch, grid)
        parts[sc_temperature] = dict(pipe._loss_parts)
    assert pipe.settings.temperature == 0.1
    assert parts[0.1] == parts[None]  # unset: L_sc takes `temperature`
    assert parts[1.0]["tc"] == parts[None]["tc"] and parts[1.0]["ce"] == parts[None]["ce"]
    assert parts[1.0]["sc"] != pytest.approx(parts[None]["sc"])
