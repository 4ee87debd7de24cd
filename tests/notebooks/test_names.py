"""`notebooks/pinterest_pipeline/names.py` is the one place of the names the notebooks, the local runner, the deploy
code and the emulators share: no copy of its constants, or of the table prefix rule, anywhere else (the Airflow
DAG's copy of the nine result names is tied to it by tests/databricks_deploy/test_result_names.py)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from notebooks.pinterest_pipeline import names

REPO = Path(__file__).resolve().parents[2]
SOURCES = ("notebooks", "local_stack", "databricks_deploy", "databricks_local", "emulation", "benchmarks")
SHARED = {
    "DATASETS": names.DATASETS,
    "LAKE_ACCESS_MODES": names.LAKE_ACCESS_MODES,
    "TRIGGERS": names.TRIGGERS,
    "INITIAL_POSITIONS": names.INITIAL_POSITIONS,
    "KINESIS_AUTH_MODES": names.KINESIS_AUTH_MODES,
    "RESULT_NAMES": names.RESULT_NAMES,
}
PREFIX_RULE = "[^A-Za-z0-9_]"


def python_files() -> list[Path]:
    return sorted(p for top in SOURCES for p in (REPO / top).rglob("*.py") if "__pycache__" not in p.parts)


def test_no_copy_of_the_shared_constants_or_the_prefix_rule() -> None:
    home = REPO / "notebooks" / "pinterest_pipeline" / "names.py"
    copies = []
    for path in python_files():
        if path == home:
            continue
        text = path.read_text(encoding="utf-8")
        if PREFIX_RULE in text:
            copies.append(f"{path.relative_to(REPO)}: the table prefix rule")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Tuple | ast.List) and node.elts:
                try:
                    value = tuple(ast.literal_eval(node))
                except ValueError:
                    continue
                for name, shared in SHARED.items():
                    if value == shared and len(shared) > 1:
                        copies.append(f"{path.relative_to(REPO)}:{node.lineno}: a copy of {name}")
    assert copies == []


def test_the_names_of_one_user_id() -> None:
    assert names.table_prefix("jane.doe-1") == "jane_doe_1"
    assert names.stream_table("jane.doe", "pin") == "jane_doe_pin_table"
    assert names.batch_table("jane.doe", "geo") == "jane_doe_geo_batch"
    assert names.rejected_table("u", "user") == "u_user_rejected"
    assert names.stream_rejected_table("u", "pin") == "u_pin_stream_rejected"
    assert names.counts_table("u") == "u_batch_counts"
    assert names.result_table("a.b", "users_joined_by_year") == "a_b_users_joined_by_year"
    assert (names.topic_name("a.b", "pin"), names.stream_name("a.b", "geo")) == (
        "a.b.pin",
        "streaming-a.b-geo",
    )
    assert names.bucket_name("u1") == "user-u1-bucket"
    with pytest.raises(ValueError, match="unknown dataset 'pins'"):
        names.stream_table("u", "pins")
    with pytest.raises(ValueError, match="unknown result"):
        names.result_table("u", "top_users")
    with pytest.raises(ValueError, match="user_id is empty"):
        names.table_prefix("")


def test_the_bundles_jobs_and_the_emulators_use_these_names() -> None:
    from databricks_deploy.bundle import load_bundle
    from emulation.names import DATASETS, PipelineNames

    jobs = load_bundle(target="local").jobs
    batch = jobs["pinterest_batch"].settings["tasks"][0]["notebook_task"]["base_parameters"]
    stream = jobs["pinterest_stream"].settings["tasks"][0]["notebook_task"]["base_parameters"]
    assert batch["lake_access"] in names.LAKE_ACCESS_MODES
    assert stream["trigger"] in names.TRIGGERS
    assert stream["initial_position"] in names.INITIAL_POSITIONS
    assert stream["kinesis_auth"] in names.KINESIS_AUTH_MODES
    assert DATASETS is names.DATASETS
    assert PipelineNames("jane.doe").table("user") == names.stream_table("jane.doe", "user")
