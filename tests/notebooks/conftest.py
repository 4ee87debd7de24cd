"""Notebook test setup: the notebook libraries loaded through the local runtime, and small generated lakes.

The one local Spark session of the run is the `spark` fixture of tests/conftest.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
LAKE_USER = "nbtest"
LAKE_ROWS = 3000


@pytest.fixture(scope="session")
def nb(spark: Any) -> dict[str, Any]:
    """Globals of the cleaning and query notebooks, run through the local runner (functions and constants)."""
    from databricks_local.runner import run_notebook

    namespace = run_notebook(NOTEBOOKS / "lib" / "cleaning.py", spark).namespace
    run_notebook(NOTEBOOKS / "lib" / "queries.py", spark, namespace=namespace)
    return namespace


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
