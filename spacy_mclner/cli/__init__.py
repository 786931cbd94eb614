"""Command-line interface: `python -m spacy_mclner COMMAND`, one module per command.

Each module registers its command on the shared typer app; a command's heavy
imports happen when it runs, so that `--help` stays fast.
"""
from . import (  # noqa: F401
    annotate,
    bench,
    codeswitch,
    convert,
    corpus,
    curves,
    dictionaries,
    encoder,
    evaluate,
    footprint,
    pseudo_label,
    report,
    self_train,
    trim,
)
from ._util import app

__all__ = ["app"]
