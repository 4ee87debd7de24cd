"""Airflow test setup: a private AIRFLOW_HOME with SQLite (set before Airflow is imported), the DAG loader,
the fake Databricks server and a Databricks connection pointing at it.

Runs in the Airflow venv: `.venv-airflow/bin/python -m pytest tests/airflow`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

_HOME = tempfile.mkdtemp(prefix="pinterest-airflow-test-")
os.environ["AIRFLOW_HOME"] = _HOME
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(Path(__file__).resolve().parents[2] / "airflow" / "dags")
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
for _key in [k for k in os.environ if k.startswith(("AIRFLOW_VAR_", "AIRFLOW_CONN_"))]:
    del os.environ[_key]

from collections.abc import Iterator  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402

from tests.support.fake_databricks import FakeDatabricks  # noqa: E402

DAGS = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
DAG_FILE = DAGS / "pinterest_batch.py"


@pytest.fixture
def variables(monkeypatch: pytest.MonkeyPatch):
    """Set Airflow Variables (as AIRFLOW_VAR_* environment variables, which tasks read when they run)."""

    def set_variables(**values: str) -> None:
        for key, value in values.items():
            monkeypatch.setenv(f"AIRFLOW_VAR_{key.upper()}", value)

    return set_variables


@pytest.fixture
def load_dagbag():
    """Parse a DAG folder (default airflow/dags) and return the DagBag."""
    from airflow.models import DagBag

    def load(folder: Path = DAGS) -> Any:
        return DagBag(dag_folder=str(folder), include_examples=False)

    return load


@pytest.fixture
def load_dag(load_dagbag):
    """The one DAG of airflow/dags (or of `folder`), its trigger tasks polling fast (0.05 s) for the tests."""

    def load(folder: Path = DAGS) -> Any:
        bag = load_dagbag(folder)
        assert bag.import_errors == {}, bag.import_errors
        assert len(bag.dags) == 1, bag.dag_ids
        dag = next(iter(bag.dags.values()))
        for task in dag.tasks:
            if hasattr(task, "polling_period_seconds"):
                task.polling_period_seconds = 0.05
        return dag

    return load


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDatabricks]:
    """A fake Databricks server and the default Databricks connection pointing at it."""
    with FakeDatabricks(polls_before_terminal=1) as server:
        monkeypatch.setenv("AIRFLOW_CONN_DATABRICKS_DEFAULT", server.airflow_connection())
        yield server


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """A migrated SQLite metadata database in the private AIRFLOW_HOME (what `dag.test()` needs)."""
    from airflow.utils.db import initdb

    initdb()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(_HOME, ignore_errors=True)
