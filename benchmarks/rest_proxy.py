"""REST Proxy benchmarks (issue 18): produce through the local API Gateway and straight to the proxy, with 2,000
records per request, and consume through the proxy's consumer API (a poll loop of `GET .../records` over
100,000 records) beside the raw `confluent-kafka` consumer's rate on the same topic, all in the same run.

When the repository's history has it, the proxy as it was before it moved onto aiohttp (the `http.server`
module of commit `BEFORE_AIOHTTP`) runs too, on a free port against the same broker, for a produce rate of
"before" measured in the same run (straight to the proxy: the stack's API Gateway forwards to the stack's
proxy only), next to this checkout's proxy started the same way; the two are run in turn, `rounds` times each,
and the median is reported beside every run's rate (`runs_per_s`) and the proxy's own CPU seconds per 100,000
records (`proxy_cpu_s_per_100k`), because a shared machine's load moves from one run to the next. Rows: `{"suite": "rest_proxy", "case", "records", "seconds", "records_per_s", "load_1m"}`.
Topics are throwaway ones (`benchrp<hex>.pin`, outside the user's prefix, so the S3 sink leaves them alone).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import requests
from confluent_kafka import Consumer, TopicPartition

from local_stack.processes import wait_for
from local_stack.rest_proxy import JSON_V2, ensure_topics
from tests.support.net import free_port

SUITE = "rest_proxy"
REPO = Path(__file__).resolve().parents[1]
#: The last commit whose proxy was the hand-made `http.server` one (local_stack/rest_proxy.py, 1,237 lines).
BEFORE_AIOHTTP = "234d9e0"
V2 = "application/vnd.kafka.v2+json"


def _row(case: str, records: int, seconds: float, **extra: Any) -> dict[str, Any]:
    return {
        "suite": SUITE,
        "case": case,
        "records": records,
        "seconds": round(seconds, 3),
        "records_per_s": round(records / seconds, 1) if seconds > 0 else 0.0,
        "load_1m": round(os.getloadavg()[0], 1),
        **extra,
    }


def _bodies(records: int, per_request: int) -> list[bytes]:
    """Produce bodies of pin-like records (about 300 bytes each), `per_request` records per body."""
    value = {
        "index": 0,
        "title": "x" * 60,
        "description": "y" * 150,
        "category": "travel",
        "follower_count": "2k",
    }
    return [
        orjson.dumps({"records": [{"value": {**value, "index": start + i}} for i in range(per_request)]})
        for start in range(0, records, per_request)
    ]


def produce(url: str, topic: str, bodies: list[bytes], api_key: str | None, workers: int) -> float:
    """Post every body to `url/topics/topic` with `workers` in flight; seconds taken (every record must succeed)."""
    headers = {"Content-Type": JSON_V2, **({"x-api-key": api_key} if api_key else {})}
    local = threading.local()

    def post(body: bytes) -> None:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        response = session.post(f"{url}/topics/{topic}", data=body, headers=headers, timeout=60)
        response.raise_for_status()
        if any(o["error_code"] is not None for o in response.json()["offsets"]):
            raise RuntimeError(f"records failed: {response.text[:200]}")

    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(post, bodies))
    return time.perf_counter() - started


def consume_through_proxy(url: str, topic: str, records: int) -> tuple[float, float]:
    """A course-style poll loop: one json instance, subscribe, `GET records` until `records` came; seconds
    from the first records call (the group's forming included) to the last record, and to the first one."""
    session = requests.Session()
    group = f"bench{uuid.uuid4().hex[:6]}"
    created = session.post(
        f"{url}/consumers/{group}",
        json={"name": "reader", "format": "json", "auto.offset.reset": "earliest"},
        headers={"Content-Type": V2},
        timeout=30,
    )
    created.raise_for_status()
    base = created.json()["base_uri"]
    session.post(f"{base}/subscription", json={"topics": [topic]}, headers={"Content-Type": V2}, timeout=30)
    got = 0
    first = 0.0
    started = time.perf_counter()
    deadline = time.monotonic() + 300
    try:
        while got < records and time.monotonic() < deadline:
            response = session.get(
                f"{base}/records?timeout=1000&max_bytes=4000000",
                headers={"Accept": JSON_V2},
                timeout=60,
            )
            response.raise_for_status()
            got += len(
                orjson.loads(response.content)
            )  # orjson: the proxy is measured, not the client's parser
            if got and not first:
                first = time.perf_counter() - started
        return time.perf_counter() - started, first
    finally:
        session.delete(base, timeout=30)
        if got < records:
            raise RuntimeError(f"the proxy returned {got} of {records} records")


def consume_raw(bootstrap: str, topic: str, records: int) -> float:
    """The raw `confluent-kafka` consumer on the same topic (assigned, no group join): seconds to read all."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-raw-{uuid.uuid4().hex[:6]}",
            "enable.auto.commit": False,
        }
    )
    consumer.assign([TopicPartition(topic, 0, 0)])
    got = 0
    started = time.perf_counter()
    deadline = time.monotonic() + 300
    try:
        while got < records and time.monotonic() < deadline:
            for message in consumer.consume(1000, timeout=1.0):
                if message.error() is None:
                    orjson.loads(message.value())  # decoded, as the proxy's json format does
                    got += 1
        return time.perf_counter() - started
    finally:
        consumer.close()


@contextmanager
def proxy_process(bootstrap: str, version: str) -> Iterator[tuple[str, int] | None]:
    """A REST Proxy of this checkout (`after`) or of commit BEFORE_AIOHTTP (`before`, None when git has no such
    commit) as a process of its own on a free port: (URL, PID)."""
    with tempfile.TemporaryDirectory(prefix="bench-proxy-") as tmp:
        if version == "before":
            source = subprocess.run(
                ["git", "show", f"{BEFORE_AIOHTTP}:local_stack/rest_proxy.py"],
                cwd=REPO,
                capture_output=True,
                text=True,
                check=False,
            )
            if source.returncode != 0:
                yield None
                return
            script = Path(tmp) / "rest_proxy_before.py"
            script.write_text(source.stdout)
            program = [str(script)]
        else:
            program = ["-m", "local_stack.rest_proxy"]
        port = free_port()
        process = subprocess.Popen(
            [
                sys.executable,
                *program,
                "--port",
                str(port),
                "--bootstrap-servers",
                bootstrap,
                "--log-level",
                "WARNING",
            ],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            yield (url, process.pid) if wait_for(lambda: _answers(url), timeout=20) else None
        finally:
            process.terminate()
            process.wait(timeout=20)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _answers(url: str) -> bool:
    try:
        return requests.get(f"{url}/", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def run(
    stack_info: Any,
    produce_records: int = 100_000,
    consume_records: int = 100_000,
    per_request: int = 2_000,
    workers: int = 3,
    rounds: int = 3,
    say: Callable[[str], None] = lambda _line: None,
) -> list[dict[str, Any]]:
    """Measure; `stack_info` has `invoke_url`, `api_key`, `rest_proxy_url` and `bootstrap_servers`."""
    bootstrap = stack_info.bootstrap_servers
    bodies = _bodies(produce_records, per_request)
    rows = []
    shape = f"{per_request}/request, {workers} workers"
    topics = [f"benchrp{uuid.uuid4().hex[:8]}.pin" for _ in range(2 + 2 * rounds)]
    ensure_topics(bootstrap, topics)
    say(f"rest_proxy: produce {produce_records} records through the API Gateway")
    seconds = produce(stack_info.invoke_url, topics[0], bodies, stack_info.api_key, workers)
    rows.append(_row(f"produce through the API Gateway ({shape})", produce_records, seconds))
    with proxy_process(bootstrap, "after") as after, proxy_process(bootstrap, "before") as before:
        # each proxy a fresh process with the same flags, run in turn `rounds` times: a shared machine's load
        # moves from one run to the next; the proxy's own CPU time per 100,000 records moves much less
        proxies = {"after": after, "before": before}
        runs: dict[str, list[tuple[float, float]]] = {"after": [], "before": []}
        for round_ in range(rounds):
            say(f"rest_proxy: produce straight to each proxy, round {round_ + 1} of {rounds}")
            for key, proxy in proxies.items():
                if proxy is None:
                    continue
                url, pid = proxy
                cpu = cpu_seconds(pid)
                topic = topics[2 + 2 * round_ + (key == "before")]
                seconds = produce(url, topic, bodies, None, workers)
                runs[key].append((seconds, cpu_seconds(pid) - cpu))
        cases = {
            "after": f"produce straight to the proxy on aiohttp ({shape}; median of {rounds})",
            "before": f"produce straight to the http.server proxy of {BEFORE_AIOHTTP} ({shape}; median of {rounds})",
        }
        for key, measured in runs.items():
            if measured:
                rates = ", ".join(f"{produce_records / s:,.0f}" for s, _ in measured)
                cpu_per_100k = statistics.median(c for _, c in measured) * 100_000 / produce_records
                rows.append(
                    _row(
                        cases[key],
                        produce_records,
                        statistics.median(s for s, _ in measured),
                        runs_per_s=rates,
                        proxy_cpu_s_per_100k=round(cpu_per_100k, 2),
                    )
                )

    consume_bodies = _bodies(consume_records, per_request)
    produce(stack_info.rest_proxy_url, topics[1], consume_bodies, None, workers)
    say(f"rest_proxy: consume {consume_records} records through the proxy's consumer API")
    seconds, first = consume_through_proxy(stack_info.rest_proxy_url, topics[1], consume_records)
    proxy_rate = consume_records / seconds
    rows.append(
        _row(
            "consume: poll loop of GET records through the proxy (json)",
            consume_records,
            seconds,
            first_record_s=round(first, 2),  # the group forming: Tansu holds the join about 3 s
            after_first_per_s=round(consume_records / max(seconds - first, 1e-9), 1),
        )
    )
    seconds = consume_raw(bootstrap, topics[1], consume_records)
    rows.append(_row("consume: raw confluent-kafka consumer, same topic", consume_records, seconds))
    rows[-2]["vs_raw"] = round(proxy_rate / (consume_records / seconds), 2)
    return rows
