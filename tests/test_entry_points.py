"""The project's entry points, each run as a user runs it (a fresh interpreter, small inputs): exit 0 and no abort.

Issue 19: a command that printed success could still abort at interpreter exit ("terminate called without an active
exception", status 134) when a native thread (Arrow's I/O pool, reading through deltalake's Python filesystem) was
alive. Each command here runs in a subprocess, so its exit path is the real one: the status must be 0 and the output
must name no `terminate called`, `Aborted` or `core dumped`. The slow loop that shows the abort is gone is
`python -m benchmarks.exit_abort` (not part of the test suite).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.aborts import assert_no_abort

REPO = Path(__file__).resolve().parents[1]

TINY_NOTEBOOK = """# Databricks notebook source
from pyspark.sql import functions as F

# COMMAND ----------
df = spark.range(50).withColumn("label", F.concat(F.lit("row-"), F.col("id").cast("string")))
df.withColumnRenamed("id", "ind").write.format("delta").mode("overwrite").saveAsTable("entry_points_t")

# COMMAND ----------
from delta.tables import DeltaTable

more = spark.range(40, 60).withColumnRenamed("id", "ind").withColumn("label", F.lit("new"))
(DeltaTable.forName(spark, "entry_points_t").alias("t").merge(more.alias("s"), "t.ind = s.ind")
 .whenNotMatchedInsertAll().execute())
count = spark.table("entry_points_t").count()
assert count == 60, count
print(f"entry points rows: {count}")
"""


def run(args: list[str], tmp_path: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`python <args>` from the repo root in a fresh interpreter; fails on a non-zero exit or an abort's trace."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PIPELINE_STATE_DIR": str(tmp_path / "state")}
    done = subprocess.run(
        [sys.executable, *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{args} exited {done.returncode}:\n{output[-3000:]}"
    assert_no_abort(output, str(args))
    return done


@pytest.mark.parametrize(
    "args",
    [
        ["-m", "benchmarks", "--help"],
        ["-m", "emulation", "--help"],
        ["-m", "local_stack", "--help"],
        ["-m", "local_stack.demo", "--help"],
        ["-m", "local_stack.notebook_runner", "--help"],
        ["-m", "benchmarks.exit_abort", "--help"],
    ],
    ids=lambda args: " ".join(args[1:]),
)
def test_help_of_every_command_exits_0(args: list[str], tmp_path: Path) -> None:
    assert "usage:" in run(args, tmp_path).stdout


def test_emulator_seed_exits_0(tmp_path: Path) -> None:
    db = tmp_path / "source.db"
    run(["-m", "emulation", "seed", "--rows", "60", "--db-url", f"sqlite:///{db}"], tmp_path)
    assert db.stat().st_size > 0


@pytest.mark.spark
def test_notebook_runner_run_of_a_delta_notebook_exits_0(tmp_path: Path) -> None:
    """`notebook_runner run`: Spark, a Delta write and a MERGE (deltalake, pyarrow), then the interpreter exits."""
    notebook = tmp_path / "tiny.py"
    notebook.write_text(TINY_NOTEBOOK)
    done = run(["-m", "local_stack.notebook_runner", "run", str(notebook), "--quiet"], tmp_path, timeout=180)
    assert "entry points rows: 60" in done.stdout


@pytest.mark.spark
def test_batch_notebook_on_a_tiny_lake_exits_0(tmp_path: Path) -> None:
    """`make run-batch` on a small lake: every result written, Delta tables read back, a clean exit."""
    from emulation.generator import generate_tables
    from local_stack.lake_layout import write_local_lake

    lake = tmp_path / "lake"
    write_local_lake(lake, "entry", generate_tables(rows=300, seed=7), flush_size=200)
    out = tmp_path / "out"
    run(
        [
            "-m",
            "local_stack.notebook_runner",
            "batch",
            "--lake",
            str(lake),
            "--user-id",
            "entry",
            "--out",
            str(out),
        ],
        tmp_path,
        timeout=240,
    )
    assert (out / "cleaned" / "pin" / "_delta_log").is_dir()
    assert (out / "report.html").is_file()


@pytest.mark.spark
@pytest.mark.integration
def test_stream_notebook_run_on_small_streams_exits_0(stack: Any, tmp_path: Path) -> None:
    """`make run-stream` (availableNow) on a throw-away user's streams: Kinesis source, Delta MERGE, clean exit."""
    from emulation.generator import generate_tables
    from emulation.names import DATASETS, SOURCE_TABLES
    from emulation.payloads import record_value, to_json_bytes
    from emulation.source_db import KEY
    from local_stack.stack_user import StackUser

    tables = generate_tables(rows=20, seed=5)
    with StackUser(stack, "sqlite://", tmp_path / "user", prefix="entry", topics=False, streams=True) as user:
        kinesis = user.kinesis()
        for dataset in DATASETS:
            table = SOURCE_TABLES[dataset]
            records = [
                {"Data": to_json_bytes(record_value(row)), "PartitionKey": str(row[KEY[table]])}
                for row in tables[table]
            ]
            kinesis.put_records(StreamName=user.config.names.stream(dataset), Records=records)
        out = tmp_path / "stream"
        done = run(
            [
                "-m",
                "local_stack.notebook_runner",
                "stream",
                "--user-id",
                user.config.user_id,
                "--out",
                str(out),
            ],
            tmp_path,
            timeout=240,
        )
    assert "stream run:" in done.stdout
    assert len(list((out / "tables").glob("*_table/_delta_log"))) == 3
