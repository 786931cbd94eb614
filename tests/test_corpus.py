import re
from pathlib import Path
from typing import List, Tuple

import pytest
import spacy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spacy.tokens import Doc, DocBin, Span

from spacy_mclner.data.annotations import LANG_KEY, get_doc_lang, set_doc_lang
from spacy_mclner.data.corpus import convert_file, read_conll_docs
from spacy_mclner.data.readers import create_labelled_corpus_reader

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf8")
    return path


def ents(doc) -> List[Tuple[int, int, str]]:
    return [(ent.start, ent.end, ent.label_) for ent in doc.ents]


@pytest.fixture
def vocab():
    return spacy.blank("xx").vocab


IOB2 = """\
Peter\tB-PER
Blackburn\tI-PER
visits\tO
New\tB-LOC
York\tI-LOC
Paris\tB-LOC
and\tO
EU\tB-ORG
UN\tB-ORG
"""
IOB1 = """\
Peter\tI-PER
Blackburn\tI-PER
visits\tO
New\tI-LOC
York\tI-LOC
Paris\tB-LOC
and\tO
EU\tI-ORG
UN\tB-ORG
"""
EXPECTED_SPANS = [
    (0, 2, "PER"),
    (3, 5, "LOC"),
    (5, 6, "LOC"),
    (7, 8, "ORG"),
    (8, 9, "ORG"),
]


def test_iob1_and_iob2_give_the_same_spans(tmp_path, vocab):
    iob2 = read_conll_docs(write(tmp_path / "iob2", IOB2), vocab, "en")
    iob1 = read_conll_docs(write(tmp_path / "iob1", IOB1), vocab, "en")
    assert ents(iob2[0]) == ents(iob1[0]) == EXPECTED_SPANS


def test_type_change_inside_i_tags_starts_a_new_entity(tmp_path, vocab):
    text = "a\tI-PER\nb\tI-PER\nc\tI-LOC\nd\tO\ne\tI-ORG\n"
    (doc,) = read_conll_docs(write(tmp_path / "dev", text), vocab, "en")
    assert ents(doc) == [(0, 2, "PER"), (2, 3, "LOC"), (4, 5, "ORG")]


@st.composite
def labelled_spans(draw) -> Tuple[int, List[Tuple[int, int, str]]]:
    length = draw(st.integers(min_value=1, max_value=12))
    spans = []
    i = 0
    while i < length:
        i += draw(st.integers(min_value=0, max_value=2))
        end = min(length, i + draw(st.integers(min_value=1, max_value=3)))
        if i < length:
            spans.append((i, end, draw(st.sampled_from(["PER", "LOC"]))))
        i = end
    return length, spans


def encode(length: int, spans: List[Tuple[int, int, str]], scheme: str) -> List[str]:
    tags = ["O"] * length
    previous_end, previous_label = -1, ""
    for start, end, label in spans:
        tags[start:end] = [f"I-{label}"] * (end - start)
        if scheme == "IOB2" or (start == previous_end and label == previous_label):
            tags[start] = f"B-{label}"
        previous_end, previous_label = end, label
    return tags


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(sample=labelled_spans())
def test_both_schemes_decode_to_the_encoded_spans(tmp_path, vocab, sample):
    length, spans = sample
    for scheme in ("IOB1", "IOB2"):
        lines = [f"w{i}\t{tag}" for i, tag in enumerate(encode(length, spans, scheme))]
        path = write(tmp_path / scheme, "\n".join(lines) + "\n")
        (doc,) = read_conll_docs(path, vocab, "en")
        assert ents(doc) == spans


def test_sentence_initial_i_tag_starts_an_entity(tmp_path, vocab):
    # As in CoNLL-2002 Spanish dev: "Sao I-LOC" opens the sentence.
    text = "Sao\tI-LOC\nPaulo\tI-LOC\n(\tO\nBrasil\tB-LOC\n"
    (doc,) = read_conll_docs(write(tmp_path / "es", text), vocab, "es")
    assert ents(doc) == [(0, 2, "LOC"), (3, 4, "LOC")]


def test_docstart_lines_are_skipped_and_end_sentences(tmp_path, vocab):
    text = (
        "-DOCSTART- -X- -X- O\n\n"
        "EU NNP B-NP B-ORG\nrejects VBZ B-VP O\n"
        "-DOCSTART- -X- -X- O\n"
        "German JJ B-NP B-MISC\ncall NN I-NP O\n\n\n"
        "Peter NNP B-NP B-PER\n"
    )
    docs = read_conll_docs(write(tmp_path / "train.txt", text), vocab, "en")
    assert [doc.text for doc in docs] == ["EU rejects", "German call", "Peter"]
    assert [ents(doc) for doc in docs] == [
        [(0, 1, "ORG")],
        [(0, 1, "MISC")],
        [(0, 1, "PER")],
    ]


def test_space_separated_columns_use_first_and_last(tmp_path, vocab):
    text = "Peter NNP B-NP B-PER\nBlackburn NNP I-NP I-PER\nsaid VBD B-VP O\n"
    (doc,) = read_conll_docs(write(tmp_path / "dev", text), vocab, "en")
    assert [token.text for token in doc] == ["Peter", "Blackburn", "said"]
    assert ents(doc) == [(0, 2, "PER")]


def test_labelled_docs_mark_every_token(tmp_path, vocab):
    docs = read_conll_docs(
        write(tmp_path / "dev", "a\tO\nb\tO\n\nc\tB-PER\n"), vocab, "en"
    )
    assert all(doc.has_annotation("ENT_IOB", require_complete=True) for doc in docs)
    assert [token.ent_iob_ for token in docs[0]] == ["O", "O"]


def test_unlabelled_files_give_docs_without_entities(tmp_path, vocab):
    text = "Das\nist\ngut\n\nJa\n"
    docs = read_conll_docs(write(tmp_path / "unlabeled", text), vocab, "de")
    assert [doc.text for doc in docs] == ["Das ist gut", "Ja"]
    assert not any(doc.has_annotation("ENT_IOB") for doc in docs)
    assert [get_doc_lang(doc) for doc in docs] == ["de", "de"]


def test_spaces_between_tokens_except_for_ja_and_zh(tmp_path, vocab):
    path = write(tmp_path / "dev", "東\tB-LOC\n京\tI-LOC\n#\tO\n駅\tO\n")
    (zh_doc,) = read_conll_docs(path, vocab, "zh")
    (en_doc,) = read_conll_docs(path, vocab, "en")
    assert zh_doc.text == "東京#駅"
    assert en_doc.text == "東 京 # 駅"
    assert [token.text for token in zh_doc] == ["東", "京", "#", "駅"]
    assert ents(zh_doc) == [(0, 2, "LOC")]


def test_limit_keeps_the_first_sentences(tmp_path, vocab):
    text = "".join(f"w{i}\tO\n\n" for i in range(5))
    docs = read_conll_docs(write(tmp_path / "dev", text), vocab, "en", limit=2)
    assert [doc.text for doc in docs] == ["w0", "w1"]


@pytest.mark.parametrize(
    "text,line_number,problem",
    [
        ("Paris\tB-LOC\n\nLyon\tQ-PER\n", 3, "invalid tag 'Q-PER'"),
        ("Paris\tB-\n", 1, "invalid tag 'B-'"),
        (
            "Paris\tB-LOC\nLyon\tNNP\tB-LOC\n",
            2,
            "expected 2 column(s) as on line 1, found 3",
        ),
        ("Paris\tB-LOC\nLyon\n", 2, "expected 2 column(s) as on line 1, found 1"),
        ("Paris\tB-LOC\n\t\nLyon\tB-LOC\n", 2, "only whitespace"),
        ("Paris\tB-LOC\nLyon\t\n", 2, "empty column"),
    ],
)
def test_malformed_lines_name_file_and_line(
    tmp_path, vocab, text, line_number, problem
):
    path = write(tmp_path / "bad.tsv", text)
    with pytest.raises(ValueError) as excinfo:
        read_conll_docs(path, vocab, "en")
    message = str(excinfo.value)
    assert message.startswith(f"{path}:{line_number}: ")
    assert problem in message


def test_undecodable_bytes_name_file_and_line(tmp_path, vocab):
    path = tmp_path / "latin1.tsv"
    path.write_bytes("Paris\tB-LOC\nS\u00e3o\tB-LOC\n".encode("latin-1"))
    with pytest.raises(ValueError, match="UTF-8") as excinfo:
        read_conll_docs(path, vocab, "pt")
    assert str(excinfo.value).startswith(f"{path}:2: ")


@pytest.mark.parametrize("lang", ["EN", "english", "e", "", "en-US"])
def test_invalid_language_codes_are_rejected(tmp_path, vocab, lang):
    path = write(tmp_path / "dev", "a\tO\n")
    with pytest.raises(ValueError, match="Invalid language code"):
        read_conll_docs(path, vocab, lang)
    with pytest.raises(ValueError, match="Invalid language code"):
        set_doc_lang(spacy.blank("xx")("a"), lang)


def test_doc_language_lives_in_user_data():
    doc = spacy.blank("xx")("a b")
    assert get_doc_lang(doc) is None
    set_doc_lang(doc, "sw")
    assert doc.user_data[LANG_KEY] == "sw"
    assert get_doc_lang(doc) == "sw"


def test_convert_file_errors_name_the_input(tmp_path):
    missing = tmp_path / "missing.tsv"
    with pytest.raises(FileNotFoundError, match="missing.tsv"):
        convert_file(missing, tmp_path / "out.spacy", lang="en")
    empty = write(tmp_path / "empty.tsv", "\n-DOCSTART-\tO\n\n")
    with pytest.raises(ValueError, match="No sentences found in .*empty.tsv"):
        convert_file(empty, tmp_path / "out.spacy", lang="en")


def test_convert_file_keeps_entities_and_language(tmp_path):
    output = tmp_path / "nested" / "dir" / "de.spacy"
    n_docs = convert_file(
        write(tmp_path / "dev", IOB1 + "\nJa\tO\n"), output, lang="de"
    )
    assert n_docs == 2
    docs = list(DocBin().from_disk(output).get_docs(spacy.blank("xx").vocab))
    assert ents(docs[0]) == EXPECTED_SPANS
    assert [get_doc_lang(doc) for doc in docs] == ["de", "de"]


def make_language_files(tmp_path: Path) -> Path:
    corpus_dir = tmp_path / "corpus"
    for lang in ("de", "en"):
        text = "".join(f"{lang}{i}\tB-PER\nsays\tO\n\n" for i in range(10))
        convert_file(
            write(tmp_path / lang, text), corpus_dir / f"{lang}.spacy", lang=lang
        )
    return corpus_dir


def test_reader_takes_limit_per_file(tmp_path):
    corpus_dir = make_language_files(tmp_path)
    reader = create_labelled_corpus_reader(corpus_dir, limit=3)
    examples = list(reader(spacy.blank("xx")))
    assert [eg.reference[0].text for eg in examples] == [
        "de0",
        "de1",
        "de2",
        "en0",
        "en1",
        "en2",
    ]
    assert [get_doc_lang(eg.reference) for eg in examples] == ["de"] * 3 + ["en"] * 3
    assert [get_doc_lang(eg.predicted) for eg in examples] == ["de"] * 3 + ["en"] * 3
    assert all(ents(eg.reference) == [(0, 1, "PER")] for eg in examples)


def test_reader_keeps_language_of_one_token_docs(tmp_path):
    # One-token docs have a sentence start, which spaCy's gold_preproc splits on.
    path = tmp_path / "en.spacy"
    convert_file(
        write(tmp_path / "en", "LONDON\tB-LOC\n\nHi\tO\nthere\tO\n"), path, lang="en"
    )
    examples = create_labelled_corpus_reader(path)(spacy.blank("xx"))
    assert [get_doc_lang(eg.reference) for eg in examples] == ["en", "en"]
    assert [get_doc_lang(eg.predicted) for eg in examples] == ["en", "en"]
    assert ents(examples[0].reference) == [(0, 1, "LOC")]


def test_reader_accepts_comma_separated_paths(tmp_path):
    corpus_dir = make_language_files(tmp_path)
    path = f"{corpus_dir / 'en.spacy'},{corpus_dir / 'de.spacy'}"
    examples = list(
        create_labelled_corpus_reader(Path(path), limit=1)(spacy.blank("xx"))
    )
    assert [eg.reference.text for eg in examples] == ["en0 says", "de0 says"]


def test_reader_is_registered_and_keeps_reference_tokens(tmp_path):
    path = tmp_path / "zh.spacy"
    convert_file(
        write(tmp_path / "zh", "東\tB-LOC\n京\tI-LOC\n#\tO\n駅\tO\n"), path, lang="zh"
    )
    reader = spacy.registry.readers.get("spacy_mclner.LabelledCorpus.v1")(path=path)
    (example,) = reader(spacy.blank("xx"))
    assert [token.text for token in example.predicted] == ["東", "京", "#", "駅"]
    assert example.predicted.text == example.reference.text == "東京#駅"


def test_reader_shuffles_deterministically(tmp_path):
    corpus_dir = make_language_files(tmp_path)
    nlp = spacy.blank("xx")

    def epochs(seed: int) -> List[List[str]]:
        reader = create_labelled_corpus_reader(corpus_dir, shuffle=True, seed=seed)
        return [[eg.reference.text for eg in reader(nlp)] for _ in range(3)]

    first = epochs(seed=1)
    assert first == epochs(seed=1)
    assert first != epochs(seed=2)
    assert first[0] != first[1]
    assert sorted(first[0]) == sorted(first[1])
    in_order = [
        eg.reference.text for eg in create_labelled_corpus_reader(corpus_dir)(nlp)
    ]
    assert in_order == sorted(in_order)


def test_reader_errors_name_the_missing_path(tmp_path):
    missing = tmp_path / "nowhere.spacy"
    with pytest.raises(FileNotFoundError, match="nowhere.spacy"):
        create_labelled_corpus_reader(missing)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="No .spacy files"):
        create_labelled_corpus_reader(tmp_path / "empty")


def test_reader_names_file_and_doc_whose_spans_doc_ents_would_lose(tmp_path, vocab):
    """Overlapping spans: tests/test_bad_inputs.py. Here, entities only in doc.spans."""
    empty = Doc(vocab, words=[])
    labelled = Doc(vocab, words=["Paris"], ents=["B-LOC"])
    spans_only = Doc(vocab, words=["Rome", "."])
    spans_only.spans["gold"] = [Span(spans_only, 0, 1, "LOC")]
    labelled.spans["extra"] = [Span(labelled, 0, 1, "GPE")]  # fits in Doc.ents: not an error
    path = tmp_path / "spans.spacy"
    DocBin(docs=[empty, labelled, spans_only]).to_disk(path)
    with pytest.raises(ValueError, match=re.escape(f"{path}: doc 2 has no Doc.ents annotation") + ".*'gold'.*'Rome'"):
        create_labelled_corpus_reader(path)(spacy.blank("xx"))
    (example,) = create_labelled_corpus_reader(path, limit=1)(spacy.blank("xx"))
    assert ents(example.reference) == [(0, 1, "LOC")]


def test_reader_names_an_unreadable_file(tmp_path):
    path = write(tmp_path / "broken.spacy", "not a DocBin")
    with pytest.raises(ValueError, match=re.escape(f"{path} is not a readable .spacy file")):
        create_labelled_corpus_reader(path)(spacy.blank("xx"))


@pytest.mark.skipif(
    not (DATA_DIR / "conll2003" / "en" / "dev").exists(), reason="no shared data"
)
def test_reads_real_conll2003_english_dev(vocab):
    docs = read_conll_docs(DATA_DIR / "conll2003" / "en" / "dev", vocab, "en")
    assert len(docs) == 3250
    assert ents(docs[0]) == [(2, 3, "ORG")]
    assert {ent.label_ for doc in docs for ent in doc.ents} == {
        "LOC",
        "MISC",
        "ORG",
        "PER",
    }
