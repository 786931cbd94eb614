import json
from pathlib import Path
from typing import List, Sequence, Tuple

import pytest
import spacy
from hypothesis import given, settings
from hypothesis import strategies as st
from spacy.tokens import Doc, DocBin, Span
from typer.testing import CliRunner

from spacy_mclner.cli import app
from spacy_mclner.data.annotations import ALIGNMENT_KEY, SOURCE_INDEX_KEY, get_doc_lang, set_doc_lang
from spacy_mclner.data.codeswitch import codeswitch_docs, codeswitch_file
from spacy_mclner.data.dictionaries import BilingualDictionary, load_dictionary

VOCAB = spacy.blank("xx").vocab
GERMAN = BilingualDictionary(
    "de",
    {
        "Germany": ["Deutschland"],
        "New York": ["New York City"],
        "green": ["grün"],
        "visited": ["besuchte"],
        "the": ["die", "der", "das"],
        "in the morning": ["am Morgen"],
        "and": ["und"],
    },
)
SPANISH = BilingualDictionary("es", {"Germany": ["Alemania"], "visited": ["visitó"], "the": ["el", "la"]})
CHINESE = BilingualDictionary("zh", {"Germany": ["德国"], "New York": ["纽约"]})
DICTIONARIES = {"de": GERMAN, "es": SPANISH, "zh": CHINESE}

Ent = Tuple[int, int, str]


def make_doc(text: str, ents: Sequence[Ent] = (), annotated: bool = True) -> Doc:
    """A doc of whitespace tokens, with entities as (start, end, label) token spans."""
    words = text.split()
    doc = Doc(VOCAB, words=words, spaces=[True] * (len(words) - 1) + [False])
    if annotated:
        doc.set_ents([Span(doc, *ent) for ent in ents], default="outside")
    set_doc_lang(doc, "en")
    return doc


SOURCES = [
    make_doc("Peter visited New York and Germany .", [(0, 1, "PER"), (2, 4, "LOC"), (5, 6, "LOC")]),
    make_doc("Green visited the green park in the morning", [(0, 1, "PER")]),
    make_doc("GERMANY BEAT THE NETHERLANDS", [(0, 1, "LOC"), (3, 4, "LOC")]),
    make_doc("the weather was fine"),
]


def ents(doc: Doc) -> List[Tuple[str, str]]:
    return [(ent.text, ent.label_) for ent in doc.ents]


def summary(view: Doc) -> tuple:
    # DocBin gives the alignment back as tuples.
    alignment = [list(block) for block in view.user_data[ALIGNMENT_KEY]]
    return (view.text, ents(view), alignment, view.user_data[SOURCE_INDEX_KEY], get_doc_lang(view))


def check_alignment(source: Doc, view: Doc) -> None:
    """Blocks cover both docs in order; every view entity is a block whose source is a source entity."""
    blocks = view.user_data[ALIGNMENT_KEY]
    src_position = view_position = 0
    for src_start, src_end, view_start, view_end in blocks:
        assert (src_start, view_start) == (src_position, view_position)
        assert src_end > src_start and view_end > view_start
        src_position, view_position = src_end, view_end
    assert (src_position, view_position) == (len(source), len(view))
    by_view_span = {(block[2], block[3]): (block[0], block[1]) for block in blocks}
    source_ents = {(ent.start, ent.end): ent.label_ for ent in source.ents}
    for ent in view.ents:
        src_span = by_view_span.get((ent.start, ent.end))
        if src_span is None:  # a kept multi-token entity: one block per token
            src_span = (by_view_span[(ent.start, ent.start + 1)][0], by_view_span[(ent.end - 1, ent.end)][1])
        assert source_ents[src_span] == ent.label_
    assert len(view.ents) == len(source.ents)


@settings(max_examples=60, deadline=None)
@given(
    words=st.lists(
        st.sampled_from(["Germany", "New", "York", "visited", "the", "in", "morning", "Peter", ".", "green"]),
        min_size=1,
        max_size=12,
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=12), max_size=8),
    seed=st.integers(min_value=0, max_value=3),
    word_prob=st.sampled_from([0.0, 0.5, 1.0]),
)
def test_alignment_covers_both_docs_and_maps_entities_back(words, cuts, seed, word_prob):
    # Consecutive cut points delimit entities, leaving every third gap outside.
    bounds = sorted({cut for cut in cuts if cut <= len(words)})
    gaps = list(zip(bounds, bounds[1:]))
    spans = [(start, end, "LOC" if i % 2 else "ORG") for i, (start, end) in enumerate(gaps) if i % 3 != 2]
    source = make_doc(" ".join(words), spans)
    views, _ = codeswitch_docs(
        [source], DICTIONARIES, ["de", "zh"], seed=seed, n_views=2, word_prob=word_prob
    )
    for view in views:
        check_alignment(source, view)


def test_entities_are_switched_whole_and_keep_their_labels():
    views, _ = codeswitch_docs(SOURCES[:1], {"de": GERMAN}, ["de"], seed=0, word_prob=0.0)
    view = views[0]
    assert view.text == "Peter visited New York City and Deutschland ."
    assert ents(view) == [("Peter", "PER"), ("New York City", "LOC"), ("Deutschland", "LOC")]
    assert [token.ent_iob_ for token in view] == ["B", "O", "B", "I", "I", "O", "B", "O"]
    assert view.user_data[ALIGNMENT_KEY] == [
        [0, 1, 0, 1], [1, 2, 1, 2], [2, 4, 2, 5], [4, 5, 5, 6], [5, 6, 6, 7], [6, 7, 7, 8]
    ]


def test_names_keep_their_case_and_headlines_match_title_case():
    views, _ = codeswitch_docs(SOURCES[1:3], {"de": GERMAN}, ["de"], seed=0, word_prob=1.0)
    # "Green" the person is no colour; the other "green" is a word.
    words = [token.text for token in views[0]]
    assert words[:2] + words[3:] == ["Green", "besuchte", "grün", "park", "am", "Morgen"]
    assert words[2] in ("die", "der", "das")
    assert ents(views[0]) == [("Green", "PER")]
    # The longest phrase wins: "in the morning", not "the".
    assert views[0].user_data[ALIGNMENT_KEY][-1] == [5, 8, 5, 7]
    assert ents(views[1]) == [("Deutschland", "LOC"), ("NETHERLANDS", "LOC")]


def test_word_prob_zero_switches_entities_only_and_one_switches_every_known_phrase():
    views, coverage = codeswitch_docs(SOURCES, {"de": GERMAN}, ["de"], seed=0, word_prob=0.0)
    assert coverage["de"]["words_switched"] == 0
    assert views[3].text == "the weather was fine"
    views, coverage = codeswitch_docs(SOURCES, {"de": GERMAN}, ["de"], seed=0, word_prob=1.0)
    assert coverage["de"]["words_switched"] == coverage["de"]["words_translatable"] > 0
    assert views[3].text.split()[0] in ("die", "der", "das")


def test_coverage_counts_entities_and_words():
    _, coverage = codeswitch_docs(SOURCES, {"de": GERMAN}, ["de"], seed=0, n_views=2, word_prob=1.0)
    # Per view, entities: Peter, New York, Germany, Green, GERMANY, NETHERLANDS;
    # switched: New York, Germany, GERMANY. Words (translatable in capitals):
    # VISITED AND . | VISITED THE GREEN park IN THE MORNING | BEAT THE | THE weather was fine
    # ("." and "BEAT" are not: 10 of 16)
    assert coverage["de"] == {
        "sentences": 8,
        "entities": 12,
        "entities_switched": 6,
        "words": 32,
        "words_translatable": 20,
        "words_switched": 20,
        "entities_switched_share": 0.5,
        "words_translatable_share": 0.625,
        "words_switched_share": 0.625,
    }


def test_views_are_deterministic_for_a_seed_and_independent_of_order():
    def run(docs, langs, seed=7, n_views=2):
        """Map (source index, language, view index) to each view's summary."""
        views, _ = codeswitch_docs(docs, DICTIONARIES, langs, seed=seed, n_views=n_views, word_prob=0.5)
        return {
            (view.user_data[SOURCE_INDEX_KEY], get_doc_lang(view), i % n_views): summary(view)
            for i, view in enumerate(views)
        }

    reference = run(SOURCES, ["de", "es"])
    assert run(SOURCES, ["de", "es"]) == reference
    swapped = run(SOURCES, ["es", "de"])
    assert swapped == reference
    fewer_views = run(SOURCES, ["de"], n_views=1)
    assert all(reference[key] == value for key, value in fewer_views.items())
    fewer_docs = run(SOURCES[:2], ["de", "es"])
    assert all(reference[key] == value for key, value in fewer_docs.items())
    many = [make_doc("the the the the the the the the")] * 20
    assert run(many, ["de"], seed=1) != run(many, ["de"], seed=2)


def test_several_languages_come_source_by_source():
    views, coverage = codeswitch_docs(SOURCES[:2], DICTIONARIES, ["de", "es", "zh"], seed=0, n_views=2)
    assert [(view.user_data[SOURCE_INDEX_KEY], get_doc_lang(view)) for view in views] == [
        (index, lang) for index in range(2) for lang in ("de", "es", "zh") for _ in range(2)
    ]
    assert sorted(coverage) == ["de", "es", "zh"]
    assert ents(views[2])[2] == ("Alemania", "LOC")


def test_langs_per_doc_draws_languages_per_source_and_keeps_each_view():
    langs = ["de", "es", "zh"]
    many = [SOURCES[i % len(SOURCES)] for i in range(30)]
    every, _ = codeswitch_docs(many, DICTIONARIES, langs, seed=3, word_prob=0.5)
    drawn, coverage = codeswitch_docs(many, DICTIONARIES, langs, seed=3, word_prob=0.5, langs_per_doc=1)
    assert [view.user_data[SOURCE_INDEX_KEY] for view in drawn] == list(range(len(many)))
    assert {get_doc_lang(view) for view in drawn} == set(langs)
    assert sum(c["sentences"] for c in coverage.values()) == len(many)
    # A drawn view is the view the full run makes for its source and language.
    full = {(view.user_data[SOURCE_INDEX_KEY], get_doc_lang(view)): summary(view) for view in every}
    assert all(full[view.user_data[SOURCE_INDEX_KEY], get_doc_lang(view)] == summary(view) for view in drawn)
    reordered, _ = codeswitch_docs(many, DICTIONARIES, ["zh", "es", "de"], seed=3, word_prob=0.5, langs_per_doc=1)
    assert [summary(view) for view in reordered] == [summary(view) for view in drawn]
    other_seed, _ = codeswitch_docs(many, DICTIONARIES, langs, seed=4, word_prob=0.5, langs_per_doc=1)
    assert [get_doc_lang(view) for view in other_seed] != [get_doc_lang(view) for view in drawn]
    two, _ = codeswitch_docs(many, DICTIONARIES, langs, seed=3, langs_per_doc=2)
    assert len(two) == 2 * len(many)


def test_chinese_translations_are_split_into_characters():
    views, _ = codeswitch_docs(SOURCES[:1], {"zh": CHINESE}, ["zh"], seed=0, word_prob=1.0)
    view = views[0]
    assert view.text == "Peter visited 纽约 and 德国 ."
    assert [token.text for token in view][2:4] == ["纽", "约"]
    assert ents(view) == [("Peter", "PER"), ("纽约", "LOC"), ("德国", "LOC")]
    check_alignment(SOURCES[0], view)


def test_sentences_without_entities_still_give_valid_views():
    views, _ = codeswitch_docs(SOURCES[3:], {"de": GERMAN}, ["de"], seed=0, word_prob=1.0)
    assert views[0].has_annotation("ENT_IOB") and ents(views[0]) == []
    check_alignment(SOURCES[3], views[0])
    unlabelled = make_doc("the weather in the morning", annotated=False)
    views, _ = codeswitch_docs([unlabelled], {"de": GERMAN}, ["de"], seed=0, word_prob=1.0)
    assert not views[0].has_annotation("ENT_IOB")
    check_alignment(unlabelled, views[0])


@pytest.mark.parametrize(
    "dictionaries,langs,options,message",
    [
        ({"de": GERMAN}, ["fr"], {}, "No dictionary given for target language 'fr'"),
        ({"de": BilingualDictionary("de", {})}, ["de"], {}, "No dictionary entries for language 'de'"),
        ({"de": SPANISH}, ["de"], {}, "given for 'de' is an English-'es' dictionary"),
        ({"de": GERMAN}, ["de", "de"], {}, "'de' is given more than once"),
        ({"de": GERMAN}, [], {}, "No target languages"),
        ({"de": GERMAN}, ["de"], {"n_views": 0}, "n_views must be at least 1"),
        ({"de": GERMAN}, ["de"], {"word_prob": 1.5}, "word_prob must be between 0 and 1"),
        ({"de": GERMAN}, ["de"], {"langs_per_doc": 2}, "langs_per_doc must be between 0"),
    ],
)
def test_bad_arguments_are_named(dictionaries, langs, options, message):
    with pytest.raises(ValueError, match=message):
        codeswitch_docs(SOURCES, dictionaries, langs, seed=0, **options)


def test_cldr_names_switch_entities():
    dictionary = load_dictionary("de", freedict=False)
    source = make_doc("He flew to the United States", [(4, 6, "LOC")])
    views, _ = codeswitch_docs([source], {"de": dictionary}, ["de"], seed=0, word_prob=0.0)
    assert ents(views[0]) == [("Vereinigte Staaten", "LOC")]


def write_source(path: Path) -> Path:
    DocBin(docs=SOURCES, store_user_data=True).to_disk(path)
    return path


def write_pairs(path: Path, pairs: str) -> Path:
    path.write_text(pairs, encoding="utf8")
    return path


def test_codeswitch_file_writes_views_and_report(tmp_path):
    source = write_source(tmp_path / "en.spacy")
    pairs = {
        "de": [write_pairs(tmp_path / "de.txt", "Germany\tDeutschland\nvisited besuchte\n")],
        "es": [write_pairs(tmp_path / "es.txt", "Germany\tAlemania\n")],
    }
    options = dict(seed=3, n_views=2, word_prob=1.0)
    report = codeswitch_file(
        source, tmp_path / "out" / "cs.spacy", ["de", "es"], word_pair_paths=pairs, cldr=False,
        freedict_langs=[], limit=3, report_path=tmp_path / "report.json", **options,
    )
    assert json.loads((tmp_path / "report.json").read_text(encoding="utf8")) == report
    assert report["source_docs"] == 3 and report["dictionary_phrases"] == {"de": 2, "es": 1}
    assert report["coverage"]["de"]["entities_switched"] == 2 * 2
    views = list(DocBin().from_disk(tmp_path / "out" / "cs.spacy").get_docs(VOCAB))
    assert len(views) == 3 * 2 * 2
    assert ents(views[0]) == [("Peter", "PER"), ("New York", "LOC"), ("Deutschland", "LOC")]
    for view in views:
        check_alignment(SOURCES[view.user_data[SOURCE_INDEX_KEY]], view)
    # What went through the DocBin is what codeswitch_docs makes.
    dictionaries = {
        lang: load_dictionary(lang, word_pair_paths=paths, cldr=False, freedict=False)
        for lang, paths in pairs.items()
    }
    fresh, _ = codeswitch_docs(SOURCES[:3], dictionaries, ["de", "es"], **options)
    assert [summary(view) for view in views] == [summary(view) for view in fresh]


def test_codeswitch_file_errors_name_their_argument(tmp_path):
    pairs = {"fr": [write_pairs(tmp_path / "fr.txt", "house maison\n")]}
    with pytest.raises(ValueError, match="Word-pair files given for fr"):
        codeswitch_file(tmp_path / "en.spacy", tmp_path / "out.spacy", ["de"], word_pair_paths=pairs)
    with pytest.raises(FileNotFoundError, match="Source corpus not found: .*en.spacy"):
        codeswitch_file(tmp_path / "en.spacy", tmp_path / "out.spacy", ["de"])
    DocBin().to_disk(tmp_path / "empty.spacy")
    with pytest.raises(ValueError, match="No docs in .*empty.spacy"):
        codeswitch_file(tmp_path / "empty.spacy", tmp_path / "out.spacy", ["de"])


def test_cli_codeswitch(tmp_path):
    source = write_source(tmp_path / "en.spacy")
    pairs = write_pairs(tmp_path / "de.txt", "Germany\tDeutschland\n")
    output = tmp_path / "cs.spacy"
    args = ["codeswitch", str(source), str(output), "--langs", "de", "--dict", f"de={pairs}"]
    args += ["--no-cldr", "--freedict-langs", "none", "--report", str(tmp_path / "r.json")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "de\t4 views\tentities switched 33.3% of 6" in result.output
    assert output.is_file() and (tmp_path / "r.json").is_file()
    result = CliRunner().invoke(app, args[:5] + ["--dict", "de"])
    assert result.exit_code != 0 and "expected LANG=PATH" in result.output
