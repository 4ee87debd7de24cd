"""Emulator benchmarks: generator events/s, seeding rows/s, and batched vs course posting through the local API.

Batched and course mode run in the same process against the same stack (course mode on a small sample, it is
about a thousand times slower), posting to topics of a throwaway user id that are deleted afterwards, so the
demo's topics and lake are untouched. Rows: `{"suite": "emulator", "case": ..., "records": N, "seconds": s,
"records_per_s": r, "client_cpu_s": c, "load_1m": l}` (+ `vs_course` on the batched rows: how many times
faster than course mode). The client CPU and the load show how much of the time was ours on a shared machine.
Target (issue 2): batched >= 20,000 records/s through the local API Gateway on 2 cores; generator >= 50,000
events/s.
"""

from __future__ import annotations

import os
import resource
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from emulation.batch import run_batch
from emulation.config import Config
from emulation.generator import iter_chunks
from emulation.source_db import seed_database

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


def run(
    stack_info: Any,
    events: int = 30_000,
    course_events: int = 200,
    variants: tuple[tuple[int, int], ...] = ((500, 2), (2000, 3)),
) -> list[dict[str, Any]]:
    """Measure; `stack_info` has `invoke_url`, `api_key` and `bootstrap_servers` (the `stack` fixture's value)."""
    from confluent_kafka.admin import AdminClient

    from local_stack.rest_proxy import ensure_topics

    rows = [bench_generator()]
    with tempfile.TemporaryDirectory(prefix="bench-emulator-") as tmp:
        db_url = f"sqlite:///{Path(tmp) / 'source.db'}"
        started, cpu = time.perf_counter(), _cpu()
        seed_database(db_url, rows=events, seed=42)
        rows.append(
            _row("seed sqlite (rows, 3 tables)", 3 * events, time.perf_counter() - started, _cpu() - cpu)
        )

        config = Config(
            user_id=f"bench{uuid.uuid4().hex[:8]}",
            api_url=stack_info.invoke_url,
            api_key=stack_info.api_key,
            db_url=db_url,
            state_dir=Path(tmp) / "state",
        )
        topics = list(config.names.topics.values())
        ensure_topics(stack_info.bootstrap_servers, topics, partitions=1)
        try:
            cpu = _cpu()
            course = run_batch(config, rows=course_events, mode="course", from_start=True, progress=False)
            course_row = _row(
                "course (1 record/request, new connection)", course.accepted, course.elapsed, _cpu() - cpu
            )
            for batch_size, workers in variants:
                cpu = _cpu()
                report = run_batch(
                    config, batch_size=batch_size, workers=workers, from_start=True, progress=False
                )
                if report.dead_lettered:
                    raise RuntimeError(f"{report.dead_lettered} records dead-lettered during the benchmark")
                row = _row(
                    f"batched ({batch_size}/request, {workers} workers)",
                    report.accepted,
                    report.elapsed,
                    _cpu() - cpu,
                )
                row["vs_course"] = round(row["records_per_s"] / max(course_row["records_per_s"], 1e-9), 1)
                rows.append(row)
            rows.append(course_row)
        finally:
            admin = AdminClient({"bootstrap.servers": stack_info.bootstrap_servers})
            for future in admin.delete_topics(topics, operation_timeout=10).values():
                future.exception()
    return rows


if __name__ == "__main__":
    import json

    from local_stack.supervisor import Stack

    print(json.dumps(run(Stack().up()), indent=2))
