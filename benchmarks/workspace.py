"""Local Databricks workspace benchmark (issue 17): how fast `runs/get` answers while a run executes.

A fresh workspace process (the component's command line, a throwaway state dir, a free port) runs a notebook that
starts Spark and then sleeps; while its task run is RUNNING (the runner and its JVM busy on the same cores),
`runs/get` of the run is called `requests` times in a row over one keep-alive connection, as a poller such as the
Airflow provider does, and the same number of times on the idle workspace before it. Rows: `{"suite": "workspace",
"case", "requests", "p50_ms", "p95_ms", "max_ms", "target_p95_ms", "load_1m"}`; the target is p95 < 50 ms.
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from local_stack import components
from local_stack.config import StackConfig
from local_stack.processes import open_private_log, wait_for
from tests.support.net import free_port

SUITE = "workspace"
TARGET_P95_MS = 50.0
SLEEPER = b"""# Databricks notebook source
spark.range(1000).count()
import time
time.sleep(120)
"""


def _latencies(call: Callable[[], requests.Response], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        response = call()
        out.append((time.perf_counter() - t0) * 1000)
        response.raise_for_status()
    return out


def _row(case: str, samples: list[float], **extra: Any) -> dict[str, Any]:
    ordered = sorted(samples)
    return {
        "suite": SUITE,
        "case": case,
        "requests": len(samples),
        "p50_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 2),
        "max_ms": round(ordered[-1], 2),
        "target_p95_ms": TARGET_P95_MS,
        "load_1m": round(os.getloadavg()[0], 1),
        **extra,
    }


def run(requests_per_case: int = 500, say: Callable[[str], None] = print) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="bench-workspace-") as state:
        config = dataclasses.replace(
            StackConfig.from_env(), state_dir=Path(state), databricks_port=free_port()
        )
        component = components.databricks(config)
        log = Path(state) / "databricks.log"
        fd = open_private_log(log)
        process = subprocess.Popen(component.argv, env=component.env, cwd=component.cwd, stdout=fd, stderr=fd)
        os.close(fd)
        try:
            if not wait_for(component.check, 30):
                raise RuntimeError(f"the workspace did not start: {log.read_text()[-1000:]}")
            token = config.databricks_token_file.read_text().strip()
            session = requests.Session()
            session.trust_env = False
            session.headers["Authorization"] = f"Bearer {token}"
            url = config.databricks_url

            def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
                response = session.post(f"{url}{path}", json=body, timeout=10)
                response.raise_for_status()
                return response.json()

            import base64

            post("/api/2.0/workspace/mkdirs", {"path": "/Shared/bench"})
            post(
                "/api/2.0/workspace/import",
                {
                    "path": "/Shared/bench/sleeper",
                    "format": "SOURCE",
                    "language": "PYTHON",
                    "content": base64.b64encode(SLEEPER).decode(),
                },
            )
            submitted = post(
                "/api/2.1/jobs/runs/submit",
                {
                    "run_name": "bench",
                    "tasks": [
                        {"task_key": "sleep", "notebook_task": {"notebook_path": "/Shared/bench/sleeper"}}
                    ],
                },
            )
            run_id = submitted["run_id"]

            def get() -> requests.Response:
                return session.get(f"{url}/api/2.1/jobs/runs/get", params={"run_id": run_id}, timeout=10)

            def running_with_jvm() -> bool:
                task = get().json()["tasks"][0]
                if task["state"]["life_cycle_state"] != "RUNNING":
                    return False
                pgid = int(task["cluster_instance"]["spark_context_id"])
                return any(_group_of(pid) == pgid and _name(pid) == "java" for pid in _pids())

            rows = []
            if not wait_for(running_with_jvm, 120):
                raise RuntimeError("the benchmark run never reached RUNNING with its JVM")
            time.sleep(2)  # Spark's start-up is the busiest part: measure while the notebook works and sleeps
            say(f"   runs/get x{requests_per_case} while run {run_id} executes")
            rows.append(_row("runs/get, a run executing", _latencies(get, requests_per_case)))
            post("/api/2.1/jobs/runs/cancel", {"run_id": run_id})
            wait_for(lambda: get().json()["state"]["life_cycle_state"] == "TERMINATED", 30)
            rows.append(_row("runs/get, idle workspace", _latencies(get, requests_per_case)))
            return rows
        finally:
            process.terminate()
            process.wait(timeout=30)


def _pids() -> list[int]:
    return [int(e.name) for e in os.scandir("/proc") if e.name.isdigit()]


def _stat(pid: int) -> list[str]:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return []
    return [text.split("(", 1)[1].rsplit(")", 1)[0], *text.rsplit(")", 1)[1].split()]


def _group_of(pid: int) -> int | None:
    fields = _stat(pid)
    return int(fields[3]) if fields else None


def _name(pid: int) -> str:
    fields = _stat(pid)
    return fields[0] if fields else ""
