"""Command-line interface: `python -m spacy_mclner COMMAND`, one module per command.

Each module registers its command on the shared typer app; a command's heavy
imports happen when it runs, so that `--help` stays fast.
"""
from . import bench, codeswitch, convert, corpus, curves, encoder, evaluate, pseudo_label, report, self_train  # noqa: F401
from ._util import app

__all__ = ["app"]
