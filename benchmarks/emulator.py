"""Emulator benchmarks: generator events/s, seeding rows/s, batched vs course posting through the local API (batch
path to the topics, stream path to Kinesis), and a run through the fault proxy.

Batched and course mode run in the same process against the same stack (course mode on a small sample, it is
hundreds of times slower), posting to topics and streams of a throwaway user id that are deleted afterwards, so
the demo's topics, streams and lake are untouched. Rows: `{"suite": "emulator", "case": ..., "records": N,
"seconds": s, "records_per_s": r, "client_cpu_s": c, "load_1m": l}` (+ `vs_course` on the batched rows: how many
times faster than course mode on the same path). The client CPU and the load show how much of the time was ours on
a shared machine. The stream path is measured on fewer events: LocalStack's rendering of the API's Kinesis
mapping templates bounds it locally (about 840 records/s with 100 records per request on an idle 2-core machine,
since `local_stack/loopback/sitecustomize.py` memoises its JSONPath parser; 67 records/s before). Targets:
batched >= 20,000 records/s through the local API Gateway on 2 cores (issue 2); generator >= 50,000 events/s.

The fault run (`through_faults`, issue 11) posts through `local_stack/fault_proxy.py` (429, 500, 503, resets,
delays and resets after the API accepted the request, at `rate`) and reads the topics back: requests, faults by
kind, retries, accepted, lost (must be 0) and duplicates (the resets after acceptance, sent again).
tests/local_stack/test_fault_proxy.py runs the same function on a small source.
"""

from __future__ import annotations

import os
import resource
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from emulation.batch import run_batch
from emulation.generator import iter_chunks
from emulation.readback import check_topics
from emulation.retry import RetryPolicy
from emulation.runner import EmulationReport
from emulation.source_db import seed_database
from emulation.stream import run_stream
from local_stack.fault_proxy import KINDS, FaultProxy
from local_stack.stack_user import StackUser

SUITE = "emulator"


def _row(case: str, records: int, seconds: float, cpu: float, **extra: Any) -> dict[str, Any]:
    """One result; `client_cpu_s` is this process's CPU time and `load_1m` the machine's load when it ended
    (other processes on the same 2 cores slow everything down: compare runs only at similar load)."""
    return {
        "suite": SUITE,
        "case": case,
        "records": records,
        "seconds": round(seconds, 3),
        "records_per_s": round(records / seconds, 1) if seconds > 0 else 0.0,
        "client_cpu_s": round(cpu, 2),
        "load_1m": round(os.getloadavg()[0], 1),
        **extra,
    }


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def bench_generator(events: int = 200_000) -> dict[str, Any]:
    """Events/s of `iter_chunks` (all three tables of each event), pools excluded by a warm-up."""
    for _ in iter_chunks(1000, seed=1):
        pass
    started, cpu = time.perf_counter(), _cpu()
    n = sum(len(chunk["pinterest_data"]) for chunk in iter_chunks(events, seed=1))
    return _row("generator (events)", n, time.perf_counter() - started, _cpu() - cpu)


def _posting_rows(
    path: str, course: EmulationReport, cpu_course: float, batched: list[tuple[str, EmulationReport, float]]
) -> list[dict[str, Any]]:
    """The rows of one path: each batched variant (with `vs_course`), then course mode."""
    course_row = _row(
        f"{path}: course (1 record/request, new connection)", course.accepted, course.elapsed, cpu_course
    )
    rows = []
    for case, report, cpu in batched:
        if report.dead_lettered:
            raise RuntimeError(f"{report.dead_lettered} records dead-lettered during the benchmark ({case})")
        row = _row(f"{path}: {case}", report.accepted, report.elapsed, cpu)
        row["vs_course"] = round(row["records_per_s"] / max(course_row["records_per_s"], 1e-9), 1)
        rows.append(row)
    return [*rows, course_row]


def _timed(run: Any, *args: Any, **options: Any) -> tuple[EmulationReport, float]:
    cpu = _cpu()
    report = run(*args, from_start=True, progress=False, **options)
    return report, _cpu() - cpu


def run(
    stack_info: Any,
    events: int = 30_000,
    course_events: int = 200,
    variants: tuple[tuple[int, int], ...] = ((500, 2), (2000, 3)),
    stream_events: int = 1_000,
    stream_course_events: int = 100,
    fault_events: int = 20_000,
) -> list[dict[str, Any]]:
    """Measure; `stack_info` has `invoke_url`, `api_key`, `bootstrap_servers`, `localstack_url` and `outputs` (the
    `stack` fixture's value)."""
    rows = [bench_generator()]
    with tempfile.TemporaryDirectory(prefix="bench-emulator-") as tmp:
        db_url = f"sqlite:///{Path(tmp) / 'source.db'}"
        started, cpu = time.perf_counter(), _cpu()
        seed_database(db_url, rows=events, seed=42)
        rows.append(
            _row("seed sqlite (rows, 3 tables)", 3 * events, time.perf_counter() - started, _cpu() - cpu)
        )
        with StackUser(stack_info, db_url, Path(tmp) / "state", prefix="bench", streams=True) as user:
            course, course_cpu = _timed(run_batch, user.config, rows=course_events, mode="course")
            batched = []
            for batch_size, workers in variants:
                report, cpu = _timed(run_batch, user.config, batch_size=batch_size, workers=workers)
                batched.append((f"batched ({batch_size}/request, {workers} workers)", report, cpu))
            rows += _posting_rows("batch", course, course_cpu, batched)

            course, course_cpu = _timed(run_stream, user.config, rows=stream_course_events, mode="course")
            report, cpu = _timed(run_stream, user.config, rows=stream_events)
            rows += _posting_rows(
                "stream", course, course_cpu, [("PutRecords (100/request, 3 workers)", report, cpu)]
            )
        rows.append(through_faults(stack_info, Path(tmp) / "faults", events=fault_events))
    return rows


def through_faults(
    stack_info: Any,
    work: Path,
    *,
    events: int,
    rate: float = 0.2,
    seed: int = 11,
    kinds: tuple[str, ...] = KINDS,
    batch_size: int = 500,
    workers: int = 3,
    delay: float = 0.2,
) -> dict[str, Any]:
    """The batch emulator through the fault proxy into fresh topics; what it did and what arrived, as one row.

    The retry policy allows 12 tries with short waits (0.05 s doubling up to 1 s) so that the run measures
    recovery, not sleeping; Retry-After of the injected 429s is 0 for the same reason.
    """
    work.mkdir(parents=True, exist_ok=True)
    db_url = f"sqlite:///{work / 'source.db'}"
    seed_database(db_url, rows=events, seed=seed)
    with StackUser(stack_info, db_url, work / "state", prefix="faults") as user:
        proxy = FaultProxy(
            stack_info.invoke_url, rate=rate, kinds=kinds, seed=seed, delay=delay, retry_after=0
        )
        cpu = _cpu()
        with proxy:
            report = run_batch(
                replace(user.config, api_url=proxy.url),
                batch_size=batch_size,
                workers=workers,
                retry=RetryPolicy(attempts=12, base=0.05, cap=1.0),
                progress=False,
            )
        stats = proxy.stats.as_dict()
        cpu = _cpu() - cpu
        delivery = check_topics(stack_info.bootstrap_servers, user.config)
    row = _row(f"faults (rate {rate}, {batch_size}/request)", report.accepted, report.elapsed, cpu)
    row.update(
        requests=stats["requests"],
        faults=sum(stats["faults"].values()),
        **{f"fault_{kind}": stats["faults"].get(kind, 0) for kind in kinds},
        retries=report.retries,
        accepted=report.accepted,
        dead_lettered=report.dead_lettered,
        lost=sum(d.missing for d in delivery.values()),
        duplicates=sum(d.duplicates for d in delivery.values()),
        emulator_requests=report.requests,
    )
    return row


if __name__ == "__main__":
    import json

    from local_stack.supervisor import Stack

    print(json.dumps(run(Stack().up()), indent=2))
