"""CLI of the local notebook runner.

python -m local_stack.notebook_runner batch --lake <dir|s3://bucket> --user-id <id> --out <dir>
python -m local_stack.notebook_runner stream --user-id <id> --out <dir> [--trigger availableNow|processingTime]
python -m local_stack.notebook_runner run <notebook.py> [--widget name=value ...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from databricks_local.adapter import SecretError, WidgetError
from databricks_local.lake import LakeError
from notebooks.pinterest_pipeline.names import INITIAL_POSITIONS, TRIGGERS

DESCRIPTION = """Run Databricks source notebooks (.py) on local Spark.

batch  runs notebooks/batch.py on a lake (a directory laid out like the bucket, or s3://bucket served by the
       local stack at AWS_ENDPOINT_URL, default http://127.0.0.1:4566) and writes OUT/<result>.csv for the nine
       results, OUT/cleaned/<dataset>/ and OUT/rejected/<dataset>/ (Delta tables) and OUT/report.html.
stream runs notebooks/stream.py on the local stack's Kinesis streams streaming-<user_id>-pin|geo|user and MERGEs
       what they hold into the Delta tables OUT/tables/<prefix>_<dataset>_table, with checkpoints in
       OUT/checkpoints/<dataset>: a second run reads only what arrived since. availableNow (default) stops once
       the streams are drained; processingTime runs a micro-batch every --interval until Ctrl-C.
run    runs any notebook: %run, %md and %sql cells are understood; spark, dbutils (widgets, secrets from
       DATABRICKS_SECRET_<SCOPE>_<KEY>, fs with /mnt mounts) and display are provided.
class-archive
       records the classes Spark loads into a JVM class archive under .cache/spark/ (make setup runs it), which
       roughly halves Spark's start-up in every later run; safe to delete.
"""


def _widget(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected name=value, got {text!r}")
    return name.strip(), value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m local_stack.notebook_runner",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    batch = commands.add_parser(
        "batch", help="run the batch notebook and write CSVs, Parquet and report.html"
    )
    batch.add_argument("--lake", required=True, help="lake directory or s3://bucket[/prefix]")
    batch.add_argument("--user-id", required=True, help="user id: topics <user_id>.pin|geo|user")
    batch.add_argument("--out", required=True, type=Path, help="output directory")
    batch.add_argument("--verbose", action="store_true", help="print each cell and displayed results")
    stream = commands.add_parser(
        "stream",
        help="run the stream notebook: Kinesis -> Delta tables",
        description=(
            "Run notebooks/stream.py on local Spark against the local stack's Kinesis streams (AWS_ENDPOINT_URL, "
            "default the stack's LocalStack). Each dataset's new events are cleaned like the batch path and merged "
            "on ind into the Delta table <out>/tables/<prefix>_<dataset>_table, with its checkpoint under "
            "<out>/checkpoints: a rerun reads only records it has not read yet; rm -r <out> starts over."
        ),
    )
    stream.add_argument("--user-id", required=True, help="user id: streams streaming-<user_id>-pin|geo|user")
    stream.add_argument("--out", required=True, type=Path, help="tables and checkpoints directory (kept)")
    stream.add_argument(
        "--trigger",
        choices=TRIGGERS,
        default=TRIGGERS[0],
        help="availableNow: drain the streams and stop (default); processingTime: run until Ctrl-C",
    )
    stream.add_argument(
        "--interval", default="10 seconds", help="micro-batch interval of processingTime (default 10 seconds)"
    )
    stream.add_argument(
        "--initial-position",
        choices=INITIAL_POSITIONS,
        default=INITIAL_POSITIONS[0],
        help="where a new checkpoint starts reading (default trim_horizon: everything retained)",
    )
    stream.add_argument("--verbose", action="store_true", help="print each cell")
    run = commands.add_parser("run", help="run one notebook file")
    run.add_argument("notebook", type=Path, help="notebook source file (.py)")
    run.add_argument(
        "--widget",
        action="append",
        type=_widget,
        default=[],
        metavar="NAME=VALUE",
        help="widget value (repeatable)",
    )
    run.add_argument("--quiet", action="store_true", help="do not print the cells as they run")
    commands.add_parser("class-archive", help="build the JVM class archive that speeds up Spark's start-up")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from databricks_local.runner import NotebookError

    try:
        if args.command == "class-archive":
            from databricks_local.session import build_class_archive

            print(f"class archive: {build_class_archive()}")
        elif args.command == "batch":
            from local_stack.notebook_runner.batch import run_batch

            print(run_batch(args.lake, args.user_id, args.out, echo=args.verbose).summary())
        elif args.command == "stream":
            from local_stack.notebook_runner.stream import run_stream

            result = run_stream(
                args.user_id,
                args.out,
                trigger=args.trigger,
                interval=args.interval,
                initial_position=args.initial_position,
                echo=args.verbose,
            )
            print(result.summary())
        else:
            from databricks_local.runner import run_notebook
            from databricks_local.session import local_spark

            if not args.notebook.is_file():
                raise LakeError(f"notebook {args.notebook} not found")
            spark = local_spark()
            run = run_notebook(
                args.notebook,
                spark,
                widgets=dict(args.widget),
                echo_md=not args.quiet,
                log=None if args.quiet else lambda line: print(f"-- {line}", file=sys.stderr),
            )
            print(f"{args.notebook}: {len(run.cells)} cells in {run.seconds:.1f} s")
            print(f"tables written to the local warehouse {spark.conf.get('spark.sql.warehouse.dir')}")
    except (NotebookError, LakeError, WidgetError, SecretError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("stopped (Ctrl-C); a stream run continues from its checkpoints next time", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
