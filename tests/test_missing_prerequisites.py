"""The one rule for missing prerequisites (tests/support/requirements.py): a skip naming what is missing on a
developer's machine, a failure under `CI=true`, for the function, the tool lookup and the `requires` marker alike."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.requirements import in_ci

REPO = Path(__file__).resolve().parents[1]
SAMPLE = """
import pytest
from tests.support.requirements import missing, require_tool, requires

def test_function():
    missing("the frobnicator is not installed")

def test_tool():
    require_tool("no-such-tool-anywhere", "it frobnicates")

@requires("MariaDB is not running")
def test_marker():
    pass

@requires(None)
def test_present():
    pass
"""


def run_sample(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    (tmp_path / "conftest.py").write_text(
        "from tests.conftest import pytest_configure, pytest_runtest_setup  # noqa: F401\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "CI"} | {"PYTHONPATH": str(REPO)}
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-rs",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(tmp_path),
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )


def test_outside_ci_a_missing_prerequisite_is_a_skip_that_names_it(tmp_path: Path) -> None:
    done = run_sample(tmp_path, ci=None)
    assert done.returncode == 0, done.stdout
    assert "1 passed, 3 skipped" in done.stdout
    for reason in ("the frobnicator is not installed", "no-such-tool-anywhere is not on PATH (it frobnicates)",
                   "MariaDB is not running"):  # fmt: skip
        assert reason in done.stdout


def test_under_ci_a_missing_prerequisite_fails_the_run(tmp_path: Path) -> None:
    done = run_sample(tmp_path, ci="true")
    assert done.returncode == 1, done.stdout
    assert "2 failed, 1 passed, 1 error" in done.stdout  # the marker fails the setup: an error
    assert "the frobnicator is not installed [CI=true: a missing prerequisite fails the run" in done.stdout


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("1", True), ("TRUE", True), ("", False), ("false", False), ("0", False)])  # fmt: skip
def test_what_counts_as_ci(value: str, expected: bool) -> None:
    assert in_ci({"CI": value}) is expected
    assert in_ci({}) is False
