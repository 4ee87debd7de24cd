"""Stream path benchmark: how long a record takes from "accepted by the API Gateway" to "row in the Delta table".

The stream notebook (`notebooks/stream.py`, through `local_stack/notebook_runner/stream.py`) runs with a 1 s
processing-time trigger against the local stack's Kinesis streams of a throwaway user id. Once its three queries
have committed a warm-up event, events are put one record per dataset at a steady rate through the API Gateway's
PutRecord route (the course's call); a watcher reads the three Delta tables with `deltalake` every `poll` seconds
and notes when each `ind` first appears. Latency = first seen - the moment the API answered 200, so it includes
the poll interval (at most `poll`, 0.05 s by default). Target: p95 under 1.8 s (issue 19). The measurement runs
three times in a row on the same stack without a restart, and a spread row gives the range of their percentiles.

Then the notebook runs with `availableNow` over records already in the streams (put by the emulator): the scheduled
job's throughput. Last, the demo's stream emulation (33,000 records through the API) runs twice on the same streams,
as two `make demo` runs on one stack do: each run first empties the streams as the demo does
(`local_stack/kinesis_streams.py`; target: the second run at 80% of the first's speed at least). For contrast, the
same counts go twice straight to LocalStack's Kinesis with boto3 (no API) into streams that are not emptied: the
engine's own slowdown as a stream fills (no target; README, "The stream path").

Rows: `{"suite": "stream", "case": ..., "records": N, "p50_s", "p95_s", "p99_s", "max_s", "target_p95_s",
"met"}`, the spread `{..., "p50_s_range", "p95_s_range", "p99_s_range", "met"}`, and `{"suite": "stream",
"case": ..., "records", "seconds", "records_per_s"}` (refill rows add `vs_first`, and the emulator's `emptied_s`,
`target_vs_first` and `met`).
"""

from __future__ import annotations

import math
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from emulation.generator import generate_tables
from emulation.names import DATASETS, SOURCE_TABLES, PipelineNames
from emulation.payloads import kinesis_record_body, record_value, to_json_bytes
from emulation.source_db import KEY, seed_database
from emulation.stream import run_stream as emulate_stream
from local_stack.kinesis_streams import empty_streams
from local_stack.notebook_runner.stream import run_stream as run_stream_notebook
from local_stack.processes import wait_for
from local_stack.stack_user import StackUser

SUITE = "stream"
#: Issue 19: post accepted -> row visible in Delta, 1 s trigger, p95 under 1.8 s (the trigger's own wait is up to 1 s).
TARGET_P95_S = 1.8
#: A second 33,000-record emulation on the same streams (emptied first, as the demo does) runs at 80% of the first's
#: speed at least.
REFILL_TARGET = 0.8
#: Latency runs in a row on one stack, without a restart (the reused-stack stall of issue 19 must not come back).
LATENCY_RUNS = 3


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (`share` in 0..1) of `values`."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(share * len(ordered) - 1e-9)))
    return ordered[rank - 1]


class TableWatcher:
    """Notes when each `ind` first appears in the Delta tables under `tables`, polled every `poll` seconds.

    Each poll loads only the commits since the last one (`update_incremental`) and reads only the `ind` column of
    the files they added (pyarrow's native Parquet reader), so the watcher's own CPU stays small and flat while the
    tables grow: a full read of every table every 0.05 s competed with the micro-batches it measures.
    """

    def __init__(self, tables: dict[str, Path], poll: float) -> None:
        self.tables, self.poll = tables, poll
        self.seen: dict[tuple[str, int], float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="delta-watcher", daemon=True)
        self._open: dict[str, Any] = {}
        self._files: dict[str, set[str]] = {dataset: set() for dataset in tables}

    def __enter__(self) -> TableWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _new_inds(self, dataset: str) -> list[int]:
        import pyarrow.parquet as pq
        from deltalake import DeltaTable

        path = self.tables[dataset]
        table = self._open.get(dataset)
        if table is None:
            table = self._open[dataset] = DeltaTable(str(path))  # raises until the first micro-batch made it
        else:
            table.update_incremental()
        inds: list[int] = []
        for uri in table.file_uris():
            if uri not in self._files[dataset]:
                inds += pq.read_table(uri.removeprefix("file://"), columns=["ind"]).column("ind").to_pylist()
                self._files[dataset].add(uri)
        return inds

    def _run(self) -> None:
        while not self._stop.is_set():
            for dataset in self.tables:
                try:
                    inds = self._new_inds(dataset)
                except Exception:  # the table is not there yet (the first micro-batch creates it)
                    continue
                now = time.perf_counter()
                for ind in inds:
                    self.seen.setdefault((dataset, ind), now)
            self._stop.wait(self.poll)

    def wait_for(self, keys: list[tuple[str, int]], timeout: float) -> bool:
        """True once every key was seen, False after `timeout` seconds."""
        return wait_for(lambda: all(key in self.seen for key in keys), timeout)


def measure_latency(
    stack_info: Any,
    work: Path,
    *,
    events: int = 150,
    rate: float = 5.0,
    interval: str = "1 second",
    poll: float = 0.05,
    say: Callable[[str], None] = lambda line: None,
) -> dict[str, Any]:
    """Run the stream notebook with a processing-time trigger and measure post-accepted -> row-visible latency."""
    tables = generate_tables(rows=events + 1, seed=7)
    rows = {ds: tables[SOURCE_TABLES[ds]] for ds in DATASETS}
    with StackUser(stack_info, "sqlite://", work / "state", prefix="lat", topics=False, streams=True) as user:
        names = PipelineNames(user.config.user_id)
        out = work / "out"
        paths = {ds: out / "tables" / names.table(ds).lower() for ds in DATASETS}
        session = requests.Session()
        session.headers.update({"x-api-key": stack_info.api_key, "Content-Type": "application/json"})

        def put(index: int) -> dict[str, tuple[int, float]]:
            accepted = {}
            for dataset in DATASETS:
                row = rows[dataset][index]
                key = row[KEY[SOURCE_TABLES[dataset]]]
                stream = names.stream(dataset)
                body = to_json_bytes(kinesis_record_body(stream, row, str(key)))
                answer = session.put(
                    f"{stack_info.invoke_url}/streams/{stream}/record", data=body, timeout=30
                )
                answer.raise_for_status()
                accepted[dataset] = (key, time.perf_counter())
            return accepted

        namespace: dict[str, Any] = {}
        failure: list[BaseException] = []

        def notebook() -> None:
            try:
                run_stream_notebook(
                    user.config.user_id, out, trigger="processingTime", interval=interval, namespace=namespace
                )
            except BaseException as error:  # reported after the queries stop
                failure.append(error)

        runner = threading.Thread(target=notebook, name="stream-notebook", daemon=True)
        with TableWatcher(paths, poll) as watcher:
            warm = put(0)
            runner.start()
            say("stream bench: waiting for the notebook's first micro-batches (warm-up event)")
            warm_keys = [(ds, ind) for ds, (ind, _) in warm.items()]
            wait_for(lambda: failure or all(key in watcher.seen for key in warm_keys), 180)
            if failure or not all(key in watcher.seen for key in warm_keys):
                _stop_queries(namespace, runner)
                raise RuntimeError(
                    f"the warm-up event never reached the stream tables: {failure or 'no error'}"
                )
            say(f"stream bench: putting {events} events ({3 * events} records) at {rate:g} events/s")
            accepted: list[tuple[tuple[str, int], float]] = []
            started = time.perf_counter()
            for i in range(1, events + 1):
                for dataset, (ind, at) in put(i).items():
                    accepted.append(((dataset, ind), at))
                pause = started + i / rate - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
            complete = watcher.wait_for([key for key, _ in accepted], timeout=60)
        _stop_queries(namespace, runner)
    if failure:
        raise RuntimeError(f"the stream notebook failed: {failure[0]}") from failure[0]
    latencies = [watcher.seen[key] - at for key, at in accepted if key in watcher.seen]
    p95 = percentile(latencies, 0.95) if latencies else float("nan")
    return {
        "suite": SUITE,
        "case": f"post accepted -> row in Delta ({interval} trigger)",
        "records": len(accepted),
        "missing": len(accepted) - len(latencies),
        "p50_s": round(statistics.median(latencies), 3) if latencies else None,
        "p95_s": round(p95, 3),
        "p99_s": round(percentile(latencies, 0.99), 3) if latencies else None,
        "max_s": round(max(latencies), 3) if latencies else None,
        "target_p95_s": TARGET_P95_S,
        "met": complete and p95 < TARGET_P95_S,
    }


def _stop_queries(namespace: dict[str, Any], runner: threading.Thread) -> None:
    for query in (namespace.get("QUERIES") or {}).values():
        query.stop()
    runner.join(timeout=120)


def measure_available_now(stack_info: Any, work: Path, *, events: int = 3_000) -> dict[str, Any]:
    """Emulate `events` into fresh streams, then time one `availableNow` run of the notebook over them."""
    db_url = f"sqlite:///{work / 'source.db'}"
    seed_database(db_url, rows=events, seed=8)
    with StackUser(stack_info, db_url, work / "state", prefix="avn", topics=False, streams=True) as user:
        report = emulate_stream(user.config, progress=False)
        started = time.perf_counter()
        result = run_stream_notebook(user.config.user_id, work / "out")
        seconds = time.perf_counter() - started
    return {
        "suite": SUITE,
        "case": "notebook availableNow over filled streams",
        "records": report.accepted,
        "rows": sum(result.table_rows.values()),
        "seconds": round(seconds, 2),
        "records_per_s": round(report.accepted / seconds, 1),
    }


def run(
    stack_info: Any, say: Callable[[str], None] = lambda line: None, latency_runs: int = LATENCY_RUNS
) -> list[dict[str, Any]]:
    """`latency_runs` latency measurements in a row on the one stack (no restart), their spread, the
    `availableNow` throughput, and the stream emulator's refill (two demo-sized runs into the same streams) with
    LocalStack's Kinesis alone beside it. Each on its own throwaway user id (streams deleted afterwards)."""
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-stream-") as tmp:
        for run in range(1, latency_runs + 1):
            say(f"stream bench: latency run {run} of {latency_runs} on the same stack")
            row = measure_latency(stack_info, Path(tmp) / f"latency-{run}", say=say)
            row["case"] += f", run {run} of {latency_runs}"
            rows.append(row)
            say(
                f"stream bench: run {run}: p50 {row['p50_s']} s, p95 {row['p95_s']} s, p99 {row['p99_s']} s, "
                f"missing {row['missing']}"
            )
        rows.append(latency_spread(rows))
        rows.append(measure_available_now(stack_info, Path(tmp) / "available-now"))
        say("stream bench: the demo's stream emulation twice on the same streams (33,000 records each)")
        rows += measure_emulator_refill(stack_info, Path(tmp) / "refill")
        say(
            "stream bench: the same counts twice with boto3 straight at LocalStack's Kinesis, streams not emptied"
        )
        rows += measure_engine_refill(stack_info)
    return rows


def latency_spread(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One row: the lowest and highest p50/p95/p99 of consecutive latency runs, met when every run met the target."""

    def span(key: str) -> list[float | None]:
        values = [r[key] for r in runs if r.get(key) is not None]
        return [min(values), max(values)] if values else [None, None]

    return {
        "suite": SUITE,
        "case": f"latency spread over {len(runs)} consecutive runs on one stack",
        "runs": len(runs),
        "records": sum(r["records"] for r in runs),
        "missing": sum(r["missing"] for r in runs),
        "p50_s_range": span("p50_s"),
        "p95_s_range": span("p95_s"),
        "p99_s_range": span("p99_s"),
        "target_p95_s": TARGET_P95_S,
        "met": bool(runs) and all(r["met"] for r in runs),
    }


def measure_emulator_refill(
    stack_info: Any, work: Path, *, rows: int = 11_000, shards: int = 4, repeats: int = 2
) -> list[dict[str, Any]]:
    """The demo's stream emulation (`rows` rows of each source table, 3 x `rows` records through the API's
    PutRecords route) `repeats` times on the same streams of one stack, as consecutive `make demo` runs do, each
    run after emptying the streams as the demo does: does the second run go as fast as the first?"""
    work.mkdir(parents=True, exist_ok=True)
    db_url = f"sqlite:///{work / 'source.db'}"
    seed_database(db_url, rows=rows, seed=9)
    results, emptied = [], []
    with StackUser(
        stack_info, db_url, work / "state", prefix="refill", topics=False, streams=True, shards=shards
    ) as user:
        kinesis = user.kinesis()
        for _ in range(repeats):
            started = time.perf_counter()
            empty_streams(kinesis, user.streams)
            emptied.append(round(time.perf_counter() - started, 2))
            report = emulate_stream(user.config, from_start=True, progress=False)
            results.append((report.accepted, report.elapsed))
    rows_ = _refill_rows("the demo's stream emulation through the API (streams emptied first)", results)
    return [{**row, "emptied_s": seconds} for row, seconds in zip(rows_, emptied, strict=True)]


def measure_engine_refill(
    stack_info: Any,
    *,
    rows: int = 11_000,
    shards: int = 4,
    repeats: int = 2,
    batch: int = 100,
    workers: int = 3,
) -> list[dict[str, Any]]:
    """The same record counts, bodies and request shape (PutRecords of `batch` records, `workers` threads) with boto3
    straight at LocalStack's Kinesis, no API Gateway: the engine alone, to tell its cost from the API's."""
    from concurrent.futures import ThreadPoolExecutor

    tables = generate_tables(rows=rows, seed=9)
    results = []
    with StackUser.streams_only(stack_info, prefix="engine", shards=shards) as user:
        kinesis = user.kinesis()
        names = PipelineNames(user.config.user_id)
        requests_ = []
        for dataset in DATASETS:
            table = SOURCE_TABLES[dataset]
            records = [
                {"Data": to_json_bytes(record_value(row)), "PartitionKey": str(row[KEY[table]])}
                for row in tables[table]
            ]
            requests_ += [
                (names.stream(dataset), records[i : i + batch]) for i in range(0, len(records), batch)
            ]

        def put(request: tuple[str, list[dict[str, Any]]]) -> int:
            answer = kinesis.put_records(StreamName=request[0], Records=request[1])
            if answer["FailedRecordCount"]:
                raise RuntimeError(f"{answer['FailedRecordCount']} records failed in {request[0]}")
            return len(request[1])

        for _ in range(repeats):
            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=workers) as pool:
                accepted = sum(pool.map(put, requests_))
            results.append((accepted, time.perf_counter() - started))
    return _refill_rows(
        "LocalStack Kinesis alone (boto3 PutRecords, streams not emptied)", results, target=None
    )


def _refill_rows(
    case: str, results: list[tuple[int, float]], target: float | None = REFILL_TARGET
) -> list[dict[str, Any]]:
    """One row per run: its speed and the speed against the first run's (`met` against `target`, None without)."""
    first = results[0][0] / results[0][1]
    rows = []
    for run, (records, seconds) in enumerate(results, start=1):
        rate = records / seconds
        rows.append(
            {
                "suite": SUITE,
                "case": f"{case}, run {run} on the same streams",
                "records": records,
                "seconds": round(seconds, 2),
                "records_per_s": round(rate, 1),
                "vs_first": round(rate / first, 3),
                "target_vs_first": target,
                "met": None if target is None else rate / first >= target,
            }
        )
    return rows
