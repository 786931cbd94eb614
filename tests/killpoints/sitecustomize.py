"""Test-only fault injection for tests/test_project.py: SIGKILL the workflow at a chosen point.

Python imports `sitecustomize` at start-up from any folder on PYTHONPATH. With MCLNER_KILL_IN and
MCLNER_KILL_AT set, the one process whose command line contains MCLNER_KILL_IN (say "spacy_mclner
codeswitch") kills its whole process group, the `weasel run all` above it included, at the point
MCLNER_KILL_AT names:

    unrenamed:NAME   a file or folder NAME is fully written to its `.partial` sibling, not renamed yet
    written:NAME     NAME has been written whole (spacy_mclner.util.written_whole)
    copied:NAME      a folder has been copied to a folder NAME (shutil.copytree): `spacy train` copies
                     each checkpoint from model-last to model-best, `spacy package` the pipeline

SIGKILL leaves no chance to clean up, as a killed machine or an out-of-memory kill would.
"""
import os
import signal
import sys
from contextlib import contextmanager
from pathlib import Path


def _kill() -> None:
    sys.stdout.flush()
    os.killpg(os.getpgid(0), signal.SIGKILL)


def _kill_in_written_whole(name: str, before_rename: bool) -> None:
    from spacy_mclner import util

    write = util.written_whole

    @contextmanager
    def written_whole(path, **kwargs):
        with write(path, **kwargs) as partial:
            yield partial
            if before_rename and Path(path).name == name:
                _kill()
        if Path(path).name == name:
            _kill()

    util.written_whole = written_whole  # write_docbin and write_json look it up when called


def _kill_after_copy(name: str) -> None:
    import shutil

    copy = shutil.copytree

    def copytree(source, destination, *args, **kwargs):
        result = copy(source, destination, *args, **kwargs)
        if Path(destination).name == name:
            _kill()
        return result

    shutil.copytree = copytree


def _install(point: str) -> None:
    kind, _, name = point.partition(":")
    if kind in ("unrenamed", "written"):
        _kill_in_written_whole(name, before_rename=kind == "unrenamed")
    elif kind == "copied":
        _kill_after_copy(name)
    else:
        raise ValueError(f"MCLNER_KILL_AT: unknown point {point!r}")


if os.environ.get("MCLNER_KILL_AT") and os.environ.get("MCLNER_KILL_IN", "\0") in " ".join(sys.orig_argv):
    _install(os.environ["MCLNER_KILL_AT"])
