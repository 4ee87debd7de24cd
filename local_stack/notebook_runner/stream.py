"""`run_stream`: the stream notebook on local Spark, reading the local stack's Kinesis into Delta tables.

Runs `notebooks/stream.py` with widgets `user_id`, `checkpoint_root=<out>/checkpoints` and the trigger, inside a
database whose tables live under `<out>/tables` (kept between runs, as the Databricks tables are: the next run
MERGEs into them and its checkpoints make it read only what is new). Kinesis is the local stack's
(`AWS_ENDPOINT_URL`, default `http://127.0.0.1:4566`), read by `kinesis_source.py`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from databricks_local import delta
from databricks_local.runner import make_namespace, run_notebook
from databricks_local.session import local_spark
from notebooks.pinterest_pipeline.names import (
    DATASETS,
    TRIGGERS,
    stream_name,
    stream_rejected_table,
    stream_table,
    table_prefix,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
SHUFFLE_PARTITIONS = "spark.sql.shuffle.partitions"
#: The stream notebook's micro-batches are small (a second of three streams): one shuffle partition for the MERGE's
#: one-row-per-`ind` step, where Databricks' adaptive execution would coalesce to one too. A micro-batch of 5 pin
#: records is collected in 40 ms with 1 partition and 100 ms with 2 (the tests' session); 11,000 records need no more.
STREAM_SHUFFLE_PARTITIONS = "1"
STREAM_NOTEBOOK = REPO_ROOT / "notebooks" / "stream.py"


@dataclass
class StreamRunResult:
    """What `run_stream` left: rows per stream table (and rejected records), where, and how long it took."""

    out: Path
    table_rows: dict[str, int]
    rejected_rows: dict[str, int]
    table_paths: dict[str, Path]
    elapsed_seconds: float
    notebook_seconds: float
    namespace: dict[str, Any] = field(default_factory=dict, repr=False)

    def summary(self) -> str:
        lines = [f"stream run: {self.elapsed_seconds:.1f} s (notebook {self.notebook_seconds:.1f} s)"]
        for dataset, table in zip(DATASETS, self.table_rows, strict=True):
            lines.append(
                f"  {table:<28} {self.table_rows[table]:>9,} rows  rejected {self.rejected_rows[dataset]:>6,}"
                f"  {self.table_paths[table]}"
            )
        return "\n".join(lines)


def check_streams(user_id: str) -> None:
    """Fail clearly unless the three streams of `user_id` exist (the notebook's own error would be a Java trace)."""
    from databricks_local.lake import LakeError, aws_client

    client = aws_client("kinesis")
    for dataset in DATASETS:
        stream = stream_name(user_id, dataset)
        try:
            client.describe_stream_summary(StreamName=stream)
        except client.exceptions.ResourceNotFoundException:
            raise LakeError(
                f"Kinesis stream {stream} does not exist at {client.meta.endpoint_url}: check USER_ID "
                "(`make local-up` creates the streams of its USER_ID)"
            ) from None
        except Exception as error:
            raise LakeError(
                f"cannot reach Kinesis at {client.meta.endpoint_url} ({type(error).__name__}: {error}); "
                "is the local stack up? (`make local-up`)"
            ) from None


def stream_database(spark: Any, user_id: str, out: Path) -> str:
    """The database (created if needed) whose tables live in `<out>/tables`."""
    name = f"stream_{table_prefix(user_id)}".lower()
    tables = (out / "tables").absolute()
    tables.mkdir(parents=True, exist_ok=True)
    spark.sql(f"CREATE DATABASE IF NOT EXISTS `{name}` LOCATION '{tables.as_posix()}'")
    return name


def run_stream(
    user_id: str,
    out: str | Path,
    *,
    trigger: str = "availableNow",
    interval: str = "10 seconds",
    initial_position: str = "trim_horizon",
    spark: Any = None,
    echo: bool = False,
    namespace: dict[str, Any] | None = None,
) -> StreamRunResult:
    """Run the stream notebook for `user_id`, its tables and checkpoints under `out`; return the row counts.

    `trigger="availableNow"` returns once everything the streams hold is in the tables; `processingTime` runs
    until the queries are stopped (`spark.streams`, from another thread) or fail. `namespace` lets a caller see
    the notebook's globals (its `QUERIES`) while it runs.
    """
    if trigger not in TRIGGERS:
        raise ValueError(f"trigger must be one of {', '.join(TRIGGERS)}, not {trigger!r}")
    started = time.perf_counter()
    check_streams(user_id)
    out = Path(out).absolute()
    spark = spark or local_spark()
    database = stream_database(spark, user_id, out)
    widgets = {
        "user_id": user_id,
        "trigger": trigger,
        "interval": interval,
        "initial_position": initial_position,
        "checkpoint_root": str(out / "checkpoints"),
    }
    namespace = namespace if namespace is not None else {}
    namespace.update(make_namespace(spark, widgets, display=None if echo else (lambda *args, **kwargs: None)))
    previous = spark.catalog.currentDatabase(), spark.conf.get(SHUFFLE_PARTITIONS)
    spark.catalog.setCurrentDatabase(database)
    spark.conf.set(SHUFFLE_PARTITIONS, STREAM_SHUFFLE_PARTITIONS)  # each query keeps the conf it started with
    try:
        run = run_notebook(STREAM_NOTEBOOK, spark, namespace=namespace, log=print if echo else None)
        tables = {stream_table(user_id, d): f"{database}.{stream_table(user_id, d)}" for d in DATASETS}
        rows = {table: delta.read(spark, qualified).count() for table, qualified in tables.items()}
        rejected = {}
        for dataset in DATASETS:
            name = f"{database}.{stream_rejected_table(user_id, dataset)}"
            rejected[dataset] = delta.read(spark, name).count() if delta.exists(spark, name) else 0
        paths = {table: delta.table_path(spark, qualified) for table, qualified in tables.items()}
    finally:
        spark.catalog.setCurrentDatabase(previous[0])
        spark.conf.set(SHUFFLE_PARTITIONS, previous[1])
    if run.exit_value is not None and json.loads(run.exit_value) != rows:
        raise RuntimeError(f"the notebook reported {run.exit_value}, the tables hold {rows}")
    return StreamRunResult(
        out=out,
        table_rows=rows,
        rejected_rows=rejected,
        table_paths=paths,
        elapsed_seconds=time.perf_counter() - started,
        notebook_seconds=run.seconds,
        namespace=namespace,
    )
