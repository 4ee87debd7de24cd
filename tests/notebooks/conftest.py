"""Notebook test setup: the notebooks' package (`notebooks/pinterest_pipeline`) imported, and small generated
lakes.

The one local Spark session of the run is the `spark` fixture of tests/conftest.py.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
LAKE_USER = "nbtest"
LAKE_ROWS = 3000


PACKAGE = "notebooks.pinterest_pipeline"
#: The package's modules whose functions and constants the tests use (lake and kinesis reach Spark and dbutils
#: through `databricks.sdk.runtime`).
MODULES = ("names", "schemas", "cleaning", "queries", "lake", "kinesis")


@pytest.fixture(scope="session")
def nb(spark: Any) -> Iterator[dict[str, Any]]:
    """The public names of the package's modules (functions and constants), in one dict; the session set to UTC,
    as both notebooks set it.

    The modules are imported as a notebook imports them, with the local runtime active, and their `spark` and
    `dbutils` (from `databricks.sdk.runtime`) are those of a notebook namespace on the test session meanwhile."""
    from databricks_local import runtime
    from databricks_local.runner import make_namespace

    spark.conf.set("spark.sql.session.timeZone", "UTC")
    namespace: dict[str, Any] = {}
    with runtime.activate():
        for module in MODULES:
            names = vars(importlib.import_module(f"{PACKAGE}.{module}"))
            namespace.update({name: value for name, value in names.items() if not name.startswith("__")})
    runtime.push(make_namespace(spark, display=lambda *args, **kwargs: None))
    try:
        yield namespace
    finally:
        runtime.pop()


@pytest.fixture(scope="session")
def generated_tables() -> dict[str, list[dict]]:
    from emulation.generator import generate_tables

    return generate_tables(rows=LAKE_ROWS, seed=42)


@pytest.fixture(scope="session")
def generated_lake(tmp_path_factory: pytest.TempPathFactory, generated_tables: dict[str, list[dict]]) -> Path:
    from local_stack.lake_layout import write_local_lake

    root = tmp_path_factory.mktemp("lake")
    write_local_lake(root, LAKE_USER, generated_tables, flush_size=700)
    return root


@pytest.fixture(scope="session")
def batch_run(spark: Any, generated_lake: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One `run_batch` over the generated lake, shared by the output tests."""
    from local_stack.notebook_runner.batch import run_batch

    return run_batch(str(generated_lake), LAKE_USER, tmp_path_factory.mktemp("out"), spark=spark)
