"""Bench suite `orchestration`: what Airflow and the local workspace add around the batch notebook.

`make run-dag` (`python -m local_stack.run_dag`, timed from outside as a user runs it) on the running stack: its wall
time minus the batch notebook's own run time (the Databricks run's start to end in the local workspace, which is
the notebook runner's process). The rest is the orchestration: Airflow's start and DAG parsing, the trigger task
(job lookup by name, run-now, polling at 1 s), the check task and the workspace's bookkeeping. Target: under 20 s
on 2 cores. A run that first imports and deploys the bundle (column `prepared`) is reported but not held to the
target. `orchestration_cpu_s` is the CPU time of run-dag
and its Airflow process (the notebook's own processes belong to the workspace): what the overhead costs on an
idle machine, whatever else the machine is doing.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 20.0


def run_dag_once(extra: list[str] | None = None) -> dict[str, Any]:
    """One `python -m local_stack.run_dag` process: wall seconds and its JSON result."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        cpu_before = _children_cpu()
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "local_stack.run_dag", "--json", str(out), *(extra or [])],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - started
        cpu = _children_cpu() - cpu_before
        if not out.exists():
            raise RuntimeError(f"run-dag wrote no result (exit {done.returncode}): {done.stderr[-1500:]}")
        result = json.loads(out.read_text())
    result["process_wall_seconds"] = wall
    result["process_cpu_seconds"] = cpu
    result["exit_status"] = done.returncode
    return result


def _children_cpu() -> float:
    """CPU seconds of the waited-for child processes: run-dag and its Airflow process (the notebook runs in the
    workspace's own processes, so none of it counts here)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(runs: int = 3, say: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """`runs` DAG runs on the running stack; one row each."""
    rows = []
    for i in range(runs):
        result = run_dag_once()
        notebook = float(result["databricks_run"].get("seconds") or 0.0)
        wall = result["process_wall_seconds"]
        row = {
            "suite": "orchestration",
            "case": f"run-dag #{i + 1}" + (" (cold)" if i == 0 and result.get("prepared") else ""),
            "dag_state": result["state"],
            "wall_s": round(wall, 2),
            "notebook_run_s": round(notebook, 2),
            "overhead_s": round(wall - notebook, 2),
            "orchestration_cpu_s": round(result["process_cpu_seconds"], 2),
            "target_s": TARGET_SECONDS,
            "ok": result["state"] == "success"
            and (bool(result.get("prepared")) or wall - notebook < TARGET_SECONDS),
            "prepared": ",".join(result.get("prepared") or []) or "-",
        }
        say(f"   {row['case']}: {row['dag_state']} in {wall:.1f} s, notebook {notebook:.1f} s")
        if result["state"] != "success":
            failed = [
                name for name, task in result.get("tasks", {}).items() if task.get("state") != "success"
            ]
            say(
                f"   failed tasks: {', '.join(failed) or '-'}; log {result.get('log')}"
                " (an empty lake fails check_results with nine zero counts: `make demo` or `make emulate-batch` first)"
            )
        rows.append(row)
    return rows
