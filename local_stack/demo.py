"""`make demo`: both paths of the pipeline on one machine, ending with what landed.

Brings the local stack up (idempotent), seeds the synthetic source database, then:

* batch: posts every event through the local API Gateway to the Kafka topics, waits until the S3 sink has written
  every accepted record to the lake, checks that every generated event's three records are there (after removing
  at-least-once duplicates) and runs the batch notebook as production does: the Airflow DAG under Airflow 3.0.6
  triggers the bundle's batch job in the local Databricks workspace, whose run executes the notebook on local Spark
  over the lake, and checks the nine results (`make run-dag`; it imports and deploys first when needed);
* stream: starts from empty Kinesis streams and new stream checkpoints (`fresh_streams`: on a running stack the
  streams still hold the last demo's records, and LocalStack's Kinesis engine slows down as they fill, see
  `local_stack/kinesis_streams.py`), puts every event through the API Gateway into the streams, runs the stream
  notebook (`availableNow`) into its Delta tables (kept between runs: the MERGE on `ind` adds no second row for an
  event posted again) and checks that each table holds one row per distinct posted event.

It prints a summary table for each and leaves the stack running (`make local-down` stops it).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from emulation.batch import run_batch as emulate_batch
from emulation.config import load_config
from emulation.names import SOURCE_TABLES, PipelineNames
from emulation.source_db import DEFAULT_DB_URL, KEY, seed_database
from emulation.stream import run_stream as emulate_stream
from local_stack.lake_layout import lake_counts, read_lake_values, wait_for_lake_counts
from local_stack.supervisor import Stack, StackInfo


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local_stack.demo",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rows", type=int, default=11_000, help="events to generate (default 11,000)")
    parser.add_argument("--seed", type=int, default=42, help="generator seed (default 42)")
    parser.add_argument(
        "--stream-out",
        type=Path,
        default=Path("out/stream"),
        help="stream tables and checkpoints, kept between runs (default out/stream, as make run-stream)",
    )
    parser.add_argument(
        "--skip-notebook", action="store_true", help="no DAG run (batch notebook) after the lake check"
    )
    parser.add_argument("--skip-stream", action="store_true", help="no stream path")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    stack = Stack()
    info = stack.up()
    s3 = stack.s3()  # the lake's client, for counting what landed
    names = PipelineNames(info.user_id)

    print(f"\n== seeding {args.rows:,} events into {DEFAULT_DB_URL}")
    seeded = seed_database(DEFAULT_DB_URL, args.rows, args.seed)
    events = {
        table: _distinct_indices(table) for table in SOURCE_TABLES.values()
    }  # what every path must deliver

    before = lake_counts(s3, info.bucket, info.user_id)  # the lake keeps earlier runs' records

    print("\n== batch emulation through the API Gateway")
    report = emulate_batch(load_config(user_id=info.user_id), from_start=True)
    print(report.summary())

    print("\n== waiting for the S3 sink")
    expected = {
        names.topic(ds): before.get(names.topic(ds), 0) + report.tables[table].accepted
        for ds, table in SOURCE_TABLES.items()
    }
    wait_for_lake_counts(s3, info.bucket, info.user_id, expected, timeout=180)

    rows, ok = [], True
    for dataset, table in SOURCE_TABLES.items():
        topic = names.topic(dataset)
        values = read_lake_values(s3, info.bucket, topic)
        keys = {v.get(KEY[table]) for v in values}
        missing = len(events[table] - keys)
        ok &= missing == 0
        rows.append(
            (topic, seeded[table], report.tables[table].accepted, len(values), len(events[table]), missing)
        )
    elapsed = time.perf_counter() - started

    print(f"\n{'topic':<14} {'seeded':>8} {'accepted':>9} {'in lake':>8} {'events':>9} {'missing':>7}")
    for r in rows:
        print(f"{r[0]:<14} {r[1]:>8,} {r[2]:>9,} {r[3]:>8,} {r[4]:>9,} {r[5]:>7,}")
    print(
        f"emulation: {report.accepted:,} records in {report.elapsed:.1f} s "
        f"({report.records_per_s:,.0f} records/s); lake s3://{info.bucket}/topics/"
    )
    if not ok:
        print("error: some generated events are missing from the lake (see the table above)", file=sys.stderr)
        return _finish(started, 1)

    print(f"\nbatch path: stack, seed, emulate, lake check in {elapsed:.0f} s")
    if not args.skip_notebook:
        from local_stack.run_dag import RunDagError, run_dag

        print("\n== the Airflow DAG: the batch job in the local Databricks workspace runs the batch notebook")
        try:
            dag_run = run_dag(user_id=info.user_id)
        except RunDagError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return _finish(started, 1)
        print(dag_run.summary())
        if not dag_run.ok:
            print(f"error: the DAG run failed (Airflow's log: {dag_run.log})", file=sys.stderr)
            return _finish(started, 1)
    if not args.skip_stream and not stream_path(info, args.stream_out, events):
        return _finish(started, 1)
    return _finish(started, 0)


def fresh_streams(info: StackInfo, out: Path) -> list[str]:
    """Empty the Kinesis streams of `info`'s user that hold records (recreated as they were) and delete the stream
    notebook's checkpoints under `out` (they point into the streams as they were); the tables stay. The names of
    the streams emptied."""
    from local_stack.aws import localstack_client
    from local_stack.kinesis_streams import empty_streams

    kinesis = localstack_client(
        "kinesis", endpoint_url=info.localstack_url, region=info.outputs.get("region")
    )
    emptied = empty_streams(kinesis, PipelineNames(info.user_id).streams.values())
    shutil.rmtree(out / "checkpoints", ignore_errors=True)
    return emptied


def stream_path(info: StackInfo, out: Path, events: dict[str, set[int]]) -> bool:
    """Emulate the stream path into empty streams and run the stream notebook; True when each of `events`
    (distinct indices by source table) has its row."""
    from databricks_local.delta import read_inds
    from local_stack.notebook_runner.stream import run_stream as run_stream_notebook

    user_id = info.user_id
    names = PipelineNames(user_id)
    emptied = fresh_streams(info, out)
    if emptied:
        print(
            f"\n== emptied the Kinesis streams {', '.join(emptied)} (they held the last run's records; "
            "LocalStack's Kinesis engine slows down as its streams fill) and the stream checkpoints"
        )
    print("\n== stream emulation through the API Gateway")
    report = emulate_stream(load_config(user_id=user_id), from_start=True)
    print(report.summary())

    print("\n== stream notebook on local Spark (availableNow)")
    result = run_stream_notebook(user_id, out)
    print(result.summary())

    ok = True
    print(f"\n{'table':<28} {'posted':>8} {'events':>8} {'rows':>8} {'missing':>8} {'rejected':>8}")
    for dataset, table in SOURCE_TABLES.items():
        expected = events[table]
        rows = read_inds(result.table_paths[names.table(dataset)])
        missing = len(expected - rows)
        ok &= missing == 0
        print(
            f"{names.table(dataset):<28} {report.tables[table].accepted:>8,} {len(expected):>8,} {len(rows):>8,} "
            f"{missing:>8,} {result.rejected_rows[dataset]:>8,}"
        )
        if len(rows) > len(expected):
            print(
                f"  ({len(rows) - len(expected):,} rows from earlier runs with other data: rm -r {out} to start over)"
            )
    print(
        f"stream emulation: {report.accepted:,} records in {report.elapsed:.1f} s "
        f"({report.records_per_s:,.0f} records/s); stream tables in {out / 'tables'}"
    )
    if not ok:
        print(
            "error: some posted events have no row in the stream tables (see the table above)",
            file=sys.stderr,
        )
    return ok


def _finish(started: float, code: int) -> int:
    print(
        f"\ndemo finished in {time.perf_counter() - started:.0f} s; the local stack is still running "
        "(`make local-down` stops it)"
    )
    return code


def _distinct_indices(table: str) -> set[int]:
    from sqlalchemy import create_engine, text

    column = KEY[table]
    engine = create_engine(DEFAULT_DB_URL)
    with engine.connect() as conn:
        return {row[0] for row in conn.execute(text(f'SELECT DISTINCT "{column}" FROM {table}'))}


if __name__ == "__main__":
    sys.exit(main())
