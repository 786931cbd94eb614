"""spacy-mclner: zero-shot cross-lingual NER for spaCy (MCL-NER, Mo et al. 2024)."""

__version__ = "0.1.0"
