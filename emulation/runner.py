"""The emulation loop both paths share: read the source tables, deliver each table's rows, checkpoint, report.

Reads are sequential keyset pages in index order by default (the next page is read while the previous one is
being posted); `random_rows` uses the course's random-offset reads instead (no checkpoint then, since random
picks have no position). A checkpoint (`<state>/checkpoints/<user_id>-<path>.json`) keeps the last index fully
delivered per table, so a rerun continues after it (delivery is at-least-once: a request in flight when a run
stops may be sent again). Records rejected for good are in `<state>/deadletter/<user_id>-<path>.jsonl`.
`emulation.batch` (Kafka topics) and `emulation.stream` (Kinesis streams) say where the records go.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from emulation.config import Config
from emulation.names import SOURCE_TABLES
from emulation.payloads import record_value
from emulation.poster import (
    KINESIS_MAX_RECORDS,
    DeadLetters,
    DeliveryError,
    Poster,
    PostResult,
    RateLimiter,
    RetryPolicy,
)
from emulation.progress import progress
from emulation.source_db import KEY, TABLES, SourceReader, safe_url

MODES = ("batched", "course")
PATHS = ("batch", "stream")
#: Records per request on the batch path: about 1.2 MB of pin JSON, far below API Gateway's 10 MB payload limit.
#: Measured through the local API Gateway (`make bench`, idle 2 cores): 500/request with 2 workers 22.8k
#: records/s, 2,000 with 3 workers 33.5k, 5,000 with 3 workers 38k.
DEFAULT_BATCH_SIZE = 2000
#: Records per PutRecords request on the stream path. Kinesis takes up to 500, but LocalStack renders the API's
#: mapping template in time that grows faster than linearly with the records (measured: 25 -> 0.5 s, 200 -> 5 s),
#: so a 500-record request nears API Gateway's 29 s integration timeout locally.
DEFAULT_STREAM_BATCH = 100
DEFAULT_BATCH_SIZES = {"batch": DEFAULT_BATCH_SIZE, "stream": DEFAULT_STREAM_BATCH}
#: Posting threads: the API answers one request while the next is built and another waits on the broker.
DEFAULT_WORKERS = 3
#: Source table -> dataset (`pinterest_data` -> `pin`).
DATASET_OF = {table: dataset for dataset, table in SOURCE_TABLES.items()}


@dataclass
class TableReport:
    """One source table's part of a run."""

    table: str
    destination: str
    rows_read: int = 0
    accepted: int = 0
    dead_lettered: int = 0
    last_index: int | None = None


@dataclass
class EmulationReport:
    """What a run did (`tables` keyed by source table name)."""

    path: str
    mode: str
    tables: dict[str, TableReport]
    elapsed: float = 0.0
    requests: int = 0
    retries: int = 0
    interrupted: bool = False
    resumed: bool = False
    checkpoint: Path | None = None
    dead_letter_file: Path | None = None

    @property
    def rows_read(self) -> int:
        return sum(t.rows_read for t in self.tables.values())

    @property
    def accepted(self) -> int:
        return sum(t.accepted for t in self.tables.values())

    @property
    def dead_lettered(self) -> int:
        return sum(t.dead_lettered for t in self.tables.values())

    @property
    def records_per_s(self) -> float:
        return self.accepted / self.elapsed if self.elapsed > 0 else 0.0

    def summary(self) -> str:
        """A small text table for the terminal."""
        head = "topic" if self.path == "batch" else "stream"
        lines = [f"{'table':<18} {head:<26} {'rows read':>10} {'accepted':>10} {'dead-lettered':>14}"]
        for t in self.tables.values():
            lines.append(
                f"{t.table:<18} {t.destination:<26} {t.rows_read:>10,} {t.accepted:>10,} {t.dead_lettered:>14,}"
            )
        lines.append(
            f"{self.path} ({self.mode}): {self.accepted:,} records accepted in {self.elapsed:.1f} s "
            f"({self.records_per_s:,.0f} records/s, {self.requests:,} requests, {self.retries:,} retries)"
        )
        if self.dead_lettered:
            lines.append(f"dead letters: {self.dead_letter_file}")
        return "\n".join(lines)


class Checkpoint:
    """Last fully delivered index (and rows delivered) per table, as JSON."""

    def __init__(self, path: Path, db_url: str, api_url: str | None = None) -> None:
        self.path = path
        self.db_url = safe_url(db_url)
        self.api_url = api_url
        self.tables: dict[str, dict[str, int]] = {}

    @classmethod
    def for_config(cls, config: Config, kind: str = "batch") -> Checkpoint:
        return cls(
            config.state_dir / "checkpoints" / f"{config.user_id}-{kind}.json", config.db_url, config.api_url
        )

    def load(self) -> bool:
        """Read the saved state; False (and empty) if none, unreadable, or for another source database or API.

        A new API (say a fresh LocalStack, whose API has a new id and whose broker and lake start empty) means
        nothing was delivered there yet, so its checkpoint does not apply.
        """
        try:
            saved = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return False
        if (
            saved.get("db_url") != self.db_url
            or saved.get("api_url") != self.api_url
            or not isinstance(saved.get("tables"), dict)
        ):
            return False
        self.tables = {
            t: {"last_index": int(v["last_index"]), "rows": int(v["rows"])}
            for t, v in saved["tables"].items()
        }
        return bool(self.tables)

    def after(self, table: str) -> int | None:
        return self.tables.get(table, {}).get("last_index")

    def rows(self, table: str) -> int:
        return self.tables.get(table, {}).get("rows", 0)

    def advance(self, table: str, last_index: int, rows: int) -> None:
        self.tables[table] = {"last_index": last_index, "rows": self.rows(table) + rows}

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        body = {
            "db_url": self.db_url,
            "api_url": self.api_url,
            "updated": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "tables": self.tables,
        }
        tmp.write_text(json.dumps(body, indent=2) + "\n")
        tmp.replace(self.path)

    def clear(self) -> None:
        self.tables = {}
        self.path.unlink(missing_ok=True)


def split_batches(
    rows: list[dict[str, Any]], size: int, key: str, keep_groups: bool = True
) -> list[list[dict[str, Any]]]:
    """`rows` (in key order) in batches of `size`; with `keep_groups`, rows of one key value stay together
    (a batch may then be a little larger)."""
    batches: list[list[dict[str, Any]]] = []
    start = 0
    while start < len(rows):
        end = min(start + size, len(rows))
        while keep_groups and end < len(rows) and rows[end][key] == rows[end - 1][key]:
            end += 1
        batches.append(rows[start:end])
        start = end
    return batches


@dataclass
class _Round:
    """Batches of one page of every table, in flight."""

    batches: dict[str, list[tuple[list[dict[str, Any]], Future[PostResult | None]]]] = field(
        default_factory=dict
    )


class _StopOnSigint:
    """First Ctrl-C sets `stop` (in-flight requests finish); a second one aborts. Main thread only."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self._previous: Any = None

    def __enter__(self) -> _StopOnSigint:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.stop.is_set():
            raise KeyboardInterrupt
        self.stop.set()
        print(
            "\nstopping: finishing the requests in flight, then saving the checkpoint (Ctrl-C again to abort)",
            file=sys.stderr,
        )

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


@dataclass(frozen=True)
class EmulationOptions:
    """How a run delivers, the same for both paths (the CLI's flags).

    `rows`: rows per table to deliver in all (a resumed run counts what the checkpoint already holds; None = all).
    `batch_size`: records per request (None: the path's default, `DEFAULT_BATCH_SIZES`). `rate`: records/s limit
    over all threads. `mode`: `batched`, or `course` (one record per request, a new connection each, one thread,
    datetimes as `YYYY-MM-DD HH:MM:SS`). `random_rows`/`seed`: the course's random-row reads (no checkpoint).
    `from_start`: ignore and reset the checkpoint. `retry`: the retry policy (default `RetryPolicy()`).
    """

    rows: int | None = None
    batch_size: int | None = None
    rate: float | None = None
    mode: str = "batched"
    random_rows: bool = False
    workers: int = DEFAULT_WORKERS
    from_start: bool = False
    seed: int | None = None
    retry: RetryPolicy | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if (self.batch_size is not None and self.batch_size < 1) or self.workers < 1:
            raise ValueError("batch_size and workers must be >= 1")
        if self.rows is not None and self.rows < 0:
            raise ValueError(f"rows must be >= 0, got {self.rows}")


def emulate(
    config: Config,
    path: str,
    options: EmulationOptions | None = None,
    *,
    stop: threading.Event | None = None,
    **changes: Any,
) -> EmulationReport:
    """Deliver the source tables along `path` (`batch`: topics, `stream`: Kinesis streams); see the docstring.

    `options` (default `EmulationOptions()`), with the fields named in `changes` replaced (`rows=100`, ...).
    `stop`: set it to stop cleanly (Ctrl-C does it when called from the main thread). Raises `ConfigError`,
    `SourceDBError`, or `DeliveryError` (after saving the checkpoint) when the API stays unreachable.
    """
    opts = replace(options or EmulationOptions(), **changes)
    if path not in PATHS:
        raise ValueError(f"path must be one of {PATHS}, got {path!r}")
    course = opts.mode == "course"
    batch_size = 1 if course else opts.batch_size or DEFAULT_BATCH_SIZES[path]
    if path == "stream" and batch_size > KINESIS_MAX_RECORDS:
        raise ValueError(f"batch_size must be at most {KINESIS_MAX_RECORDS} for Kinesis, got {batch_size}")
    config.require_api()
    assert config.api_url is not None
    stop = stop or threading.Event()
    where = config.names.topic if path == "batch" else config.names.stream
    report = EmulationReport(
        path=path, mode=opts.mode, tables={t: TableReport(t, where(DATASET_OF[t])) for t in TABLES}
    )
    report.dead_letter_file = config.state_dir / "deadletter" / f"{config.user_id}-{path}.jsonl"
    checkpoint: Checkpoint | None = Checkpoint.for_config(config, path)
    if opts.random_rows:
        checkpoint = None
    elif opts.from_start:
        checkpoint.clear()
    else:
        report.resumed = checkpoint.load()
    if checkpoint is not None:
        report.checkpoint = checkpoint.path

    reader = SourceReader(config.db_url)
    workers = (
        1 if course else opts.workers
    )  # the course posts one record at a time, in order, from one thread
    poster = Poster(
        config.api_url,
        config.api_key,
        dead_letters=DeadLetters(report.dead_letter_file),
        retry=opts.retry,
        pool_size=workers,
        reuse_connections=not course,
    )
    limiter = RateLimiter(opts.rate)
    page_size = 500 if course else batch_size * workers
    failure: list[BaseException] = []

    def send(table: str, batch: list[dict[str, Any]]) -> PostResult | None:
        if stop.is_set():
            return None
        limiter.acquire(len(batch))
        destination = report.tables[table].destination
        try:
            if course:  # the course's body: one record, its datetimes as `YYYY-MM-DD HH:MM:SS`
                (row,) = (record_value(r, course=True) for r in batch)
                if path == "batch":
                    return poster.post_topic(destination, [row])
                return poster.put_stream_record(destination, row, _partition_key(table)(row))
            if path == "batch":
                return poster.post_topic(destination, batch)
            return poster.put_stream(destination, batch, _partition_key(table))
        except DeliveryError as exc:
            failure.append(exc)
            stop.set()
            raise

    try:
        rows = opts.rows
        if opts.random_rows:
            total = rows if rows is not None else reader.count("pinterest_data")
            targets = dict.fromkeys(TABLES, total)
            rounds = _random_rounds(reader, total, page_size, opts.seed)
        else:
            assert checkpoint is not None
            targets = {}
            for t in TABLES:
                left = reader.count(t, checkpoint.after(t))
                targets[t] = left if rows is None else max(0, min(left, rows - checkpoint.rows(t)))
            rounds = _sequential_rounds(reader, checkpoint, targets, page_size)
        bar = progress(sum(targets.values()), f"{path} ({opts.mode})", file=sys.stderr, enabled=opts.progress)
        started = time.perf_counter()
        with (
            bar,
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="post") as pool,
            _StopOnSigint(stop),
        ):
            in_flight: collections.deque[_Round] = collections.deque()
            blocked: set[str] = set()
            for page in rounds:
                if stop.is_set():
                    break
                in_flight.append(_submit(pool, send, page, batch_size, interleave=course))
                # Keep one round queued behind the one being posted (course mode: none).
                while len(in_flight) > (0 if course else 1):
                    _finish(in_flight.popleft(), report, checkpoint, bar, blocked)
                    if checkpoint is not None:
                        checkpoint.save()
            while in_flight:
                _finish(in_flight.popleft(), report, checkpoint, bar, blocked)
        report.elapsed = time.perf_counter() - started
        report.interrupted = stop.is_set() and not failure
    finally:
        if checkpoint is not None:
            checkpoint.save()
        poster.close()
        reader.close()
    if failure:
        saved = f"; progress saved in {checkpoint.path}, rerun to resume" if checkpoint is not None else ""
        raise DeliveryError(f"{failure[0]}{saved}")
    return report


def _partition_key(table: str) -> Callable[[dict[str, Any]], str]:
    """Kinesis partition key: the event's index, so one event's records spread over the shards evenly."""
    key = KEY[table]
    return lambda row: str(row[key])


def _submit(
    pool: ThreadPoolExecutor, send: Any, page: dict[str, list[dict]], size: int, interleave: bool
) -> _Round:
    work = {t: split_batches(rows, size, KEY[t], keep_groups=not interleave) for t, rows in page.items()}
    done = _Round({t: [] for t in work})
    if interleave:  # the course's order: pin, geo, user of one event, then the next event
        for i in range(max((len(b) for b in work.values()), default=0)):
            for t, batches in work.items():
                if i < len(batches):
                    done.batches[t].append((batches[i], pool.submit(send, t, batches[i])))
    else:
        for t, batches in work.items():
            done.batches[t] = [(b, pool.submit(send, t, b)) for b in batches]
    return done


def _finish(
    page: _Round, report: EmulationReport, checkpoint: Checkpoint | None, bar: Any, blocked: set[str]
) -> None:
    """Account one round; advance each table's checkpoint over its contiguous delivered batches.

    The checkpoint only moves past whole index groups (a page never splits one; a batch of the course mode may).
    """
    for table, batches in page.batches.items():
        tr = report.tables[table]
        key = KEY[table]
        unrecorded = 0
        for i, (batch, future) in enumerate(batches):
            try:
                result = future.result()
            except DeliveryError:
                result = None
            if result is None:
                blocked.add(table)
                continue
            tr.rows_read += len(batch)
            tr.accepted += result.accepted
            tr.dead_lettered += result.dead_lettered
            report.requests += result.requests
            report.retries += result.retries
            bar.update(len(batch))
            if table in blocked:
                continue
            unrecorded += len(batch)
            if i + 1 < len(batches) and batches[i + 1][0][0][key] == batch[-1][key]:
                continue  # the rest of this index's group is in the next batch
            tr.last_index = batch[-1][key]
            if checkpoint is not None:
                checkpoint.advance(table, tr.last_index, unrecorded)
            unrecorded = 0


def _sequential_rounds(
    reader: SourceReader, checkpoint: Checkpoint, targets: dict[str, int], page_size: int
) -> Iterator[dict[str, list[dict]]]:
    """Pages of every table in index order, from each table's checkpoint, up to its target rows."""
    pages = {
        t: reader.pages(t, after=checkpoint.after(t), page_size=page_size, limit=targets[t])
        for t in TABLES
        if targets[t] > 0
    }
    while pages:
        page: dict[str, list[dict]] = {}
        for t in list(pages):
            rows = next(pages[t], None)
            if rows is None:
                del pages[t]
            else:
                page[t] = rows
        if page:
            yield page


def _random_rounds(
    reader: SourceReader, n: int, per_round: int, seed: int | None
) -> Iterator[dict[str, list[dict]]]:
    """The course's random events, grouped `per_round` events at a time."""
    page: dict[str, list[dict]] = {t: [] for t in TABLES}
    for event in reader.random_events(n, seed):
        for t, row in event.items():
            page[t].append(row)
        if len(page["pinterest_data"]) >= per_round:
            yield page
            page = {t: [] for t in TABLES}
    if page["pinterest_data"]:
        yield page
