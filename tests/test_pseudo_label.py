"""Pseudo-labels: the filters, the stored teacher distributions, L_mse, the reader and bad inputs."""
from pathlib import Path
from typing import List

import numpy
import pytest
import spacy
import srsly
import torch
from spacy.language import Language
from spacy.tokens import Doc, DocBin, Span
from spacy.util import load_model_from_config
from typer.testing import CliRunner

from spacy_mclner.cli import app
from spacy_mclner.data.annotations import get_teacher_distributions, set_doc_lang, set_teacher_distributions
from spacy_mclner.data.codeswitch import codeswitch_docs
from spacy_mclner.data.corpus import example_from_reference, read_gold, read_unlabeled
from spacy_mclner.data.dictionaries import BilingualDictionary
from spacy_mclner.data.readers import create_pseudo_label_corpus_reader
from spacy_mclner.grid import FIRST_THW, band_size, decode_grid, spans_to_grid
from spacy_mclner.ml.losses import relation_mse
from spacy_mclner.pipeline.mclner import load_mclner
from spacy_mclner.selftrain.pseudo_label import pseudo_label_docs, select_pseudo_labels, teacher_outputs

from .helpers import TRAIN_DATA, entities, make_examples

N_CLASSES = FIRST_THW + 2


def decode_both(probs: numpy.ndarray):
    """A sentence's proposals without the NNW check, and those with their chain, as the pseudo-labeller decodes."""
    return decode_grid(probs, 8, require_nnw=False), decode_grid(probs, 8, require_nnw=True)


def sentence_probs(spans, n_words: int, score: float = 0.95) -> numpy.ndarray:
    """Class probabilities of a sentence whose most likely classes encode `spans` with `score`."""
    grid = spans_to_grid([s for s, _, _ in spans], [e for _, e, _ in spans], [l for _, _, l in spans], n_words)
    probs = numpy.full((n_words, n_words, N_CLASSES), (1 - score) / (N_CLASSES - 1), dtype="float32")
    probs[numpy.arange(n_words)[:, None], numpy.arange(n_words)[None, :], grid] = score
    return probs


def test_a_sentence_with_sure_continuous_entities_is_kept():
    labels = select_pseudo_labels(*decode_both(sentence_probs([(0, 2, 0), (3, 4, 1)], 5)), threshold=0.9)
    assert labels is not None
    assert list(zip(labels.starts, labels.ends, labels.labels)) == [(0, 2, 0), (3, 4, 1)]


def test_a_sentence_without_entities_is_dropped():
    assert select_pseudo_labels(*decode_both(sentence_probs([], 5)), threshold=0.0) is None


def test_every_entity_must_clear_the_threshold():
    probs = sentence_probs([(0, 2, 0), (3, 4, 1)], 5)
    probs[3, 3] = [0.2, 0.0, 0.0, 0.8]  # the second entity's THW cell: score 0.8
    assert select_pseudo_labels(*decode_both(probs), threshold=0.9) is None
    kept = select_pseudo_labels(*decode_both(probs), threshold=0.7)
    assert kept is not None and len(kept) == 2


def test_an_entity_with_a_broken_nnw_chain_drops_the_sentence():
    probs = sentence_probs([(0, 3, 0), (4, 5, 1)], 6)
    probs[1, 2] = [0.9, 0.1, 0.0, 0.0]  # words 1 and 2 no longer linked: a discontinuous entity 0..2
    assert select_pseudo_labels(*decode_both(probs), threshold=0.5) is None
    probs[1, 2] = [0.1, 0.9, 0.0, 0.0]
    assert select_pseudo_labels(*decode_both(probs), threshold=0.5) is not None


def test_a_discontinuous_proposal_that_loses_to_a_better_entity_does_not_count():
    probs = sentence_probs([(1, 3, 0)], 5)
    probs[3, 0] = [0.3, 0.0, 0.7, 0.0]  # proposal 0..3, overlapping, weaker, with no NNW (0, 1)
    kept = select_pseudo_labels(*decode_both(probs), threshold=0.9)
    assert kept is not None and list(zip(kept.starts, kept.ends)) == [(1, 3)]


def test_relation_mse_is_zero_for_the_teacher_and_positive_otherwise():
    teacher = torch.softmax(torch.randn(7, N_CLASSES), dim=-1)
    assert relation_mse(teacher.log(), teacher).item() == pytest.approx(0.0, abs=1e-10)
    student = torch.randn(7, N_CLASSES, requires_grad=True)
    loss = relation_mse(student, teacher)
    loss.backward()
    assert loss.item() > 0 and student.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="one shape"):
        relation_mse(student, teacher[:3])


def test_teacher_distributions_survive_a_docbin_and_check_the_student(trained: Language):
    doc = trained.make_doc("Angela Merkel besuchte Paris .")
    probs = numpy.random.default_rng(0).random((band_size(5, 4), N_CLASSES)).astype("float32")
    with pytest.raises(ValueError, match="band cells"):
        set_teacher_distributions(doc, probs[:-1], ["LOC", "PER"], 4)
    set_teacher_distributions(doc, probs, ["LOC", "PER"], 4)
    restored = list(DocBin(docs=[doc], store_user_data=True).get_docs(trained.vocab))[0]
    numpy.testing.assert_allclose(get_teacher_distributions(restored, ["LOC", "PER"], 4), probs, atol=1e-3)
    with pytest.raises(ValueError, match=r"labels \['LOC', 'PER'\].*labels \['LOC', 'ORG'\]"):
        get_teacher_distributions(restored, ["LOC", "ORG"], 4)


def unlabelled_docs(nlp: Language, words_per_doc: List[List[str]]) -> List[Doc]:
    docs = [Doc(nlp.vocab, words=words) for words in words_per_doc]
    for doc in docs:
        set_doc_lang(doc, "de")
    return docs


def test_the_teacher_keeps_what_it_knows(trained: Language):
    pipe = trained.get_pipe("mclner")
    texts = [text for text, _ in TRAIN_DATA]
    docs = unlabelled_docs(trained, [text.split() for text in texts])
    kept = pseudo_label_docs(pipe, docs, threshold=0.5, batch_size=2)
    expected = [entities(trained(text)) for text in texts]
    assert [entities(doc) for doc in kept if doc is not None] == [e for e in expected if e]
    assert sum(doc is not None for doc in kept) >= 2
    with pytest.raises(ValueError, match="threshold"):
        pseudo_label_docs(pipe, docs, threshold=1.5)


def student_mse(student: Language, pseudo: List[Doc]) -> float:
    pipe = student.get_pipe("mclner")
    examples = [example_from_reference(doc) for doc in pseudo]
    pipe.get_loss(examples, pipe.model.predict([eg.predicted for eg in examples]))
    return pipe._loss_parts["mse"]


def test_mse_is_zero_for_a_student_equal_to_its_teacher_and_positive_otherwise(trained: Language):
    """Also across grid windows: the teacher labels in 47-word windows, the student sees one grid."""
    words = "Barack Obama works for Google in New York .".split() * 10
    teacher = trained.get_pipe("mclner")
    pseudo = unlabelled_docs(trained, [words])
    default_window = teacher.model.attrs["max_segment_words"]
    try:
        teacher.model.attrs["max_segment_words"] = 47  # windows cut every 4 words
        band = teacher_outputs(teacher, pseudo)[0].band
    finally:
        teacher.model.attrs["max_segment_words"] = default_window
    pseudo[0].set_ents([Span(pseudo[0], 0, 2, label="PER")], default="outside")
    set_teacher_distributions(pseudo[0], band, teacher.labels, teacher.cfg["max_entity_width"])
    student = load_model_from_config(trained.config).from_bytes(trained.to_bytes())
    student.get_pipe("mclner").cfg["mse_weight"] = 1.0
    assert student_mse(student, pseudo) < 1e-5
    stranger = load_model_from_config(trained.config)
    stranger.initialize(lambda: make_examples(stranger))
    stranger.get_pipe("mclner").cfg["mse_weight"] = 1.0
    assert student_mse(stranger, pseudo) > 1e-3


def write_docbin(path: Path, docs: List[Doc]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    DocBin(docs=docs, store_user_data=True).to_disk(path)
    return path


def test_the_reader_mixes_source_and_pseudo_labels(trained: Language, tmp_path: Path):
    source = write_docbin(tmp_path / "source.spacy", [eg.reference for eg in make_examples(trained)])
    kept = pseudo_label_docs(trained.get_pipe("mclner"), unlabelled_docs(trained, [TRAIN_DATA[0][0].split()]), threshold=0.0)
    pseudo = write_docbin(tmp_path / "pseudo" / "de.spacy", kept)
    examples = list(create_pseudo_label_corpus_reader(source, pseudo.parent, shuffle=True)(trained))
    assert len(examples) == 4
    assert sorted(eg.reference.user_data["mclner_lang"] for eg in examples) == ["de", "en", "en", "en"]
    with pytest.raises(ValueError, match="carry no teacher distributions"):
        create_pseudo_label_corpus_reader(source, source)(trained)


@pytest.fixture(scope="module")
def teacher_dir(trained: Language, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("teacher") / "model"
    trained.to_disk(path)
    return path


def test_pseudo_label_command_reports_kept_sentences_and_quality(teacher_dir: Path, tmp_path: Path):
    unlabeled = tmp_path / "unlabeled.txt"
    unlabeled.write_text("\n".join(text for text, _ in TRAIN_DATA) + "\n\n", encoding="utf8")
    gold = [eg.reference for eg in make_examples(spacy.blank("xx"))]
    for doc in gold:
        set_doc_lang(doc, "de")
    dev = write_docbin(tmp_path / "dev" / "de.spacy", gold)
    args = ["pseudo-label", str(teacher_dir), str(unlabeled), str(tmp_path / "de.spacy"), "--lang", "de", "--text"]
    result = CliRunner().invoke(app, args + ["--threshold", "0.5", "--dev", str(dev.parent), "--report", str(tmp_path / "de.json")])
    assert result.exit_code == 0, result.output
    report = srsly.read_json(tmp_path / "de.json")
    assert report["sentences"] == 3 and report["kept_sentences"] >= 2
    assert report["kept_entities"] == sum(report["entities_per_label"].values()) >= 4
    assert report["quality"]["f"] == 1.0 and report["quality"]["kept_sentences"] == report["kept_sentences"]
    docs = list(DocBin().from_disk(tmp_path / "de.spacy").get_docs(spacy.blank("xx").vocab))
    assert len(docs) == report["kept_sentences"] and all(doc.user_data["mclner_lang"] == "de" for doc in docs)


def test_an_empty_text_file_is_an_error_naming_it(teacher_dir: Path, tmp_path: Path):
    nlp, _ = load_mclner(teacher_dir)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n", encoding="utf8")
    with pytest.raises(ValueError, match=f"No sentences to pseudo-label in {empty}"):
        read_unlabeled(empty, nlp, "de", text=True)
    empty.write_text("", encoding="utf8")
    with pytest.raises(ValueError, match="the file is empty"):
        read_unlabeled(empty, nlp, "de")


def test_an_unknown_language_code_is_an_error_naming_it(teacher_dir: Path, tmp_path: Path):
    nlp, _ = load_mclner(teacher_dir)
    text = tmp_path / "text.txt"
    text.write_text("Paris .\n", encoding="utf8")
    with pytest.raises(ValueError, match="Unknown language code 'qq': neither spaCy nor CLDR"):
        read_unlabeled(text, nlp, "qq", text=True)
    assert len(read_unlabeled(text, nlp, "sw", text=True)) == 1  # PAN-X's Swahili: CLDR knows it, spaCy does not
    with pytest.raises(ValueError, match="Unknown language code 'qq'"):
        read_gold(text, nlp, "qq")


def test_a_model_folder_without_an_mclner_pipe_is_an_error_naming_it(tmp_path: Path):
    nlp = spacy.blank("xx")
    nlp.add_pipe("sentencizer")
    nlp.to_disk(tmp_path / "senter")
    with pytest.raises(ValueError, match=f"{tmp_path / 'senter'} has no `mclner` pipes.*sentencizer"):
        load_mclner(tmp_path / "senter")
    with pytest.raises(ValueError, match="not a trained spaCy pipeline folder"):
        load_mclner(tmp_path)
    result = CliRunner().invoke(app, ["pseudo-label", str(tmp_path / "senter"), str(tmp_path / "x.txt"), str(tmp_path / "o.spacy"), "--lang", "de"])
    assert result.exit_code != 0 and "mclner" in str(result.exception)


def test_one_update_trains_every_part_of_the_student_objective(trained: Language, tmp_path: Path):
    """Source, its code-switched views and pseudo-labels in one batch: eq. 9's parts all count, L_sc does not."""
    student = load_model_from_config(trained.config).from_bytes(trained.to_bytes())
    student.get_pipe("mclner").cfg.update(sc_weight=0.0, tc_weight=0.5, mse_weight=1.0)
    sources = [eg.reference for eg in make_examples(student)]
    dictionary = BilingualDictionary("de", {"Paris": ["Parigi"], "baut": ["builds"], "München": ["Munich"]})
    views, _ = codeswitch_docs(sources, {"de": dictionary}, ["de"], seed=0, word_prob=1.0)
    pseudo = pseudo_label_docs(trained.get_pipe("mclner"), unlabelled_docs(student, [TRAIN_DATA[1][0].split()]), threshold=0.0)
    read = create_pseudo_label_corpus_reader(
        write_docbin(tmp_path / "source.spacy", sources),
        write_docbin(tmp_path / "pseudo.spacy", pseudo),
        views=write_docbin(tmp_path / "views.spacy", views),
    )
    losses = student.get_pipe("mclner").update(list(read(student)), drop=0.1)
    assert all(losses[f"mclner_{part}"] > 0 for part in ("ce", "ce_view", "tc", "ce_pseudo", "mse"))
    assert "mclner_sc" not in losses
