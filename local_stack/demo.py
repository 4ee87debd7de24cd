"""`make demo`: the whole batch path on one machine, ending with what landed.

Brings the local stack up (idempotent), seeds the synthetic source database, posts every event through the local
API Gateway to the Kafka topics, waits until the S3 sink has written every accepted record to the lake, checks
that every generated event's three records are there (after removing at-least-once duplicates), runs the batch
notebook on local Spark over the lake and prints a summary table.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from emulation.batch import run_batch as emulate_batch
from emulation.config import load_config
from emulation.names import SOURCE_TABLES, PipelineNames
from emulation.source_db import DEFAULT_DB_URL, seed_database
from local_stack.lake_layout import lake_counts, read_lake_values, wait_for_lake_counts
from local_stack.supervisor import Stack

KEY_COLUMN = {"pin": "index", "geo": "ind", "user": "ind"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local_stack.demo",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rows", type=int, default=11_000, help="events to generate (default 11,000)")
    parser.add_argument("--seed", type=int, default=42, help="generator seed (default 42)")
    parser.add_argument(
        "--out", type=Path, default=Path("out/batch"), help="notebook outputs (default out/batch)"
    )
    parser.add_argument("--skip-notebook", action="store_true", help="stop after the lake check")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    stack = Stack()
    info = stack.up()
    s3 = stack.s3()  # the lake's client, for counting what landed
    names = PipelineNames(info.user_id)

    print(f"\n== seeding {args.rows:,} events into {DEFAULT_DB_URL}")
    seeded = seed_database(DEFAULT_DB_URL, args.rows, args.seed)

    before = lake_counts(s3, info.bucket, info.user_id)  # the lake keeps earlier runs' records

    print("\n== batch emulation through the API Gateway")
    emulated_at = time.perf_counter()
    report = emulate_batch(load_config(user_id=info.user_id), from_start=True)
    emulate_seconds = time.perf_counter() - emulated_at
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
        keys = {v.get(KEY_COLUMN[dataset]) for v in values}
        events = _distinct_indices(table)
        missing = len(events - keys)
        ok &= missing == 0
        rows.append((topic, seeded[table], report.tables[table].accepted, len(values), len(events), missing))
    elapsed = time.perf_counter() - started

    print(f"\n{'topic':<14} {'seeded':>8} {'accepted':>9} {'in lake':>8} {'events':>9} {'missing':>7}")
    for r in rows:
        print(f"{r[0]:<14} {r[1]:>8,} {r[2]:>9,} {r[3]:>8,} {r[4]:>9,} {r[5]:>7,}")
    print(
        f"emulation: {report.accepted:,} records in {emulate_seconds:.1f} s "
        f"({report.accepted / emulate_seconds:,.0f} records/s); lake s3://{info.bucket}/topics/"
    )
    if not ok:
        print("error: some generated events are missing from the lake (see the table above)", file=sys.stderr)
        return 1

    if not args.skip_notebook:
        from local_stack.notebook_runner.batch import run_batch as run_notebook

        print("\n== batch notebook on local Spark")
        result = run_notebook(f"s3://{info.bucket}", info.user_id, args.out)
        print(result.summary())
    print(
        f"\ndemo finished in {time.perf_counter() - started:.0f} s (stack, seed, emulate, lake check: {elapsed:.0f} s)"
    )
    return 0


def _distinct_indices(table: str) -> set[int]:
    from sqlalchemy import create_engine, text

    column = "index" if table == "pinterest_data" else "ind"
    engine = create_engine(DEFAULT_DB_URL)
    with engine.connect() as conn:
        return {row[0] for row in conn.execute(text(f'SELECT DISTINCT "{column}" FROM {table}'))}


if __name__ == "__main__":
    sys.exit(main())
