"""`emulation/progress.py`: a tqdm bar in a terminal; elsewhere a plain line every few seconds and one at the end,
never a carriage return (a `make demo > log` must not hold a 30 KB line)."""

from __future__ import annotations

import io
import os
import pty
from collections.abc import Callable

import pytest

from emulation import progress as progress_module
from emulation.batch import run_batch
from emulation.config import Config
from emulation.progress import LineProgress, progress

from .conftest import FakeApi


def test_not_a_terminal_prints_lines_every_interval_and_at_the_end(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: clock[0])
    out = io.StringIO()
    with progress(1000, "stream (fast)", file=out, interval=5) as bar:
        assert isinstance(bar, LineProgress)
        for _ in range(10):  # 10 updates 2 s apart: a line at 6, 12 and 18 s (5 s or more since the last)
            clock[0] += 2
            bar.update(100)
    text = out.getvalue()
    assert "\r" not in text
    lines = text.splitlines()
    assert len(lines) == 3 + 1  # the interval lines, and the last one on close
    assert lines[-1] == "stream (fast): 1,000/1,000 rec (100%) in 20 s, 50 rec/s"


def test_a_terminal_gets_the_tqdm_bar() -> None:
    leader, follower = pty.openpty()
    try:
        with os.fdopen(follower, "w", closefd=False) as tty:
            bar = progress(10, "x", file=tty)
            assert type(bar).__name__ == "tqdm"
            bar.update(10)
            bar.close()
    finally:
        os.close(leader)
        os.close(follower)


def test_disabled_prints_nothing() -> None:
    out = io.StringIO()
    with progress(10, "x", file=out, enabled=False) as bar:
        bar.update(10)
    assert out.getvalue() == ""


def test_the_emulators_progress_to_a_pipe_has_no_carriage_return(
    make_config: Callable[..., Config], fake_api: FakeApi, capfd: pytest.CaptureFixture[str]
) -> None:
    """The emulator with its progress on, writing to a non-terminal stderr (pytest's capture): lines, no `\\r`."""
    report = run_batch(make_config(), batch_size=50, workers=2, progress=True)
    assert report.accepted > 0
    err = capfd.readouterr().err
    assert "\r" not in err
    assert err.strip().splitlines()[-1].startswith(f"batch (batched): {report.accepted:,}/")
