"""English-to-target bilingual dictionaries for making code-switched corpora.

Three sources work offline: word-pair files in the MUSE format, the country
and language names of CLDR (through babel), and Debian's FreeDict
dictionaries. Each loads into a BilingualDictionary; load_dictionary stacks the
sources of one language in priority order.
"""

import gzip
import hashlib
import re
from functools import cached_property
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Mapping, Sequence, Tuple, Union

import srsly

from ..util import cache_dir, numbered_lines, written_whole

FREEDICT_DIR = Path("/usr/share/dictd")
# ISO 639-1 codes of the languages that Debian packages an English-X FreeDict
# dictionary for, with the ISO 639-3 code in its file and package names.
FREEDICT_CODES = {
    "af": "afr", "ar": "ara", "bg": "bul", "cs": "ces", "cy": "cym",
    "da": "dan", "de": "deu", "el": "ell", "es": "spa", "fi": "fin",
    "fr": "fra", "ga": "gle", "hi": "hin", "hr": "hrv", "hu": "hun",
    "id": "ind", "it": "ita", "ja": "jpn", "la": "lat", "lt": "lit",
    "nl": "nld", "no": "nor", "pl": "pol", "pt": "por", "ru": "rus",
    "sr": "srp", "sv": "swe", "sw": "swh", "tr": "tur",
}

_DICTD_BASE64 = {
    char: value
    for value, char in enumerate(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    )
}
_BASE64_NUMBER = re.compile(r"[A-Za-z0-9+/]+")
# FreeDict entry lines that are no translations: usage notes, cross-references
# ("see:", "Synonyms:", "Note:") and quoted usage examples.
_FREEDICT_NOTE = re.compile(r'\s*(?:[A-Za-z]+:\s|")')
_SENSE_NUMBER = re.compile(r"\s*\d+\.\s*")
_BRACKETED = re.compile(r"\[[^\]]*\]|\([^)]*\)|\{[^}]*\}|/[^/]*/")
_GRAMMAR_TAG = re.compile(r"<[^>]*>")
_ALTERNATIVE_SEPARATOR = re.compile(r"[,;،]")
# Long synonym lists (eng-deu "fool" has 30) run from the common word to rare
# and regional ones; the first few are the safe ones.
MAX_FREEDICT_ALTERNATIVES = 3

Translations = Tuple[str, ...]


class BilingualDictionary:
    """Phrases of English with their candidate translations into one language.

    Phrases are matched token by token, so keys and translations are stored
    with single spaces between words. Lookups match case exactly unless told
    otherwise: an entity "Green" is a name, not the colour. Without case, a
    lowercase key wins: sentence-initial "The" is the article "the", not a
    capitalised headword such as the broken "The" (The Hague) of eng-spa.
    """

    def __init__(self, lang: str, entries: Mapping[str, Iterable[str]]) -> None:
        clean: Dict[str, Translations] = {}
        for phrase, translations in entries.items():
            key = _normalize_space(phrase)
            cleaned = (_normalize_space(text) for text in translations)
            merged = clean.get(key, ()) + tuple(t for t in cleaned if t)
            if key and merged:
                clean[key] = tuple(dict.fromkeys(merged))
        self.lang = lang
        self._entries = clean

    @classmethod
    def from_clean(cls, lang: str, entries: Dict[str, Translations]) -> "BilingualDictionary":
        """A dictionary of entries that are clean already, as another one's `items` are: cleaning
        FreeDict's 460,000 English-German headwords again takes seconds."""
        dictionary = cls.__new__(cls)
        dictionary.lang = lang
        dictionary._entries = entries
        return dictionary

    @cached_property
    def max_words(self) -> int:
        """The most words of any phrase: the longest span worth looking up."""
        return max((key.count(" ") + 1 for key in self._entries), default=0)

    @cached_property
    def _folded(self) -> Dict[str, Translations]:
        """Lowercased phrases, built on the first lookup without case: a dictionary only merged
        into another never needs them."""
        folded: Dict[str, Translations] = {}
        for key, translations in self._entries.items():
            if key == key.lower() or key.lower() not in folded:
                folded[key.lower()] = translations
        return folded

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"<BilingualDictionary en-{self.lang}: {len(self)} phrases>"

    def items(self) -> Iterator[Tuple[str, Translations]]:
        return iter(self._entries.items())

    def lookup(self, phrase: str, *, match_case: bool = True) -> Translations:
        """Return the translations of a phrase, best first; () when unknown."""
        phrase = _normalize_space(phrase)
        if match_case:
            return self._entries.get(phrase, ())
        return self._folded.get(phrase.lower(), ())


def _normalize_space(text: str) -> str:
    return " ".join(text.split())


def read_word_pairs(path: Union[str, Path], lang: str) -> BilingualDictionary:
    """Read a MUSE word-pair file: one "english<TAB>target" pair a line.

    Lines without a tab split on whitespace, as MUSE's own files do, and must
    then hold exactly two words; a tab allows phrases on both sides. A source
    word may come on several lines, one per translation.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Word-pair file not found: {path}")
    entries: Dict[str, List[str]] = {}
    for line_number, line in numbered_lines(path):
        line = line.strip()
        if not line:
            continue
        fields = [field.strip() for field in line.split("\t")] if "\t" in line else line.split()
        if len(fields) != 2 or not all(fields):
            raise ValueError(
                f"{path}:{line_number}: expected 'english<TAB>translation' (or two "
                f"space-separated words), found {line!r}"
            )
        entries.setdefault(fields[0], []).append(fields[1])
    if not entries:
        raise ValueError(f"No word pairs in {path}")
    return BilingualDictionary(lang, entries)


def has_cldr_names(lang: str) -> bool:
    """Whether babel's CLDR data has a locale for lang itself.

    Aliases do not count: babel would take "tl" to Filipino, whose CLDR
    names are mostly the English ones.
    """
    from babel import localedata

    return lang in localedata.locale_identifiers()


def load_cldr_names(lang: str) -> BilingualDictionary:
    """Country/territory and language names from CLDR, English to lang.

    Names are what entity phrases most often are in news and Wikipedia text,
    and CLDR has them for nearly all PAN-X languages (not Tagalog, "tl").
    """
    from babel import Locale

    if not has_cldr_names(lang):
        raise ValueError(f"CLDR (babel) has no locale for language {lang!r}")
    target = Locale(lang)
    english = Locale("en")
    entries: Dict[str, List[str]] = {}
    for english_names, target_names in (
        (english.territories, target.territories),
        (english.languages, target.languages),
    ):
        for code, name in english_names.items():
            if code in target_names:
                entries.setdefault(name, []).append(target_names[code])
    return BilingualDictionary(lang, entries)


def freedict_paths(lang: str, directory: Path = FREEDICT_DIR) -> Tuple[Path, Path, str]:
    """The index and data files of the English-lang FreeDict, and its Debian package."""
    if lang not in FREEDICT_CODES:
        raise ValueError(
            f"Debian has no FreeDict English-{lang!r} dictionary; languages with "
            f"one: {', '.join(sorted(FREEDICT_CODES))}"
        )
    name = f"freedict-eng-{FREEDICT_CODES[lang]}"
    return Path(directory) / f"{name}.index", Path(directory) / f"{name}.dict.dz", f"dict-{name}"


def load_freedict(lang: str, directory: Path = FREEDICT_DIR) -> BilingualDictionary:
    """Read an English-lang FreeDict dictionary in dictd format.

    The .index file lists "headword<TAB>offset<TAB>length" with dictd's
    base64 numbers; they point into the gzip'd .dict.dz text. The index
    headwords are lowercased and stripped of punctuation, so the headword is
    taken from the entry's first line instead. Each entry contributes the
    first alternatives of its first sense. Where a headword has several
    entries (eng-deu lists them sorted by their German translation), the one
    with the most usage examples is taken as its main sense.
    """
    index_path, data_path, package = freedict_paths(lang, directory)
    for path in (index_path, data_path):
        if not path.is_file():
            raise FileNotFoundError(
                f"FreeDict file not found: {path}; install it with "
                f"'apt-get install {package}', or fetch it without root into a folder with "
                f"'python -m spacy_mclner dictionaries FOLDER --langs {lang}' and pass that folder as the FreeDict folder"
            )
    # Parsing eng-deu (460,000 entries) takes about 20 s; its clean entries are kept in the cache, named
    # by the hash of both files and of this parser's source, so an edited file or parser parses again.
    digest = hashlib.sha256(Path(__file__).read_bytes())
    for path in (index_path, data_path):
        digest.update(path.read_bytes())
    cached = cache_dir() / "freedict" / f"{index_path.stem}-{digest.hexdigest()[:16]}.json"
    if cached.is_file():
        entries = {phrase: tuple(translations) for phrase, translations in srsly.read_json(cached).items()}
        return BilingualDictionary.from_clean(lang, entries)
    dictionary = BilingualDictionary(lang, _parse_freedict(index_path, data_path))
    with written_whole(cached) as partial:
        srsly.write_json(partial, dict(dictionary.items()))
    return dictionary


def _parse_freedict(index_path: Path, data_path: Path) -> Dict[str, List[str]]:
    """The translations of each headword, from its entry with the most usage examples."""
    with gzip.open(data_path) as file_:
        data = file_.read()
    best: Dict[str, Tuple[int, List[str]]] = {}
    for offset, length in _read_dictd_index(index_path):
        text = data[offset : offset + length].decode("utf8")
        headword, translations, n_examples = _parse_freedict_entry(text)
        if translations and (headword not in best or n_examples > best[headword][0]):
            best[headword] = (n_examples, translations)
    return {word: entry[1] for word, entry in best.items()}


def _read_dictd_index(path: Path) -> List[Tuple[int, int]]:
    """Return the (offset, length) of each entry once, in the data's order.

    Several index lines point at one entry (its abbreviations, for example);
    the "00database..." lines point at the dictionary's own description.
    """
    spans = set()
    with path.open(encoding="utf8") as file_:
        for line_number, line in enumerate(file_, start=1):
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 3 or not all(_BASE64_NUMBER.fullmatch(field) for field in fields[1:]):
                raise ValueError(
                    f"{path}:{line_number}: expected 'headword<TAB>offset<TAB>length' "
                    f"with base64 numbers, found {line.rstrip()!r}"
                )
            if not fields[0].startswith("00database"):
                spans.add((_decode_base64(fields[1]), _decode_base64(fields[2])))
    return sorted(spans)


def _decode_base64(digits: str) -> int:
    value = 0
    for char in digits:
        value = value * 64 + _DICTD_BASE64[char]
    return value


def _parse_freedict_entry(text: str) -> Tuple[str, List[str], int]:
    """Return an entry's headword, the translations of its first sense and its example count.

    An entry reads "headword /pronunciation/ (abbreviation /.../)", then
    sense lines such as "1. Haus <neut>, Gebäude <neut> [archit.]", quoted
    examples and notes. Grammar tags (<neut>) end a translation; labels in
    brackets are dropped, and so are stray punctuation marks; "~" joins the
    words of Hindi phrases; fragments such as "Staats…" are no translations.
    """
    head, _, body = text.partition("\n")
    headword = _GRAMMAR_TAG.sub("", head.split(" /", 1)[0]).strip()
    lines = body.split("\n")
    n_examples = sum(1 for line in lines if line.lstrip().startswith('"'))
    sense = next((line for line in lines if line.strip() and not _FREEDICT_NOTE.match(line)), "")
    sense = _BRACKETED.sub(" ", _SENSE_NUMBER.sub("", sense, count=1))
    translations = []
    for alternative in _ALTERNATIVE_SEPARATOR.split(_GRAMMAR_TAG.sub("<", sense)):
        words = alternative.split("<", 1)[0].replace("~", " ").split()
        translation = " ".join(word for word in words if any(char.isalnum() for char in word))
        if translation and "…" not in translation and "..." not in translation:
            translations.append(translation)
    return headword, translations[:MAX_FREEDICT_ALTERNATIVES], n_examples


def merge_dictionaries(lang: str, sources: Sequence[BilingualDictionary]) -> BilingualDictionary:
    """Stack dictionaries: a phrase takes its translations from the first source that has it."""
    entries: Dict[str, Translations] = {}
    for source in sources:
        if source.lang != lang:
            raise ValueError(f"Cannot merge an English-{source.lang!r} dictionary into English-{lang!r}")
        for phrase, translations in source.items():
            entries.setdefault(phrase, translations)
    merged = BilingualDictionary.from_clean(lang, entries)
    check_not_empty(merged)
    return merged


def check_not_empty(dictionary: BilingualDictionary) -> None:
    """Refuse an empty dictionary: its views would be silent copies of the source."""
    if not len(dictionary):
        raise ValueError(
            f"No dictionary entries for language {dictionary.lang!r}: give a "
            "word-pair file for it or enable a source that covers it"
        )


def load_dictionary(
    lang: str,
    *,
    word_pair_paths: Sequence[Union[str, Path]] = (),
    cldr: bool = True,
    freedict: bool = True,
    freedict_dir: Path = FREEDICT_DIR,
) -> BilingualDictionary:
    """Build the dictionary of one language from all its sources, in priority order.

    Word-pair files come first (in the order given), since they are the
    user's explicit choice; then CLDR names, which are curated; then FreeDict.
    CLDR and FreeDict are used where they have the language (FreeDict: where
    Debian packages it, and then its files must be installed).
    """
    sources = [read_word_pairs(path, lang) for path in word_pair_paths]
    if cldr and has_cldr_names(lang):
        sources.append(load_cldr_names(lang))
    if freedict and lang in FREEDICT_CODES:
        sources.append(load_freedict(lang, freedict_dir))
    return merge_dictionaries(lang, sources)
