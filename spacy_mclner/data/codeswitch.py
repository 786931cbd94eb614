"""Code-switched views of a labelled English corpus (MCL-NER's second view).

A view of a sentence replaces its entity phrases, and at random some of its
other words, by translations from a bilingual dictionary. Entity labels move
with the replaced spans, and a phrase alignment ties each view back to its
source sentence, so that the two can be contrasted token by token. With
word_prob=1 every translatable phrase is replaced: word-by-word translation.
"""

import random
import warnings
from dataclasses import asdict, dataclass
from itertools import islice
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, NamedTuple, Optional, Sequence, Tuple, Union

from spacy.tokens import Doc, DocBin, Span

from ..util import blank_vocab, progress, write_docbin, write_json
from .annotations import ALIGNMENT_KEY, SOURCE_INDEX_KEY, set_doc_lang
from .corpus import UNSPACED_LANGS
from .dictionaries import FREEDICT_CODES, FREEDICT_DIR, BilingualDictionary, check_not_empty, load_dictionary

DEFAULT_WORD_PROB = 0.3


class _Segment(NamedTuple):
    """Source tokens [start, end) that are switched or kept as a whole."""

    start: int
    end: int
    label: Optional[str]  # the entity label; None outside entities
    translations: Tuple[str, ...]


@dataclass
class Coverage:
    """What one language's dictionary switched, counted over its views.

    Words are the tokens outside entities, punctuation included: "translatable"
    ones had a dictionary phrase, "switched" ones were replaced.
    """

    sentences: int = 0
    entities: int = 0
    entities_switched: int = 0
    words: int = 0
    words_translatable: int = 0
    words_switched: int = 0

    def add(self, segments: Sequence[_Segment], switched: Sequence[bool]) -> None:
        self.sentences += 1
        for segment, is_switched in zip(segments, switched):
            n_tokens = segment.end - segment.start
            if segment.label is None:
                self.words += n_tokens
                self.words_translatable += n_tokens if segment.translations else 0
                self.words_switched += n_tokens if is_switched else 0
            else:
                self.entities += 1
                self.entities_switched += is_switched

    def to_dict(self) -> Dict[str, float]:
        report: Dict[str, float] = asdict(self)
        report["entities_switched_share"] = _share(self.entities_switched, self.entities)
        report["words_translatable_share"] = _share(self.words_translatable, self.words)
        report["words_switched_share"] = _share(self.words_switched, self.words)
        return report


def _share(part: int, whole: int) -> float:
    """part / whole to 4 places, which JSON keeps as it is; 0 for nothing."""
    return round(part / whole, 4) if whole else 0.0


def codeswitch_docs(
    docs: Sequence[Doc],
    dictionaries: Mapping[str, BilingualDictionary],
    langs: Sequence[str],
    *,
    seed: int,
    n_views: int = 1,
    word_prob: float = DEFAULT_WORD_PROB,
    langs_per_doc: int = 0,
) -> Tuple[List[Doc], Dict[str, Dict[str, float]]]:
    """Make n_views code-switched views of every doc for every language.

    langs_per_doc > 0 draws that many of the languages for each doc instead
    (seeded by seed and source index), so a corpus can cover many target
    languages while each source sentence brings the few views a training
    batch can afford: every view is one more grid in the update.

    An entity is replaced whenever the dictionary has its whole phrase; names
    are not translated word by word ("Green" the person is no colour). Other
    tokens are matched greedily against the longest dictionary phrase, and
    each match is replaced with probability word_prob. A phrase with several
    translations gets a random one, so that views differ.

    Views come source by source, then language, then view index. Each view
    draws from its own generator, seeded by (seed, source index, language,
    view index), so a view does not depend on what else the run makes.
    Each view records its language, the index of its source doc and the
    alignment blocks [src_start, src_end, view_start, view_end] in user_data.

    RETURNS: the views, and the coverage of each language (Coverage.to_dict).
    """
    _check_settings(langs, n_views, word_prob, langs_per_doc)
    for lang in langs:
        if lang not in dictionaries:
            raise ValueError(f"No dictionary given for target language {lang!r}")
        if dictionaries[lang].lang != lang:
            raise ValueError(
                f"The dictionary given for {lang!r} is an English-"
                f"{dictionaries[lang].lang!r} dictionary"
            )
        check_not_empty(dictionaries[lang])
    coverage = {lang: Coverage() for lang in langs}
    views = []
    for source_index, doc in enumerate(progress(docs, desc="codeswitch", unit="sent")):
        for lang in _doc_langs(langs, langs_per_doc, seed, source_index):
            segments = _segment(doc, dictionaries[lang])
            for view_index in range(n_views):
                rng = random.Random(f"{seed}:{source_index}:{lang}:{view_index}")
                view, switched = _make_view(doc, segments, lang, rng, word_prob)
                view.user_data[SOURCE_INDEX_KEY] = source_index
                views.append(view)
                coverage[lang].add(segments, switched)
    return views, {lang: lang_coverage.to_dict() for lang, lang_coverage in coverage.items()}


def _doc_langs(langs: Sequence[str], langs_per_doc: int, seed: int, source_index: int) -> List[str]:
    """The languages one source doc gets views in, in the order of langs.

    The draw does not depend on the order the languages were given in.
    """
    if not langs_per_doc:
        return list(langs)
    drawn = set(random.Random(f"{seed}:{source_index}:langs").sample(sorted(langs), langs_per_doc))
    return [lang for lang in langs if lang in drawn]


def _check_settings(langs: Sequence[str], n_views: int, word_prob: float, langs_per_doc: int = 0) -> None:
    if isinstance(langs, str):
        raise TypeError(f"langs must be a list of language codes, not the string {langs!r}")
    if not langs:
        raise ValueError("No target languages given")
    for lang in langs:
        if list(langs).count(lang) > 1:
            raise ValueError(f"Target language {lang!r} is given more than once")
    if n_views < 1:
        raise ValueError(f"n_views must be at least 1, got {n_views}")
    if not 0.0 <= word_prob <= 1.0:
        raise ValueError(f"word_prob must be between 0 and 1, got {word_prob}")
    if not 0 <= langs_per_doc <= len(langs):
        raise ValueError(
            f"langs_per_doc must be between 0 (every language) and the {len(langs)} target languages, got {langs_per_doc}"
        )


def _segment(doc: Doc, dictionary: BilingualDictionary) -> List[_Segment]:
    """Split a doc into its entities and the dictionary phrases between them."""
    segments = []
    position = 0
    for ent in doc.ents:
        segments.extend(_word_segments(doc, position, ent.start, dictionary))
        phrase = _phrase(doc, ent.start, ent.end)
        translations = dictionary.lookup(phrase)
        # CoNLL headlines are in capitals: "JAPAN" is the name "Japan".
        if not translations and phrase.isupper():
            translations = dictionary.lookup(phrase.title())
        segments.append(_Segment(ent.start, ent.end, ent.label_, translations))
        position = ent.end
    segments.extend(_word_segments(doc, position, len(doc), dictionary))
    return segments


def _word_segments(
    doc: Doc, start: int, end: int, dictionary: BilingualDictionary
) -> Iterator[_Segment]:
    """Cover tokens [start, end) with the longest phrases the dictionary has.

    Case is ignored, since words outside entities are capitalised only at the
    start of a sentence or in headlines. Unknown tokens are single segments.
    """
    position = start
    while position < end:
        length, translations = 1, ()
        for n_tokens in range(min(dictionary.max_words, end - position), 0, -1):
            found = dictionary.lookup(_phrase(doc, position, position + n_tokens), match_case=False)
            if found:
                length, translations = n_tokens, found
                break
        yield _Segment(position, position + length, None, translations)
        position += length


def _phrase(doc: Doc, start: int, end: int) -> str:
    return " ".join(token.text for token in doc[start:end])


def _make_view(
    doc: Doc,
    segments: Sequence[_Segment],
    lang: str,
    rng: random.Random,
    word_prob: float,
) -> Tuple[Doc, List[bool]]:
    """Build one view of doc; also return which segments were switched.

    Kept tokens align one to one; a switched phrase aligns as one block.
    """
    words: List[str] = []
    spaces: List[bool] = []
    alignment: List[List[int]] = []
    ents: List[Tuple[int, int, str]] = []
    switched: List[bool] = []
    for segment in segments:
        is_switched = bool(segment.translations) and (
            segment.label is not None or rng.random() < word_prob
        )
        view_start = len(words)
        if is_switched:
            new_words = _tokenize(rng.choice(segment.translations), lang)
            words.extend(new_words)
            spaces.extend([lang not in UNSPACED_LANGS] * (len(new_words) - 1))
            spaces.append(bool(doc[segment.end - 1].whitespace_))
            alignment.append([segment.start, segment.end, view_start, len(words)])
        else:
            for token in doc[segment.start : segment.end]:
                alignment.append([token.i, token.i + 1, len(words), len(words) + 1])
                words.append(token.text)
                spaces.append(bool(token.whitespace_))
        if segment.label is not None:
            ents.append((view_start, len(words), segment.label))
        switched.append(is_switched)
    view = Doc(doc.vocab, words=words, spaces=spaces)
    if doc.has_annotation("ENT_IOB"):
        view.set_ents([Span(view, *ent) for ent in ents], default="outside")
    set_doc_lang(view, lang)
    view.user_data[ALIGNMENT_KEY] = alignment
    return view, switched


def _tokenize(translation: str, lang: str) -> List[str]:
    """Split a translation into tokens the way the target's benchmark data is.

    PAN-X ja and zh come one character a token; other languages split on
    whitespace.
    """
    words = translation.split()
    if lang in UNSPACED_LANGS:
        return list("".join(words))
    return words


def codeswitch_file(
    source: Union[str, Path],
    output: Union[str, Path],
    langs: Sequence[str],
    *,
    seed: int = 0,
    n_views: int = 1,
    word_prob: float = DEFAULT_WORD_PROB,
    word_pair_paths: Optional[Mapping[str, Sequence[Path]]] = None,
    cldr: bool = True,
    freedict_langs: Optional[Sequence[str]] = None,
    freedict_dir: Path = FREEDICT_DIR,
    limit: int = 0,
    report_path: Optional[Path] = None,
    langs_per_doc: int = 0,
) -> Dict[str, Any]:
    """Write the code-switched views of a .spacy corpus to output.

    word_pair_paths maps a language to its MUSE word-pair files; cldr switches
    CLDR names on where they cover the language, freedict_langs names the
    languages that read Debian's FreeDict from freedict_dir (None: every one
    Debian has; see dictionaries.load_dictionary). A language left without the
    FreeDict Debian has for it is warned about: its views switch far fewer words.
    limit keeps the first N source docs.

    RETURNS: the report, also written to report_path as JSON when given: the
        settings, each language's dictionary size and its coverage.
    """
    source = Path(source)
    output = Path(output)
    word_pair_paths = dict(word_pair_paths or {})
    _check_settings(langs, n_views, word_prob, langs_per_doc)
    stray = sorted(set(word_pair_paths) - set(langs))
    if stray:
        raise ValueError(
            f"Word-pair files given for {', '.join(stray)}, which is not among "
            f"the target languages ({', '.join(langs)})"
        )
    if not source.is_file():
        raise FileNotFoundError(f"Source corpus not found: {source}")
    without = [lang for lang in langs if lang in FREEDICT_CODES and freedict_langs is not None and lang not in freedict_langs]
    if without:
        warnings.warn(
            f"Views in {', '.join(without)} are made without the FreeDict dictionary Debian has for them: "
            "CLDR names (and word-pair files) only, so far fewer words and entities are switched; the "
            "coverage report says how many. Provide them with `python -m spacy_mclner dictionaries`.",
            UserWarning,
        )
    doc_bin = DocBin().from_disk(source)
    docs = list(islice(doc_bin.get_docs(blank_vocab()), limit or None))
    if not docs:
        raise ValueError(f"No docs in {source}")
    dictionaries = {
        lang: load_dictionary(
            lang,
            word_pair_paths=word_pair_paths.get(lang, ()),
            cldr=cldr,
            freedict=freedict_langs is None or lang in freedict_langs,
            freedict_dir=freedict_dir,
        )
        for lang in langs
    }
    views, coverage = codeswitch_docs(
        docs, dictionaries, langs, seed=seed, n_views=n_views, word_prob=word_prob, langs_per_doc=langs_per_doc
    )
    write_docbin(views, output)
    report = {
        "source": str(source),
        "source_docs": len(docs),
        "seed": seed,
        "n_views": n_views,
        "langs_per_doc": langs_per_doc,
        "word_prob": word_prob,
        "dictionary_phrases": {lang: len(dictionaries[lang]) for lang in langs},
        "coverage": coverage,
    }
    if report_path is not None:
        write_json(report_path, report)
    return report
