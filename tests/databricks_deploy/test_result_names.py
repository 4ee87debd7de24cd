"""The nine result names are one list: `RESULT_NAMES` of notebooks/pinterest_pipeline/names.py, in the order and with the
columns of docs/data-contracts.md 3.7. The Airflow DAG must keep its own copy (MWAA gets only airflow/dags/, and the
Airflow venv has no Spark), so this test reads the DAG's copy from its source and ties it to the notebook's."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
DAG_FILE = REPO / "airflow" / "dags" / "pinterest_batch.py"
CONTRACTS = REPO / "docs" / "data-contracts.md"


@pytest.fixture(scope="module")
def queries() -> dict[str, Any]:
    """The globals of notebooks/pinterest_pipeline/names.py (stdlib only), where the nine names are written."""
    from notebooks.pinterest_pipeline import names

    return vars(names)


def literal(path: Path, name: str) -> Any:
    """The value of the module-level assignment `name = <literal>` in `path`, read without importing it."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{path} assigns no literal {name}")


def contract_results() -> dict[str, tuple[str, ...]]:
    """The result table of the "Query results" section of docs/data-contracts.md: name -> columns, in order."""
    text = CONTRACTS.read_text()
    section = re.search(r"^#+ [^\n]*Query results[^\n]*\n(.*?)(?=^#)", text + "\n#", re.S | re.M)
    assert section, "docs/data-contracts.md has no Query results section"
    rows = re.findall(r"^\| `(\w+)` \| `([^`]+)` \|$", section.group(1), re.M)
    return {name: tuple(c.strip() for c in columns.split(",")) for name, columns in rows}


def test_the_notebook_list_is_the_contract_in_its_order(queries: dict[str, Any]) -> None:
    contract = contract_results()
    assert len(contract) == 9
    assert queries["RESULT_NAMES"] == tuple(contract)
    assert queries["RESULT_COLUMNS"] == contract


def test_the_dag_checks_exactly_the_notebook_results(queries: dict[str, Any]) -> None:
    assert literal(DAG_FILE, "RESULT_NAMES") == queries["RESULT_NAMES"]


def test_the_benchmark_compares_the_notebook_results(queries: dict[str, Any]) -> None:
    from benchmarks.notebooks import result_names

    assert result_names() == queries["RESULT_NAMES"]
