"""The benchmark's DuckDB baseline (benchmarks/notebooks.py) computes the same nine results as the rules, so the
Spark/DuckDB ratio compares equal work."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.notebooks.conftest import LAKE_USER
from tests.notebooks.notebook_reference import clean, results


def test_duckdb_baseline_matches_the_plain_python_reference(
    generated_tables: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("duckdb", reason="duckdb (requirements-dev.txt) is not installed")
    from benchmarks import notebooks
    from local_stack.lake_layout import write_local_lake

    monkeypatch.setattr(notebooks, "USER_ID", LAKE_USER)
    write_local_lake(tmp_path, LAKE_USER, generated_tables, flush_size=1000)
    seconds, got = notebooks.duckdb_results(tmp_path)
    want = {
        name: {tuple(str(v) for v in row) for row in rows}
        for name, rows in results(clean(generated_tables)).items()
    }
    assert seconds > 0
    assert got == want
