"""`python -m emulation seed|batch|stream`: seed the source database, emulate the batch or the stream path.

Configuration: flags > environment > .env > terraform outputs (see emulation/config.py and .env.example).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from emulation.batch import run_batch
from emulation.config import DEFAULT_DB_URL, ENV_NAMES, TARGETS, Config, ConfigError, load_config
from emulation.poster import KINESIS_MAX_RECORDS, DeliveryError, RetryPolicy
from emulation.runner import DEFAULT_BATCH_SIZES, DEFAULT_WORKERS, MODES, EmulationOptions, EmulationReport
from emulation.source_db import SourceDBError, safe_url, seed_database
from emulation.stream import run_stream

EXIT_INTERRUPTED = 130


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0 records/s, got {value}")
    return value


def _add_target_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("where to post (default: environment, .env, then terraform outputs)")
    group.add_argument(
        "--user-id", help=f"names the topics/streams (env {ENV_NAMES['user_id']}; default demo)"
    )
    group.add_argument("--api-url", help=f"API Gateway invoke URL (env {ENV_NAMES['api_url']})")
    group.add_argument(
        "--api-key", help=f"API key (env {ENV_NAMES['api_key']}; prefer the environment or .env to a flag)"
    )
    group.add_argument(
        "--db-url", help=f"source database URL (env {ENV_NAMES['db_url']}; default {DEFAULT_DB_URL})"
    )
    group.add_argument(
        "--target", choices=TARGETS, help=f"terraform env to read outputs from (env {ENV_NAMES['target']})"
    )


def _add_delivery_options(parser: argparse.ArgumentParser, path: str, modes: str) -> None:
    parser.add_argument("--mode", choices=MODES, default="batched", help=modes)
    parser.add_argument(
        "--rows", type=_positive_int, help="rows per table to send in all (default: every row)"
    )
    parser.add_argument(
        "--batch-size",
        type=_positive_int,
        help=f"records per request in batched mode (default {DEFAULT_BATCH_SIZES[path]}"
        + (f", at most {KINESIS_MAX_RECORDS})" if path == "stream" else ")"),
    )
    parser.add_argument(
        "--rate", type=_rate, help="limit to this many records/s over all workers (default: none)"
    )
    parser.add_argument(
        "--workers",
        type=_positive_int,
        default=DEFAULT_WORKERS,
        help=f"concurrent posting threads in batched mode (default {DEFAULT_WORKERS})",
    )
    parser.add_argument("--random", action="store_true", help="the course's random-row reads (no checkpoint)")
    parser.add_argument("--seed", type=int, help="seed of the random-row reads (default: unseeded)")
    parser.add_argument(
        "--from-start", action="store_true", help="ignore the checkpoint and start from the first row"
    )
    parser.add_argument("--max-retries", type=int, default=5, help="retries per request (default 5)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m emulation",
        description="Emulate the Pinterest source: seed the source database and post its rows through the API.",
        epilog="Get the API URL and key with `make local-up` (local) or `make apply` (AWS); seed with `make seed`.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="{seed,batch,stream}")

    seed = sub.add_parser(
        "seed",
        help="write the synthetic source tables",
        description="Generate the three source tables (deterministic for a seed) and write them to the database, "
        "replacing existing tables. --rows counts rows per table, duplicate events included (about 3 %%).",
    )
    seed.add_argument("--rows", type=int, default=11_000, help="rows per table (default 11000)")
    seed.add_argument("--seed", type=int, default=42, help="generator seed (default 42)")
    seed.add_argument(
        "--db-url", help=f"SQLAlchemy URL (env {ENV_NAMES['db_url']}; default {DEFAULT_DB_URL})"
    )

    batch = sub.add_parser(
        "batch",
        help="post the source rows to the Kafka topics through the API",
        description="Read the source tables (in index order, or the course's random rows with --random) and POST "
        "each table's rows to /topics/<user_id>.pin|geo|user through the API Gateway. A checkpoint "
        "(.local/checkpoints/<user_id>-batch.json) lets a rerun continue where the last one stopped; records the "
        "API rejects for good go to .local/deadletter/<user_id>-batch.jsonl (.local: $PIPELINE_STATE_DIR when set). "
        "Ctrl-C stops cleanly (exit 130).",
    )
    _add_delivery_options(
        batch,
        "batch",
        "batched: many records per request over pooled connections, datetimes as ISO-8601 (default); course: the "
        "course's way, to compare: one record per request, a new connection each time, one thread, datetimes as "
        "YYYY-MM-DD HH:MM:SS",
    )
    _add_target_options(batch)

    stream = sub.add_parser(
        "stream",
        help="put the source rows into the Kinesis streams through the API",
        description="Read the source tables in index order and PUT each table's rows into the Kinesis streams "
        "streaming-<user_id>-pin|geo|user through the API Gateway: /streams/<stream>/records (PutRecords, at most "
        "500 per request; only the records the answer names as failed go again, throttled ones after a backoff) or, "
        "with --mode course, /streams/<stream>/record with the course's body {StreamName, Data, PartitionKey}. "
        "Checkpoint .local/checkpoints/<user_id>-stream.json; records rejected for good go to "
        ".local/deadletter/<user_id>-stream.jsonl (.local: $PIPELINE_STATE_DIR when set).",
    )
    _add_delivery_options(
        stream,
        "stream",
        "batched: PutRecords (/records), many records per request, datetimes as ISO-8601 (default); course: the "
        "course's call, PutRecord (/record) with {StreamName, Data, PartitionKey}, one record per request, a new "
        "connection each time, one thread, datetimes as YYYY-MM-DD HH:MM:SS",
    )
    _add_target_options(stream)
    return parser


def _config(args: argparse.Namespace) -> Config:
    return load_config(
        user_id=args.user_id,
        api_url=args.api_url,
        api_key=args.api_key,
        db_url=args.db_url,
        target=args.target,
    )


def _cmd_seed(args: argparse.Namespace) -> int:
    db_url = load_config(db_url=args.db_url, outputs=lambda _t: {}).db_url
    if args.rows < 0:
        raise ConfigError(f"--rows must be >= 0, got {args.rows}")
    counts = seed_database(db_url, rows=args.rows, seed=args.seed)
    print(
        f"seeded {safe_url(db_url)} (seed {args.seed}): " + ", ".join(f"{t} {n:,}" for t, n in counts.items())
    )
    return 0


def _run(args: argparse.Namespace, kind: str) -> int:
    config = _config(args)
    runner: Callable[..., EmulationReport] = run_batch if kind == "batch" else run_stream
    if kind == "stream" and (args.batch_size or 0) > KINESIS_MAX_RECORDS:
        raise ConfigError(
            f"--batch-size must be at most {KINESIS_MAX_RECORDS} for Kinesis, got {args.batch_size}"
        )
    options = EmulationOptions(
        rows=args.rows,
        batch_size=args.batch_size,
        rate=args.rate,
        mode=args.mode,
        random_rows=args.random,
        workers=args.workers,
        from_start=args.from_start,
        seed=args.seed,
        retry=RetryPolicy(attempts=max(args.max_retries, 0) + 1),
        progress=not args.no_progress,
    )
    try:
        report = runner(config, options)
    except DeliveryError as exc:
        unreachable = "cannot reach" in str(exc) and config.target == "local"
        hint = " (is the local stack up? `make local-up`)" if unreachable else ""
        print(f"error: {exc}{hint}", file=sys.stderr)
        return 1
    print(report.summary())
    if report.resumed and report.accepted:
        print(f"continued after the checkpoint {report.checkpoint} (--from-start ignores it)")
    if report.resumed and report.accepted == 0 and report.dead_lettered == 0 and not report.interrupted:
        print(
            f"nothing left to send: the checkpoint {report.checkpoint} says every row was delivered; "
            "use --from-start to send everything again"
        )
    if report.interrupted:
        where = report.checkpoint or "no checkpoint (random reads)"
        print(
            f"interrupted: progress saved in {where}; run the same command again to continue", file=sys.stderr
        )
        return EXIT_INTERRUPTED
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "seed":
            return _cmd_seed(args)
        return _run(args, args.command)
    except (ConfigError, SourceDBError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\naborted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
