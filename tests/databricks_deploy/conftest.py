"""Fixtures for the deploy tests: the real local workspace server (one per session, started as `make local-up`
starts it: the component's command line from `local_stack.components.databricks`, its own state dir and a free
port; import and deploy need no Spark, so it starts in well under a second), emptied before each test, and an SDK
client on it; the fake Databricks server only for the faults the real one cannot be made to produce; an environment
with no Databricks configuration at all (so a developer's ~/.databrickscfg never leaks in) and an empty state
directory (so `make apply`'s outputs of a real deployment never leak in either)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from databricks.sdk import WorkspaceClient

from tests.databricks_deploy.local_workspace import LocalWorkspace, running_workspace
from tests.support.fake_databricks import FakeDatabricks


@pytest.fixture(scope="session")
def local_workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalWorkspace]:
    with running_workspace(tmp_path_factory.mktemp("stack")) as workspace:
        yield workspace


@pytest.fixture
def no_databricks_config(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    for key in [k for k in os.environ if k.startswith(("DATABRICKS_", "ARM_", "AZURE_"))]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(tmp_path / "no.databrickscfg"))
    monkeypatch.setenv("PIPELINE_STATE_DIR", str(tmp_path / "state"))


@pytest.fixture
def aws_outputs(no_databricks_config, tmp_path) -> Callable[..., Path]:
    """Write `<state dir>/outputs/aws.json` as `make apply` does (`terraform output -json`: {name: {"value": v}})."""

    def write(**values: object) -> Path:
        path = tmp_path / "state" / "outputs" / "aws.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({k: {"value": v, "sensitive": False} for k, v in values.items()}))
        return path

    return write


@pytest.fixture
def workspace(local_workspace: LocalWorkspace, no_databricks_config) -> LocalWorkspace:
    """The local workspace, emptied, in an environment without Databricks configuration."""
    local_workspace.empty()
    return local_workspace


@pytest.fixture
def client(workspace: LocalWorkspace) -> WorkspaceClient:
    return workspace.client


@pytest.fixture
def env_auth(workspace: LocalWorkspace, monkeypatch: pytest.MonkeyPatch) -> LocalWorkspace:
    """DATABRICKS_HOST / DATABRICKS_TOKEN pointing at the local workspace (the SDK's standard configuration)."""
    monkeypatch.setenv("DATABRICKS_HOST", workspace.url)
    monkeypatch.setenv("DATABRICKS_TOKEN", workspace.token)
    return workspace


@pytest.fixture
def fake(no_databricks_config) -> Iterator[FakeDatabricks]:
    """The fake server: only for faults the real workspace cannot be made to produce (see each test's reason)."""
    with FakeDatabricks() as server:
        yield server


@pytest.fixture
def fake_client(fake: FakeDatabricks) -> WorkspaceClient:
    return WorkspaceClient(host=fake.url, token=fake.token)
