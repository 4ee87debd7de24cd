"""Notebooks on one local cluster, run unchanged from the course-style corpus in `course/`: sessions per notebook,
`global_temp`, `%run` with arguments, `dbutils.notebook.run`, `.ipynb`, titled `%sql`, `databricks.sdk.runtime`,
streaming display and `--available-now`, unsupported calls, and the CLI's `--result`."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from databricks_local import runtime
from databricks_local.dbutils import LocalDbutils, NotSupportedLocally, set_secret_store
from databricks_local.source import parse_cells, read_notebook

REPO = Path(__file__).resolve().parents[2]
COURSE = Path(__file__).with_name("course")
PINS = COURSE / "data" / "pins"


def test_titled_cells_and_ipynb_exports_parse_into_kinds_and_titles() -> None:
    cells = read_notebook(COURSE / "Clean Pin Data.py")
    assert [(c.kind, c.title) for c in cells] == [
        ("md", None),
        ("python", None),
        ("python", "Load and clean"),
        ("sql", "Count the clean pins"),
        ("python", None),
    ]
    assert cells[3].body.startswith("%sql\n") and cells[3].line == 26
    ipynb = read_notebook(COURSE / "Query Pins.ipynb")
    assert [(c.kind, c.title) for c in ipynb] == [
        ("md", None),
        ("python", "Sessions"),
        ("sql", "Pins per category"),
        ("python", None),
    ]
    sql_notebook = json.dumps(
        {
            "cells": [{"cell_type": "code", "source": ["SELECT 1"], "metadata": {}}],
            "metadata": {"application/vnd.databricks.v1+notebook": {"language": "sql"}},
        }
    )
    from databricks_local.source import parse_ipynb

    assert [(c.kind, c.body) for c in parse_ipynb(sql_notebook)] == [("sql", "%sql\nSELECT 1")]
    assert parse_cells("# Databricks notebook source\n# DBTITLE 1,Only a title\n") == []


def test_sql_cells_split_at_semicolons_and_bind_widgets() -> None:
    from databricks_local.runner import _substitute_widgets, split_sql, widget_markers

    assert split_sql("SELECT 1; -- a comment; still\nSELECT 'a;b' /* ; */;") == ["SELECT 1", "SELECT 'a;b'"]
    statement = "SELECT * FROM t WHERE a >= :low AND b = ':low' AND c::int > 0 AND d = :unknown"
    assert widget_markers(statement, {"low": "5", "high": "9"}) == {"low": "5"}
    namespace = {"dbutils": LocalDbutils({"db": "sales"}, environ={})}
    assert (
        _substitute_widgets("SELECT * FROM ${db}.t, ${other}", namespace) == "SELECT * FROM sales.t, ${other}"
    )


def test_unsupported_dbutils_calls_name_the_call() -> None:
    dbutils = LocalDbutils(environ={})
    for call in ("credentials", "library", "data"):
        with pytest.raises(NotSupportedLocally, match=rf"dbutils\.{call} is not supported by the local"):
            getattr(dbutils, call)
    with pytest.raises(NotSupportedLocally, match=r"dbutils\.notebook\.entry_point is not supported"):
        dbutils.notebook.entry_point  # noqa: B018
    with pytest.raises(NotSupportedLocally, match=r"dbutils\.fs\.cacheFiles is not supported"):
        dbutils.fs.cacheFiles  # noqa: B018
    assert not hasattr(dbutils.widgets, "nothing")  # hasattr() probes still work


def test_task_values_pass_between_the_notebooks_of_a_run() -> None:
    from databricks_local.dbutils import TaskValues

    store: dict[str, dict[str, Any]] = {}
    LocalDbutils(environ={}, task_values=TaskValues(store, "ingest")).jobs.taskValues.set("rows", 42)
    reader = LocalDbutils(environ={}, task_values=TaskValues(store, "report")).jobs.taskValues
    assert reader.get(taskKey="ingest", key="rows") == 42
    assert reader.get("ingest", "missing", default=0, debugValue=7) == 0
    assert reader.get("ingest", "missing", debugValue=7) == 7
    with pytest.raises(ValueError, match="task 'ingest' has set no value 'missing'"):
        reader.get("ingest", "missing")


def test_secret_store_hook_with_the_environment_as_override() -> None:
    class Store:
        def get(self, scope: str, key: str) -> str | None:
            return {("aws", "key"): "from-store", ("aws", "other"): "store-only"}.get((scope, key))

        def list_scopes(self) -> list[str]:
            return ["aws"]

        def list_keys(self, scope: str) -> list[str]:
            return ["key", "other"]

    dbutils = LocalDbutils(environ={"DATABRICKS_SECRET_AWS_KEY": "from-env"})
    set_secret_store(Store())
    try:
        assert dbutils.secrets.get("aws", "key") == "from-env"
        assert dbutils.secrets.get("aws", "other") == "store-only"
        assert [m.key for m in dbutils.secrets.list("aws")] == ["key", "other"]
    finally:
        set_secret_store(None)


def test_sdk_runtime_objects_outside_a_notebook_say_so() -> None:
    with pytest.raises(runtime.NoNotebookRunning, match="no Databricks notebook is running"):
        runtime.NotebookObject("spark").table("x")


def test_databricks_sdk_runtime_resolves_to_the_innermost_running_notebook() -> None:
    import os

    with runtime.activate():
        assert os.environ["DATABRICKS_RUNTIME_VERSION"] == runtime.RUNTIME_VERSION == "18.0"  # major.minor
        from databricks.sdk import runtime as sdk_runtime
        from databricks.sdk.runtime import dbutils, spark

        assert sdk_runtime.is_local_implementation is False
        runtime.push({"spark": "outer spark", "dbutils": "outer dbutils"})
        runtime.push({"spark": "inner spark", "dbutils": "inner dbutils"})
        assert (spark.upper(), dbutils.title()) == ("INNER SPARK", "Inner Dbutils")
        runtime.pop()
        assert spark.upper() == "OUTER SPARK"
        runtime.pop()


def _printed() -> tuple[list[str], Any]:
    lines: list[str] = []
    from databricks_local.display import render

    return lines, lambda obj, *a, **k: lines.append(render(obj))


@pytest.mark.spark
def test_notebooks_of_one_command_share_global_temp_views_but_not_temp_views_or_conf(spark: Any) -> None:
    from databricks_local.cluster import Cluster
    from databricks_local.runner import run_notebooks

    shown, display = _printed()
    results = run_notebooks(
        [COURSE / "Clean Pin Data.py", COURSE / "Query Pins.ipynb"],
        Cluster(spark),
        widgets={"source": str(PINS)},
        display=display,
    )
    assert [r.state for r in results] == ["SUCCESS", "SUCCESS"], [r.error for r in results]
    clean = results[0].run.namespace
    assert (clean["mode"], clean["module_mode"], clean["cleaned_rows"]) == ("Batch", "Batch", 4)
    answer = json.loads(results[1].exit_value)
    assert answer == {
        "total": 4,
        "by_category": {"art": 2, "food": 1, "travel": 1},
        "partitions": "2",  # the first notebook's SET stayed in its session
        "sees_temp_view": False,
        "sessions": [True, True, True],  # getActiveSession, builder.getOrCreate, databricks.sdk.runtime.spark
    }
    assert any("travel" in text for text in shown)  # the titled %sql cell displayed its result


@pytest.mark.spark
def test_run_with_arguments_and_notebook_run_of_workspace_paths(spark: Any) -> None:
    from databricks_local.cluster import Cluster
    from databricks_local.runner import run_notebooks

    _, display = _printed()
    [result] = run_notebooks(
        [COURSE / "Run Pipeline.py"],
        Cluster(spark),
        widgets={"source": str(PINS)},
        workspace=COURSE,
        display=display,
    )
    assert result.state == "SUCCESS", result.error
    assert result.exit_value == "4"
    namespace = result.run.namespace
    # $mode="Stream" set the %run notebook's dropdown outside its choices, for the module too.
    assert (namespace["mode"], namespace["module_mode"]) == ("Stream", "Stream")
    # /Users/<email>/course/Query Pins ran in its own session: the caller's temp view is not there.
    assert namespace["answer"]["by_category"] == {"art": 2, "food": 1}
    assert namespace["answer"]["sees_temp_view"] is False
    failure = namespace["failure"]
    assert failure.startswith("WorkflowException: notebook ./Broken")
    assert "dbutils.credentials is not supported by the local Databricks runtime" in failure
    assert "Broken.py line 8" in failure
    assert namespace["timeout_failure"].startswith("WorkflowException: notebook Slow")
    assert "timed out after 1 s" in namespace["timeout_failure"]


@pytest.mark.spark
def test_available_now_drains_a_continuous_query_and_display_shows_a_stream_snapshot(spark: Any) -> None:
    from databricks_local.cluster import Cluster
    from databricks_local.runner import run_notebooks

    shown, display = _printed()
    [result] = run_notebooks(
        [COURSE / "Stream Pins.py"],
        Cluster(spark, available_now=True),
        widgets={"source": str(PINS)},
        display=display,
    )
    assert result.state == "SUCCESS", result.error
    assert result.run.namespace["arrived"] == 5
    assert not spark.streams.active
    listing, snapshot, table, html = shown
    assert "part-0000.json" in listing and "modificationTime" in listing
    assert snapshot.startswith("(stream snapshot)") and "Ramen" in snapshot
    assert table.splitlines()[1].split()[:2] == ["1", "art"]  # df.display()
    assert html == "[HTML] Pins 5 pins arrived"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "local_stack.notebook_runner", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_usage_errors_exit_2_without_a_traceback(tmp_path: Path) -> None:
    missing = cli("run", str(tmp_path / "nope.py"))
    assert missing.returncode == 2 and "notebook" in missing.stderr and "not found" in missing.stderr
    assert "Traceback" not in missing.stderr
    assert cli("run").returncode == 2


@pytest.mark.spark
def test_cli_runs_several_notebooks_and_writes_the_result_file(tmp_path: Path) -> None:
    result_file = tmp_path / "out" / "result.json"
    done = cli(
        "run",
        "--quiet",
        "--available-now",
        "--widget",
        f"source={PINS}",
        "--result",
        str(result_file),
        str(COURSE / "Clean Pin Data.py"),
        str(COURSE / "Broken.py"),
        str(COURSE / "Stream Pins.py"),
    )
    assert done.returncode == 1, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert stat.S_IMODE(result_file.stat().st_mode) == 0o600
    clean, broken, stream = json.loads(result_file.read_text())
    assert (stream["state"], stream["exit_value"]) == ("SUCCESS", "5")  # the continuous query was drained
    assert set(clean) == {"notebook", "state", "exit_value", "error", "trace", "seconds"}
    assert (clean["state"], clean["exit_value"], clean["error"]) == ("SUCCESS", None, None)
    assert clean["notebook"].endswith("Clean Pin Data.py") and clean["seconds"] > 0
    assert broken["state"] == "FAILED"
    assert "dbutils.credentials is not supported" in broken["error"] and "Broken.py line 8" in broken["error"]
    assert "NotSupportedLocally" in broken["trace"]


@pytest.mark.spark
def test_cli_without_available_now_waits_for_a_continuous_query_until_ctrl_c(tmp_path: Path) -> None:
    import signal
    import time

    result_file = tmp_path / "result.json"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "local_stack.notebook_runner",
            "run",
            "--widget",
            f"source={PINS}",
            "--result",
            str(result_file),
            str(COURSE / "Stream Pins.py"),
        ],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for line in process.stderr:  # the runner logs each cell as it starts it
            if "cell 6" in line:  # dbutils.notebook.exit: the query keeps the run going, as on Databricks
                break
        time.sleep(3)
        assert process.poll() is None, "the run ended although its query is still running"
        process.send_signal(signal.SIGINT)
        rest = process.communicate(timeout=60)[1]
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, rest[-2000:]
    [outcome] = json.loads(result_file.read_text())
    assert (outcome["state"], outcome["error"]) == ("FAILED", "interrupted (Ctrl-C)")
