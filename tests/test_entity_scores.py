"""Every entity in `doc.ents` carries its score (`ent._.mclner_score`), the one `threshold` compares."""
from pathlib import Path

import spacy
from spacy.tokens import DocBin

SAVED = Path(__file__).parent / "fixtures" / "saved-pipeline"
TEXTS = ["Angela Merkel visited Paris .", "Barack Obama works for Google in New York .", "Merkel met Obama in New York ."]


def test_entities_carry_their_candidate_scores_through_a_docbin() -> None:
    nlp = spacy.load(SAVED)
    docs = list(nlp.pipe(TEXTS))
    assert sum(len(doc.ents) for doc in docs) > 0
    for doc in docs:
        group = doc.spans["mclner"]
        candidate = {(span.start, span.end, span.label_): float(score) for span, score in zip(group, group.attrs["scores"])}
        for ent in doc.ents:
            assert ent._.mclner_score == candidate[(ent.start, ent.end, ent.label_)]
    restored = list(DocBin(docs=docs, store_user_data=True).get_docs(nlp.vocab))
    assert [[ent._.mclner_score for ent in doc.ents] for doc in restored] == [[ent._.mclner_score for ent in doc.ents] for doc in docs]


def test_threshold_drops_entities_scored_below_it() -> None:
    nlp = spacy.load(SAVED)
    scores = sorted(ent._.mclner_score for doc in nlp.pipe(TEXTS) for ent in doc.ents)
    threshold = (scores[0] + scores[-1]) / 2
    assert scores[0] < threshold < scores[-1]
    strict = spacy.load(SAVED, config={"components": {"mclner": {"threshold": threshold}}})
    kept = [ent._.mclner_score for doc in strict.pipe(TEXTS) for ent in doc.ents]
    assert kept and all(score >= threshold for score in kept)
    assert len(kept) < len(scores)


def test_reannotating_a_doc_leaves_no_stale_score() -> None:
    nlp = spacy.load(SAVED)
    doc = nlp(TEXTS[0])
    assert doc.ents
    lost = doc.ents[0]
    doc.user_data[("._.", "mclner_score", 1000, 1001)] = 0.5  # as left by an entity the doc no longer has
    nlp.get_pipe("mclner")(doc)
    assert ("._.", "mclner_score", 1000, 1001) not in doc.user_data
    assert lost._.mclner_score is not None
