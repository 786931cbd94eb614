"""Long steps show progress on a terminal and stay quiet elsewhere."""
import io
import sys

import pytest

from spacy_mclner.util import progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_shows_done_rate_and_time_left_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert list(progress(range(50), desc="codeswitch", unit="sent")) == list(range(50))
    out = terminal.getvalue()
    assert "codeswitch" in out and "50/50" in out and "sent/s" in out and "<" in out  # tqdm's elapsed<left


def test_progress_is_silent_when_stderr_is_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    pipe = io.StringIO()
    monkeypatch.setattr(sys, "stderr", pipe)
    bar = progress(total=10, desc="pseudo-label")
    bar.update(10)
    bar.close()
    assert pipe.getvalue() == ""
