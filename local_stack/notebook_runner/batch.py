"""`run_batch`: the batch notebook on local Spark, exported as CSVs, Parquet and an HTML report.

Runs `notebooks/batch.py` with widgets `user_id`, `lake_access=direct`, `bucket=<lake>` inside a fresh database
whose tables live under `OUT/.tables`, then writes `OUT/<result>.csv` (header, exact columns, one file per result),
`OUT/cleaned/<dataset>/` (the cleaned tables: Delta tables, as on Databricks), `OUT/rejected/<dataset>/` and
`OUT/report.html`.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from databricks_local import delta
from databricks_local.lake import LakeError, S3Location, S3Mirror, is_s3, s3_client
from databricks_local.runner import run_notebook
from databricks_local.session import local_spark
from local_stack.lake_layout import TOPICS_DIR
from local_stack.notebook_runner.report import write_report
from notebooks.pinterest_pipeline.names import (
    DATASETS,
    RESULT_NAMES,
    batch_table,
    counts_table,
    rejected_table,
    result_table,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
#: Up to this much JSON, Spark's quick start (C1 JIT only, two shuffle partitions) is faster than the full JIT:
#: measured 26.6 s -> 19.0 s on 11k events (8 MB) and 30.6 s -> 25.1 s on 100k (75 MB). Beyond a few hundred MB
#: the full JIT wins: C1's code parses JSON four times slower.
QUICK_START_MAX_BYTES = 200 * 1024 * 1024
BATCH_NOTEBOOK = REPO_ROOT / "notebooks" / "batch.py"
_RUNS = itertools.count(1)


@dataclass
class DatasetCounts:
    """Rows of one dataset: read from the lake, rejected, collapsed as duplicates, left after cleaning."""

    read: int
    rejected: int
    duplicates_removed: int
    cleaned: int


@dataclass
class BatchRunResult:
    """What `run_batch` produced and measured."""

    out: Path
    counts: dict[str, DatasetCounts]
    result_rows: dict[str, int]
    csv_paths: dict[str, Path]
    report_path: Path
    elapsed_seconds: float
    notebook_seconds: float
    results: dict[str, Any] = field(default_factory=dict, repr=False)  # name -> pandas DataFrame
    exit_value: str | None = (
        None  # the notebook's `dbutils.notebook.exit` value (what the Airflow DAG checks)
    )

    def summary(self) -> str:
        lines = [f"batch run: {self.elapsed_seconds:.1f} s (notebook {self.notebook_seconds:.1f} s)"]
        for dataset, c in self.counts.items():
            lines.append(
                f"  {dataset:<5} read {c.read:>9,}  rejected {c.rejected:>7,}  duplicates {c.duplicates_removed:>7,}"
                f"  cleaned {c.cleaned:>9,}"
            )
        for name, rows in self.result_rows.items():
            lines.append(f"  {name:<46} {rows:>5} rows  {self.csv_paths[name]}")
        lines.append(f"report: {self.report_path}")
        return "\n".join(lines)


def check_lake(lake: str) -> str:
    """The lake argument as the notebook's `bucket` widget: an absolute directory or an `s3://` URI."""
    if is_s3(lake):
        return lake.rstrip("/")
    path = Path(lake).absolute()
    if not path.is_dir():
        raise LakeError(
            f"lake directory {path} does not exist (give a directory laid out like the bucket or s3://)"
        )
    if not (path / TOPICS_DIR).is_dir():
        raise LakeError(
            f"{path} has no {TOPICS_DIR}/ folder: not a lake laid out like the bucket "
            "(docs/data-contracts.md 3.4)"
        )
    return str(path)


def lake_bytes(lake: str) -> int:
    """Bytes of JSON under the lake's `topics/` (an `s3://` lake is listed, not downloaded)."""
    if not is_s3(lake):
        return sum(path.stat().st_size for path in (Path(lake) / TOPICS_DIR).rglob("*.json"))
    location = S3Location.parse(lake)
    prefix = f"{location.prefix}/{TOPICS_DIR}/".lstrip("/")
    pages = s3_client(location.access_key, location.secret_key).get_paginator("list_objects_v2")
    try:
        return sum(
            obj["Size"]
            for page in pages.paginate(Bucket=location.bucket, Prefix=prefix)
            for obj in page.get("Contents", [])
        )
    except Exception as error:
        raise LakeError(f"cannot list {lake}/{TOPICS_DIR}/: {error}") from None


def run_batch(
    lake: str, user_id: str, out: str | Path, spark: Any = None, echo: bool = False
) -> BatchRunResult:
    """Run the batch notebook on the lake `lake` (directory or `s3://bucket[/prefix]`) of `user_id` into `out`."""
    started = time.perf_counter()
    bucket = check_lake(str(lake))
    out = Path(out).absolute()
    out.mkdir(parents=True, exist_ok=True)
    tables_dir = out / ".tables"
    for stale in (tables_dir, out / "cleaned", out / "rejected"):
        shutil.rmtree(stale, ignore_errors=True)
    spark = spark or local_spark(quick_start=lake_bytes(bucket) <= QUICK_START_MAX_BYTES)
    database = f"batch_run_{os.getpid()}_{next(_RUNS)}"
    previous = spark.catalog.currentDatabase()
    spark.sql(f"CREATE DATABASE {database} LOCATION '{tables_dir.as_posix()}'")
    try:
        spark.catalog.setCurrentDatabase(database)
        widgets = {"user_id": user_id, "lake_access": "direct", "bucket": bucket}
        mirror = S3Mirror(out / ".lake-cache")
        display = None if echo else (lambda *args, **kwargs: None)
        from databricks_local.runner import make_namespace

        namespace = make_namespace(spark, widgets, mirror, display)
        run = run_notebook(BATCH_NOTEBOOK, spark, namespace=namespace, log=_timed_printer() if echo else None)
        result_tables = {name: result_table(user_id, name) for name in RESULT_NAMES}
        rows = {row["dataset"]: row for row in delta.read(spark, counts_table(user_id)).collect()}
        counts = {
            d: DatasetCounts(
                rows[d]["read"], rows[d]["rejected"], rows[d]["duplicates_removed"], rows[d]["cleaned"]
            )
            for d in DATASETS
        }
        # Nine small reads: from a few threads, each one's planning and scheduling overlaps the others'.
        with ThreadPoolExecutor(max_workers=4) as pool:
            frames = pool.map(
                lambda table: _ordered(delta.read(spark, table).toPandas()), result_tables.values()
            )
            results = dict(zip(result_tables, frames, strict=True))
    finally:
        spark.catalog.setCurrentDatabase(previous)
    csv_paths = {}
    for name, frame in results.items():
        csv_paths[name] = out / f"{name}.csv"
        frame.to_csv(csv_paths[name], index=False)
    for dataset in DATASETS:
        _move(
            delta.table_path(spark, f"{database}.{batch_table(user_id, dataset)}"), out / "cleaned" / dataset
        )
        _move(
            delta.table_path(spark, f"{database}.{rejected_table(user_id, dataset)}"),
            out / "rejected" / dataset,
        )
    spark.sql(f"DROP DATABASE IF EXISTS {database} CASCADE")
    shutil.rmtree(tables_dir, ignore_errors=True)
    result_rows = {name: len(frame) for name, frame in results.items()}
    if run.exit_value is None or json.loads(run.exit_value) != result_rows:
        raise RuntimeError(f"the notebook reported {run.exit_value}, the result tables hold {result_rows}")
    result = BatchRunResult(
        out=out,
        counts=counts,
        result_rows=result_rows,
        csv_paths=csv_paths,
        report_path=out / "report.html",
        elapsed_seconds=0.0,
        notebook_seconds=run.seconds,
        results=results,
        exit_value=run.exit_value,
    )
    result.elapsed_seconds = time.perf_counter() - started
    write_report(result, lake=str(lake), user_id=user_id)
    return result


AGE_ORDER = {"18-24": 0, "25-35": 1, "36-50": 2, "+50": 3}


def _ordered(frame: Any) -> Any:
    """Rows sorted by every column (age groups in age order), index reset."""
    if frame.empty:
        return frame
    keys = list(frame.columns)
    return frame.sort_values(
        keys, key=lambda s: s.map(AGE_ORDER) if s.name == "age_group" else s, kind="stable"
    ).reset_index(drop=True)


def _move(source: Path, target: Path) -> None:
    if source.is_dir():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(source), str(target))


def _timed_printer() -> Any:
    """A log function that prefixes each line with the seconds since the run started."""
    started = time.perf_counter()
    return lambda line: print(f"[{time.perf_counter() - started:7.1f} s] {line}", flush=True)
