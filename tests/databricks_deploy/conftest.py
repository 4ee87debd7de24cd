"""Fixtures for the deploy tests: the fake Databricks server, an SDK client on it, and an environment
with no Databricks configuration at all (so a developer's ~/.databrickscfg never leaks in) and an empty state
directory (so `make apply`'s outputs of a real deployment never leak in either)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from databricks.sdk import WorkspaceClient

from tests.support.fake_databricks import FakeDatabricks


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
def fake(no_databricks_config) -> Iterator[FakeDatabricks]:
    with FakeDatabricks() as server:
        yield server


@pytest.fixture
def client(fake: FakeDatabricks) -> WorkspaceClient:
    return WorkspaceClient(host=fake.url, token=fake.token)


@pytest.fixture
def env_auth(fake: FakeDatabricks, monkeypatch: pytest.MonkeyPatch) -> FakeDatabricks:
    """DATABRICKS_HOST / DATABRICKS_TOKEN pointing at the fake (the SDK's standard configuration)."""
    monkeypatch.setenv("DATABRICKS_HOST", fake.url)
    monkeypatch.setenv("DATABRICKS_TOKEN", fake.token)
    return fake
