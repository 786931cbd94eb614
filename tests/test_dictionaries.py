import gzip
from pathlib import Path
from typing import List, Tuple

import pytest
import srsly

from spacy_mclner.data.dictionaries import (
    BilingualDictionary,
    has_cldr_names,
    load_cldr_names,
    load_dictionary,
    load_freedict,
    merge_dictionaries,
    read_word_pairs,
)
from spacy_mclner.util import CACHE_ENV


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf8")
    return path


def test_phrases_and_translations_are_stored_with_single_spaces():
    dictionary = BilingualDictionary("de", {" New  York ": ["New  York", "", "New York"]})
    assert dictionary.lookup("New York") == ("New York",)
    assert dictionary.lookup("New\tYork") == ("New York",)
    assert len(dictionary) == 1
    assert dictionary.max_words == 2


def test_lookup_matches_case_unless_told_otherwise():
    dictionary = BilingualDictionary("de", {"The": ["Den Haag"], "the": ["die"], "Monday": ["Montag"]})
    assert dictionary.lookup("the") == ("die",)
    assert dictionary.lookup("THE") == ()
    # Without case, a lowercase key wins over a capitalised one.
    assert dictionary.lookup("The", match_case=False) == ("die",)
    assert dictionary.lookup("MONDAY", match_case=False) == ("Montag",)
    assert dictionary.lookup("unknown", match_case=False) == ()


def test_word_pairs_take_tabs_or_spaces_and_several_translations(tmp_path):
    path = write(tmp_path / "en-de.txt", "house\tHaus\nhouse Gebäude\n\nNew York\tNew York City\n")
    dictionary = read_word_pairs(path, "de")
    assert dictionary.lang == "de"
    assert dictionary.lookup("house") == ("Haus", "Gebäude")
    assert dictionary.lookup("New York") == ("New York City",)


@pytest.mark.parametrize(
    "text,bad_line",
    [
        ("house Haus\nthree words here\n", 2),
        ("house Haus\ncat\tKatze\tchat\n", 2),
        ("house\tHaus\n\nlonely\n", 3),
        ("house\t\n", 1),
    ],
)
def test_word_pair_errors_name_file_and_line(tmp_path, text, bad_line):
    path = write(tmp_path / "pairs.txt", text)
    with pytest.raises(ValueError, match=rf"{path}:{bad_line}: expected 'english<TAB>translation'"):
        read_word_pairs(path, "de")


def test_word_pair_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        read_word_pairs(tmp_path / "missing.txt", "de")
    with pytest.raises(ValueError, match="No word pairs in .*empty.txt"):
        read_word_pairs(write(tmp_path / "empty.txt", "\n"), "de")
    undecodable = tmp_path / "latin1.txt"
    undecodable.write_bytes("house Haus\nmouse Maus\ncafé Café\n".encode("latin-1"))
    with pytest.raises(ValueError, match=rf"{undecodable}:3: not valid UTF-8"):
        read_word_pairs(undecodable, "de")


def test_cldr_names_from_babel():
    german = load_cldr_names("de")
    assert german.lookup("Germany") == ("Deutschland",)
    assert german.lookup("United States") == ("Vereinigte Staaten",)
    assert german.lookup("German") == ("Deutsch",)
    assert "德国" in load_cldr_names("zh").lookup("Germany")


def test_unknown_cldr_locale_names_the_language():
    assert not has_cldr_names("tl")
    with pytest.raises(ValueError, match="no locale for language 'tl'"):
        load_cldr_names("tl")


def dictd_base64(number: int) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    digits = ""
    while True:
        number, digit = divmod(number, 64)
        digits = alphabet[digit] + digits
        if not number:
            return digits


def write_dictd(directory: Path, name: str, entries: List[Tuple[List[str], str]]) -> None:
    """Write a dictd dictionary: each entry's text under one or more index headwords."""
    data = b""
    index_lines = []
    for headwords, text in entries:
        encoded = text.encode("utf8")
        for headword in headwords:
            index_lines.append(f"{headword}\t{dictd_base64(len(data))}\t{dictd_base64(len(encoded))}")
        data += encoded
    write(directory / f"{name}.index", "\n".join(sorted(index_lines)) + "\n")
    with gzip.open(directory / f"{name}.dict.dz", "wb") as file_:
        file_.write(data)


FREEDICT_ENTRIES = [
    (["00databaseinfo"], "00-database-info\nA test dictionary\n"),
    (["house"], "house /hˈaʊs/\nGeschlecht <neut>, Familie <fem>\n"),
    (
        ["house"],
        'house /hˈaʊs/\nHaus <neut>\n      "build a house"  - ein Haus bauen\n see: {houses}\n\n',
    ),
    (
        ["germany"],
        "Germany /dʒˈɜːməni/\nDeutschland <neut> [geogr.] DE,  /dˈə/\n         Note: Kfz:\n"
        " see: {East Germany}\n\n",
    ),
    (["united states", "us"], "United States /juːnˈaɪtɪd/ (US /jˌuːˈɛs/)\nVereinigte Staaten\n"),
    (["fool"], "fool /fˈuːl/\nDummkopf, Schwachkopf, Narr, Tor, Depp\n"),
    (["order"], "order /ˈɔːdə/\n1. Auftrag <masc>, Bestellung\n2. Ordnung <fem>\n"),
    (["government"], "government /ɡˈʌvənmənt/\nstaatlich, Staats… <adj> [pol.]\n"),
    (["mans bicycle"], "man's bicycle /mˈan/\nHerrenfahrrad <neut>\n"),
    (["that"], 'that /ðˈat/ <Det>\n1. jenes[Bestimmungs~wort].\n      "Get that pen."\n'),
    (["should"], "should /ʃˈʊd/ <V>\n1. sollte{tun}\n"),
    (["president"], "president /pɹˈɛzɪdənt/\n [Am.] Generaldirektor <masc> [adm.]\n"),
]


def test_freedict_entries_give_their_first_sense(tmp_path):
    write_dictd(tmp_path, "freedict-eng-deu", FREEDICT_ENTRIES)
    dictionary = load_freedict("de", tmp_path)
    # Of several entries, the one with usage examples is the main sense.
    assert dictionary.lookup("house") == ("Haus",)
    assert dictionary.lookup("Germany") == ("Deutschland",)
    assert dictionary.lookup("United States") == ("Vereinigte Staaten",)
    assert dictionary.lookup("fool") == ("Dummkopf", "Schwachkopf", "Narr")
    assert dictionary.lookup("order") == ("Auftrag", "Bestellung")
    assert dictionary.lookup("government") == ("staatlich",)
    assert dictionary.lookup("man's bicycle") == ("Herrenfahrrad",)
    assert dictionary.lookup("that") == ("jenes",)
    assert dictionary.lookup("should") == ("sollte",)
    assert dictionary.lookup("president") == ("Generaldirektor",)
    # Headwords come from the entries, not from the lowercased index.
    assert dictionary.lookup("us") == ()
    assert dictionary.lookup("00-database-info") == ()
    assert len(dictionary) == 10


def test_freedict_errors_name_the_path_and_package(tmp_path):
    hint = r"freedict-eng-spa.index; install it with 'apt-get install dict-freedict-eng-spa'"
    with pytest.raises(FileNotFoundError, match=hint):
        load_freedict("es", tmp_path)
    with pytest.raises(ValueError, match="no FreeDict English-'zh'"):
        load_freedict("zh", tmp_path)
    write_dictd(tmp_path, "freedict-eng-deu", FREEDICT_ENTRIES)
    index_path = tmp_path / "freedict-eng-deu.index"
    write(index_path, index_path.read_text(encoding="utf8") + "broken line\n")
    with pytest.raises(ValueError, match=rf"{index_path}:{len(FREEDICT_ENTRIES) + 2}: expected"):
        load_freedict("de", tmp_path)


@pytest.mark.parametrize("lang,word,translation", [("nl", "police", "politie"), ("es", "house", "casa")])
def test_debians_freedict(lang, word, translation, tmp_path_factory):
    """Debian's real dictionaries: the installed ones, else Debian's packages (380 KB for es and nl)."""
    from spacy_mclner.data.freedict_download import provide_freedict

    folder = tmp_path_factory.getbasetemp() / "freedict"
    provide_freedict([lang], folder)
    assert translation in load_freedict(lang, folder).lookup(word)


def test_merged_sources_keep_the_first_translation_of_a_phrase():
    first = BilingualDictionary("de", {"Germany": ["Deutschland"]})
    second = BilingualDictionary("de", {"Germany": ["BRD"], "house": ["Haus"]})
    merged = merge_dictionaries("de", [first, second])
    assert merged.lookup("Germany") == ("Deutschland",)
    assert merged.lookup("house") == ("Haus",)
    with pytest.raises(ValueError, match="English-'es' dictionary into English-'de'"):
        merge_dictionaries("de", [first, BilingualDictionary("es", {"house": ["casa"]})])


def test_a_language_without_entries_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="No dictionary entries for language 'de'"):
        merge_dictionaries("de", [BilingualDictionary("de", {})])
    with pytest.raises(ValueError, match="No dictionary entries for language 'de'"):
        load_dictionary("de", cldr=False, freedict=False)
    # Neither CLDR nor Debian's FreeDict has Tagalog.
    with pytest.raises(ValueError, match="No dictionary entries for language 'tl'"):
        load_dictionary("tl")


def test_load_dictionary_stacks_word_pairs_cldr_and_freedict(tmp_path):
    pairs = write(tmp_path / "en-de.txt", "Germany\tBundesrepublik\nhouse\tHütte\n")
    write_dictd(tmp_path, "freedict-eng-deu", FREEDICT_ENTRIES)
    dictionary = load_dictionary("de", word_pair_paths=[pairs], freedict_dir=tmp_path)
    assert dictionary.lookup("Germany") == ("Bundesrepublik",)
    assert dictionary.lookup("house") == ("Hütte",)
    assert dictionary.lookup("France") == ("Frankreich",)
    assert dictionary.lookup("fool") == ("Dummkopf", "Schwachkopf", "Narr")
    with pytest.raises(FileNotFoundError, match="apt-get install dict-freedict-eng-deu"):
        load_dictionary("de", freedict_dir=tmp_path / "elsewhere")
    tagalog = load_dictionary("tl", word_pair_paths=[write(tmp_path / "tl.txt", "house bahay\n")])
    assert tagalog.lookup("house") == ("bahay",)


def test_a_parsed_freedict_is_kept_until_its_files_change(tmp_path, monkeypatch):
    """The parse of eng-deu takes about 20 s: a second load reads the cache, an edited file parses again."""
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    write_dictd(tmp_path, "freedict-eng-deu", FREEDICT_ENTRIES)
    parsed = load_freedict("de", tmp_path)
    cached = list((tmp_path / "cache" / "freedict").iterdir())
    assert [path.suffix for path in cached] == [".json"]
    assert list(load_freedict("de", tmp_path).items()) == list(parsed.items())
    # what a load takes from the cache is the cache file's: an entry written there is found
    entries = srsly.read_json(cached[0])
    srsly.write_json(cached[0], {**entries, "cat": ["Katze"]})
    assert load_freedict("de", tmp_path).lookup("cat") == ("Katze",)

    write_dictd(tmp_path, "freedict-eng-deu", FREEDICT_ENTRIES[:3])
    assert load_freedict("de", tmp_path).lookup("Germany") == ()
    assert len(list((tmp_path / "cache" / "freedict").iterdir())) == 2
