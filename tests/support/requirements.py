"""One rule for a test whose tool or service this machine lacks: skip and name it, or, under CI, fail.

On a developer's machine `make test` skips a test whose prerequisite is absent (terraform, Java, the LocalStack venv,
the Tansu broker, MariaDB, Node for LocalStack's Kinesis engine) and the skip reason says what is missing. In CI
(`CI=true`, which `.ci/run` sets when the CI does not) the same test FAILS with that reason, so a missing component
can never turn the core suite into silent skips. Every such skip in the suite goes through `missing()`:

    require(reason_or_none)                # in a test or fixture
    path = require_tool("node", "why")     # a program on PATH
    @requires(reason_or_none)              # a marker, checked before the test runs (tests/conftest.py)
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from typing import NoReturn

import pytest

CI_VALUES = {"1", "true", "yes", "on"}


def in_ci(env: Mapping[str, str] | None = None) -> bool:
    """True when the CI variable says this is a CI run (`CI=true`, as GitHub Actions, GitLab and .ci/run set)."""
    return (os.environ if env is None else env).get("CI", "").strip().lower() in CI_VALUES


def missing(reason: str) -> NoReturn:
    """Skip the calling test because `reason` (what is absent); under CI fail it instead."""
    if in_ci():
        pytest.fail(
            f"{reason} [CI=true: a missing prerequisite fails the run instead of skipping]", pytrace=False
        )
    pytest.skip(reason)


def require(reason: str | None) -> None:
    """`missing(reason)` when there is a reason (something is absent); nothing when it is None."""
    if reason:
        missing(reason)


def require_tool(name: str, why: str) -> str:
    """The path of program `name` on PATH, or `missing(...)` naming it and why the test needs it."""
    path = shutil.which(name)
    if path is None:
        missing(f"{name} is not on PATH ({why})")
    return path


def requires(reason: str | None) -> pytest.MarkDecorator:
    """A marker form of `require`: the test is skipped (or failed under CI) before it runs when `reason` is set."""
    return pytest.mark.requires(reason)
