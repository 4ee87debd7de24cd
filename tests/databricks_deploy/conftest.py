"""Fixtures for the deploy tests: the fake Databricks server, an SDK client on it, and an environment
with no Databricks configuration at all (so a developer's ~/.databrickscfg never leaks in)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from databricks.sdk import WorkspaceClient

from tests.support.fake_databricks import FakeDatabricks


@pytest.fixture
def no_databricks_config(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    for key in [k for k in os.environ if k.startswith(("DATABRICKS_", "ARM_", "AZURE_"))]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(tmp_path / "no.databrickscfg"))


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
