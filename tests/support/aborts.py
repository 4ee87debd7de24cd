"""What a native abort at interpreter exit leaves in a process's output (issue 19), and the check for it."""

from __future__ import annotations

MARKERS = ("terminate called", "Aborted", "core dumped")


def assert_no_abort(output: str, what: str) -> None:
    """Fail naming `what` if `output` shows an abort at exit (std::terminate, SIGABRT, a core dump)."""
    for marker in MARKERS:
        assert marker not in output, f"{what} printed {marker!r}:\n{output[-3000:]}"
