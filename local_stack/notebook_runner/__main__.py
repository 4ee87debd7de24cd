"""CLI of the local notebook runner.

python -m local_stack.notebook_runner batch --lake <dir|s3://bucket> --user-id <id> --out <dir>
python -m local_stack.notebook_runner stream --user-id <id> --out <dir> [--trigger availableNow|processingTime]
python -m local_stack.notebook_runner run [--workspace DIR] [--widget NAME=VALUE]... [--available-now]
    [--result FILE] NOTEBOOK...
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from databricks_local.dbutils import SecretError, WidgetError
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
run    runs Databricks notebooks (source .py or .ipynb exports) one after another on one local cluster, each in
       its own SparkSession (tables and global_temp views shared): %run (with $name="value" arguments), %md,
       %sql, %pip (a no-op) and titled cells; spark, dbutils (widgets, secrets from
       DATABRICKS_SECRET_<SCOPE>_<KEY>, fs with /mnt mounts, notebook.run/exit), display and
       databricks.sdk.runtime in imported modules. Exit 0 only if every notebook succeeded.
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
    run = commands.add_parser(
        "run",
        help="run Databricks notebooks on one local cluster",
        description=(
            "Run the notebooks one after another on one local Spark cluster, each in its own session, as notebooks "
            "attached to one Databricks cluster. Absolute workspace paths in %run and dbutils.notebook.run "
            "(/Users/<email>/..., /Workspace/..., /Repos/..., /Shared/...) resolve under --workspace."
        ),
    )
    run.add_argument("notebook", type=Path, nargs="+", help="notebook files (.py source or .ipynb)")
    run.add_argument(
        "--workspace",
        type=Path,
        metavar="DIR",
        help="local workspace root for absolute notebook paths (default: the notebook's folder)",
    )
    run.add_argument(
        "--available-now",
        action="store_true",
        help="run every streaming query with the availableNow trigger and wait until it has drained",
    )
    run.add_argument(
        "--result", type=Path, metavar="FILE", help="write each notebook's outcome as a JSON list"
    )
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
            return _run(args)
    except (NotebookError, LakeError, WidgetError, SecretError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("stopped (Ctrl-C); a stream run continues from its checkpoints next time", file=sys.stderr)
        return 130
    return 0


def _run(args: argparse.Namespace) -> int:
    """`run`: the notebooks on one cluster; 0 only if every one succeeded (usage errors: 2)."""
    from databricks_local.source import NOTEBOOK_SUFFIXES

    for path in args.notebook:
        if not path.is_file():
            print(f"error: notebook {path} not found", file=sys.stderr)
            return 2
        if path.suffix not in NOTEBOOK_SUFFIXES:
            print(f"error: {path}: a notebook is a .py source file or an .ipynb export", file=sys.stderr)
            return 2
    if args.workspace is not None and not args.workspace.is_dir():
        print(f"error: workspace {args.workspace} is not a directory", file=sys.stderr)
        return 2
    from databricks_local.cluster import Cluster
    from databricks_local.dbutils import set_secret_store
    from databricks_local.runner import NotebookResult, run_notebooks
    from databricks_local.workspace.secrets import SecretFileStore

    # A run of the local workspace hands its secret scopes over in a 0600 file (DATABRICKS_LOCAL_SECRETS_FILE).
    set_secret_store(SecretFileStore.from_environment())
    results: list[NotebookResult] = []

    def record(result: NotebookResult) -> None:
        results.append(result)
        if result.state == "SUCCESS":
            exit_note = f", exit value {result.exit_value!r}" if result.exit_value is not None else ""
            print(f"{result.notebook}: SUCCESS in {result.seconds:.1f} s{exit_note}")
        else:
            print(
                f"{result.notebook}: FAILED in {result.seconds:.1f} s\nerror: {result.error}", file=sys.stderr
            )
        if args.result:
            _write_result(args.result, results)

    cluster = Cluster(available_now=args.available_now)
    cluster.handle_ctrl_c()
    try:
        run_notebooks(
            args.notebook,
            cluster,
            widgets=dict(args.widget),
            workspace=args.workspace,
            echo_md=not args.quiet,
            log=None if args.quiet else lambda line: print(f"-- {line}", file=sys.stderr),
            on_result=record,
        )
    finally:
        if args.result:
            _write_result(args.result, results)
    print(f"tables in the local warehouse {cluster.root.conf.get('spark.sql.warehouse.dir')}")
    return 0 if results and all(r.state == "SUCCESS" for r in results) else 1


def _write_result(path: Path, results: list) -> None:
    """The outcomes as a JSON list, in a file only its owner reads (0600): a trace may quote data."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump([r.as_json() for r in results], handle, indent=2)
        handle.write("\n")
    os.chmod(partial, 0o600)
    os.replace(partial, path)


if __name__ == "__main__":
    sys.exit(main())
