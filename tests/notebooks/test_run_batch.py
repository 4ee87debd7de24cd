"""`run_batch` (what `make run-batch` runs) on a generated lake: the nine CSVs against an independent plain-Python
computation of the same rules over the generated rows, the cleaned Delta tables, the counts and the report."""

from __future__ import annotations

import ast
import csv
import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.notebooks.notebook_reference import clean, results

pytestmark = pytest.mark.spark

DAG_FILE = Path(__file__).resolve().parents[2] / "airflow" / "dags" / "pinterest_batch.py"

COLUMNS = {
    "popular_category_by_country": ["country", "category", "category_count"],
    "popular_category_by_year": ["post_year", "category", "category_count"],
    "top_user_by_country": ["country", "poster_name", "follower_count"],
    "top_country_by_followers": ["country", "follower_count"],
    "popular_category_by_age_group": ["age_group", "category", "category_count"],
    "median_followers_by_age_group": ["age_group", "median_follower_count"],
    "users_joined_by_year": ["post_year", "number_users_joined"],
    "median_followers_by_join_year": ["post_year", "median_follower_count"],
    "median_followers_by_join_year_and_age_group": ["age_group", "post_year", "median_follower_count"],
}

#: Cleaned table columns (docs/data-contracts.md 3.6).
CLEAN_COLUMNS = {
    "pin": [
        "ind",
        "unique_id",
        "title",
        "description",
        "follower_count",
        "poster_name",
        "tag_list",
        "is_image_or_video",
        "image_src",
        "save_location",
        "category",
    ],
    "geo": ["ind", "country", "coordinates", "timestamp"],
    "user": ["ind", "user_name", "age", "date_joined"],
}


@pytest.fixture(scope="module")
def expected(generated_tables: dict[str, list[dict]]) -> dict[str, Any]:
    cleaned = clean(generated_tables)
    return {"cleaned": cleaned, "results": results(cleaned)}


def read_csv(path: Path) -> tuple[list[str], list[tuple[str, ...]]]:
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    return rows[0], [tuple(r) for r in rows[1:]]


@pytest.mark.parametrize("name", list(COLUMNS))
def test_csv_matches_the_plain_python_computation(
    batch_run: Any, expected: dict[str, Any], name: str
) -> None:
    header, rows = read_csv(batch_run.out / f"{name}.csv")
    assert header == COLUMNS[name]
    assert len(rows) == len(set(rows)), "rows are distinct"
    want = {tuple(str(v) for v in row) for row in expected["results"][name]}
    assert want, "the generated data gives every result some rows"
    assert set(rows) == want
    assert batch_run.result_rows[name] == len(rows)


def dag_parse_results() -> Any:
    """The Airflow DAG's own `parse_results` (and what it uses), read from its source: the Airflow venv is not this
    one, so the function is compiled alone, with a stand-in for `AirflowException`."""
    tree = ast.parse(DAG_FILE.read_text())
    wanted = {"RESULT_NAMES", "parse_results", "_positive"}
    nodes = [
        node
        for node in tree.body
        if (isinstance(node, ast.FunctionDef) and node.name in wanted)
        or (isinstance(node, ast.Assign) and any(getattr(t, "id", None) in wanted for t in node.targets))
    ]
    scope: dict[str, Any] = {"json": json, "Any": Any, "AirflowException": RuntimeError}
    exec(compile(ast.Module(body=nodes, type_ignores=[]), str(DAG_FILE), "exec"), scope)
    return scope["parse_results"]


def test_the_exit_value_is_what_the_dag_checks(batch_run: Any) -> None:
    """The notebook's `dbutils.notebook.exit` value passes the DAG's check, and gives each result's row count."""
    parse_results = dag_parse_results()
    assert parse_results(batch_run.exit_value) == batch_run.result_rows
    assert list(json.loads(batch_run.exit_value)) == list(COLUMNS)  # the nine names, in the contract's order
    with pytest.raises(RuntimeError, match="missing"):
        parse_results(json.dumps(dict(list(batch_run.result_rows.items())[:-1])))


def test_exactly_one_csv_file_per_result(batch_run: Any) -> None:
    assert sorted(p.name for p in batch_run.out.glob("*.csv")) == sorted(f"{n}.csv" for n in COLUMNS)
    assert not (batch_run.out / ".tables").exists()


def test_counts_before_and_after_cleaning(
    batch_run: Any, generated_tables: dict, expected: dict[str, Any]
) -> None:
    sources = {"pin": "pinterest_data", "geo": "geolocation_data", "user": "user_data"}
    for dataset, table in sources.items():
        counts = batch_run.counts[dataset]
        assert counts.read == len(generated_tables[table])
        assert counts.rejected == 0
        assert counts.cleaned == len(expected["cleaned"][dataset])
        assert counts.duplicates_removed == counts.read - counts.cleaned > 0


def test_cleaned_tables_are_delta_tables_with_one_row_per_ind(batch_run: Any, expected: dict) -> None:
    from deltalake import DeltaTable

    from databricks_local.delta import read_arrow

    pin = DeltaTable(str(batch_run.out / "cleaned" / "pin"))
    assert pin.protocol().min_reader_version == 1  # plain Delta: any reader, Databricks included
    table = read_arrow(batch_run.out / "cleaned" / "pin")
    assert table.column_names == CLEAN_COLUMNS["pin"]
    assert str(table.schema.field("follower_count").type) == "int32"
    rows = {r["ind"]: r for r in table.to_pylist()}
    assert len(rows) == len(expected["cleaned"]["pin"])
    for ind, want in expected["cleaned"]["pin"].items():
        got = rows[ind]
        assert (got["follower_count"], got["save_location"], got["title"]) == (
            want["follower_count"],
            want["save_location"],
            want["title"],
        )
    geo = read_arrow(batch_run.out / "cleaned" / "geo")
    assert geo.column_names == CLEAN_COLUMNS["geo"]
    assert str(geo.schema.field("timestamp").type) == "timestamp[us, tz=UTC]"
    assert str(geo.schema.field("coordinates").type) == "list<element: double>"
    assert geo.num_rows == len(expected["cleaned"]["geo"])
    user = read_arrow(batch_run.out / "cleaned" / "user")
    assert user.column_names == CLEAN_COLUMNS["user"]
    assert user.num_rows == len(expected["cleaned"]["user"])


def test_report_is_one_self_contained_page_with_a_chart_per_result(batch_run: Any) -> None:
    page = batch_run.report_path.read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"<script|<link|src=\"http|@import", page), "no script, no external resource"
    for name in COLUMNS:
        section = re.search(rf'<section id="{name}">(.*?)</section>', page, re.S)
        assert section, name
        assert "<svg" in section.group(1) and ("<rect" in section.group(1) or "<polyline" in section.group(1))
    assert page.count("<polyline") >= 3  # users joined, median by join year, and one line per age group
    counts = re.search(r"<section id='counts'>(.*?)</section>", page, re.S).group(1)
    for dataset, c in batch_run.counts.items():
        assert f"<td>{dataset}</td><td>{c.read:,}</td><td>{c.rejected:,}</td>" in counts


def test_summary_names_every_output(batch_run: Any) -> None:
    text = batch_run.summary()
    assert str(batch_run.report_path) in text
    assert all(name in text for name in COLUMNS)


def test_lake_bytes_counts_the_json_under_topics(generated_lake: Path, tmp_path: Path) -> None:
    from local_stack.notebook_runner.batch import QUICK_START_MAX_BYTES, lake_bytes

    files = list((generated_lake / "topics").rglob("*.json"))
    assert files and lake_bytes(str(generated_lake)) == sum(f.stat().st_size for f in files)
    assert lake_bytes(str(generated_lake)) < QUICK_START_MAX_BYTES  # small lakes start Spark the quick way
    (tmp_path / "topics").mkdir()
    assert lake_bytes(str(tmp_path)) == 0
