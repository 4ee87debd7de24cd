"""The fault proxy: forwarding, each fault kind, seeded draws, its CLI; and the batch emulator through it to the
real local stack, with nothing lost (issue 11 "Fault proxy")."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from benchmarks.emulator import through_faults
from local_stack.fault_proxy import DEFAULT_KINDS, KINDS, STATS_PATH, FaultProxy
from tests.support.net import free_port

REPO = Path(__file__).resolve().parents[2]


class Upstream:
    """A stand-in API on 127.0.0.1 that records each request and answers 201 with an echo and a header."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, dict[str, str], bytes]] = []
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _any(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                upstream.seen.append((self.command, self.path, dict(self.headers), body))
                payload = json.dumps({"echo": body.decode(), "path": self.path}).encode()
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.send_header("X-Upstream", "yes")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/stage"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    api = Upstream()
    yield api
    api.close()


def test_requests_are_forwarded_unchanged(upstream: Upstream) -> None:
    with FaultProxy(upstream.url, rate=0) as proxy:
        answer = requests.put(
            f"{proxy.url}/streams/s/records?x=1", data=b'{"a": 1}', headers={"x-api-key": "k"}, timeout=10
        )
        stats = requests.get(proxy.url + STATS_PATH, timeout=10).json()
    assert answer.status_code == 201 and answer.headers["X-Upstream"] == "yes"
    assert answer.json() == {"echo": '{"a": 1}', "path": "/stage/streams/s/records?x=1"}
    ((method, path, headers, body),) = upstream.seen
    assert (method, path, body, headers["x-api-key"]) == (
        "PUT",
        "/stage/streams/s/records?x=1",
        b'{"a": 1}',
        "k",
    )
    assert stats == {"requests": 1, "forwarded": 1, "upstream_errors": 0, "faults": {}}
    assert proxy.server.server_address[0] == "127.0.0.1"


@pytest.mark.parametrize("kind", ["429", "500", "503"])
def test_status_faults_answer_without_reaching_the_api(upstream: Upstream, kind: str) -> None:
    with FaultProxy(upstream.url, rate=1, kinds=(kind,), retry_after=3) as proxy:
        answer = requests.post(f"{proxy.url}/topics/t", data=b"{}", timeout=10)
    assert answer.status_code == int(kind) and "injected by the fault proxy" in answer.json()["message"]
    assert answer.headers.get("Retry-After") == ("3" if kind == "429" else None)
    assert upstream.seen == [] and proxy.stats.as_dict()["faults"] == {kind: 1}


def test_a_reset_before_forwarding_never_reaches_the_api(upstream: Upstream) -> None:
    with (
        FaultProxy(upstream.url, rate=1, kinds=("reset",)) as proxy,
        pytest.raises(requests.ConnectionError),
    ):
        requests.post(f"{proxy.url}/topics/t", data=b"{}", timeout=10)
    assert upstream.seen == []


def test_a_reset_after_forwarding_loses_the_answer_of_an_accepted_request(upstream: Upstream) -> None:
    with (
        FaultProxy(upstream.url, rate=1, kinds=("reset_after",)) as proxy,
        pytest.raises(requests.ConnectionError),
    ):
        requests.post(f"{proxy.url}/topics/t", data=b"{}", timeout=10)
    assert len(upstream.seen) == 1 and proxy.stats.as_dict()["forwarded"] == 1


def test_a_delay_answers_late_but_right(upstream: Upstream) -> None:
    with FaultProxy(upstream.url, rate=1, kinds=("delay",), delay=0.3) as proxy:
        started = time.monotonic()
        answer = requests.post(f"{proxy.url}/topics/t", data=b"{}", timeout=10)
    assert answer.status_code == 201 and time.monotonic() - started >= 0.3 and len(upstream.seen) == 1


def test_an_unreachable_api_is_a_502(unused_port: int) -> None:
    with FaultProxy(f"http://127.0.0.1:{unused_port}", rate=0) as proxy:
        answer = requests.post(f"{proxy.url}/topics/t", data=b"{}", timeout=10)
    assert answer.status_code == 502 and proxy.stats.as_dict()["upstream_errors"] == 1


def test_draws_follow_the_seed_and_the_rate(upstream: Upstream) -> None:
    first, second = (FaultProxy(upstream.url, rate=0.2, seed=5) for _ in range(2))
    try:
        draws = [first.fault() for _ in range(5000)]
        assert draws == [second.fault() for _ in range(5000)]
        faults = [d for d in draws if d is not None]
        assert 900 <= len(faults) <= 1100 and set(faults) == set(DEFAULT_KINDS)
    finally:
        first.close()
        second.close()
    with pytest.raises(ValueError, match="unknown fault kind"):
        FaultProxy(upstream.url, kinds=("teapot",))
    with pytest.raises(ValueError, match="between 0 and 1"):
        FaultProxy(upstream.url, rate=1.5)


def test_cli_serves_on_loopback_and_prints_its_stats_on_sigterm(upstream: Upstream) -> None:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "local_stack.fault_proxy",
        "--upstream",
        upstream.url,
        "--port",
        str(port),
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([*command, "--rate", "0"], stdout=subprocess.PIPE, text=True, cwd=REPO, env=env)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith(f"fault proxy on http://127.0.0.1:{port} -> {upstream.url}")
        assert requests.get(f"http://127.0.0.1:{port}/x", timeout=10).status_code == 201
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0 and json.loads(out.strip().splitlines()[-1])["forwarded"] == 1
    bad = subprocess.run(
        [*command, "--rate", "2"], capture_output=True, text=True, cwd=REPO, env=env, timeout=30
    )
    assert bad.returncode == 2 and "must be between 0 and 1" in bad.stderr


@pytest.mark.integration
def test_the_batch_emulator_through_faults_loses_nothing(stack: Any, tmp_path: Path) -> None:
    """Every fault kind at rate 0.3 between the emulator and the real API: every source row reaches its topic;
    each injected failure costs exactly one retry; lost answers of accepted requests show up as duplicates only."""
    # Seed 6: the first 55 draws (fewer than the 60 requests a fault-free run makes) hold every kind twice or more.
    row = through_faults(stack, tmp_path, events=400, rate=0.3, seed=6, batch_size=20, delay=0.1)
    faults = {kind: row[f"fault_{kind}"] for kind in KINDS}
    print(json.dumps(row))
    assert row["lost"] == 0 and row["dead_lettered"] == 0 and row["accepted"] == 3 * 400
    assert row["requests"] == row["emulator_requests"]  # every request went through the proxy
    assert sum(faults.values()) == row["faults"] >= 10 and all(faults.values())  # every kind happened
    assert row["retries"] >= row["faults"] - faults["delay"]  # each failure was answered by a retry
    assert row["duplicates"] <= 20 * faults["reset_after"]  # at most the records of the requests sent twice
