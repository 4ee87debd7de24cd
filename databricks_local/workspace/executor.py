"""Executes the local workspace's runs: each task run is one `python -m local_stack.notebook_runner run` process
(a single-task run, such as a job of one notebook, is one process), in its own process group, so that a timeout
or a cancel stops the notebook and the Spark JVM it started (SIGTERM to the group, SIGKILL after a grace period,
and the run ends only once no process of the group is left).

The command: `<runner> run --workspace <files root> [--widget k=v]... --available-now --result <file> <notebook>`,
with the server's environment (the stack's AWS endpoint and credentials) plus `DATABRICKS_LOCAL_SECRETS_FILE`, a
0600 copy of the secret scopes. The result file is a JSON list of `{notebook, state, exit_value, error, trace,
seconds}`; its first entry is the task's outcome: `notebook_output.result` is the exit value, a failure's `error` and
`error_trace` are the notebook's. A process that ends without a result file is an `INTERNAL_ERROR` whose error is
the tail of its log. At most `max_parallel` task runs execute at once (each starts a JVM); others stay `PENDING`.
Tasks of one run execute in dependency order; a task whose `run_if` (default `ALL_SUCCESS`; `ALL_DONE`,
`NONE_FAILED`, `AT_LEAST_ONE_SUCCESS`, `ALL_FAILED`, `AT_LEAST_ONE_FAILED`) its dependencies do not meet is skipped
(`UPSTREAM_FAILED`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from databricks_local.workspace.jobs import TERMINAL, Jobs
from databricks_local.workspace.objects import Workspace
from databricks_local.workspace.secrets import SECRETS_FILE_ENV, write_secret_store
from databricks_local.workspace.store import now_ms

log = logging.getLogger("databricks_workspace")

DEFAULT_RUNNER = (sys.executable, "-m", "local_stack.notebook_runner")
KILL_GRACE_SECONDS = 5.0
LOG_TAIL_CHARACTERS = 4000
RESULT_LIMIT = 5 * 1024 * 1024


class Executor:
    """Starts, watches and stops the processes of runs."""

    def __init__(
        self,
        jobs: Jobs,
        workspace: Workspace,
        *,
        runner: Sequence[str] = DEFAULT_RUNNER,
        env: Mapping[str, str] | None = None,
        max_parallel: int = 2,
        kill_grace: float = KILL_GRACE_SECONDS,
    ) -> None:
        self.jobs = jobs
        self.store = jobs.store
        self.workspace = workspace
        self.runner = list(runner)
        self.env = dict(os.environ if env is None else env)
        self.slots = asyncio.Semaphore(max_parallel)
        self.kill_grace = kill_grace
        self.tasks: dict[int, asyncio.Task[None]] = {}
        self.processes: dict[int, asyncio.subprocess.Process] = {}  # task run id -> its process
        self.stop_reason: dict[int, str] = {}  # run id -> CANCELED / TIMEDOUT

    # --- life cycle of the server ----------------------------------------------------------------------
    def recover(self) -> None:
        """At start: runs a previous server left active cannot be resumed; they end as INTERNAL_ERROR."""
        for run in list(self.store.runs()):
            if run["state"]["life_cycle_state"] in TERMINAL:
                continue
            message = "The local workspace restarted while this run was active; its process was stopped."
            for task in run["tasks"]:
                pgid = task.get("_pgid")
                if pgid and task["state"]["life_cycle_state"] not in TERMINAL:
                    _kill_group_if_ours(pgid, self.store.runs_dir)
                    self._finish_task(task, "INTERNAL_ERROR", "FAILED", message, {"error": message})
                elif task["state"]["life_cycle_state"] not in TERMINAL:
                    self._finish_task(task, "SKIPPED", "CANCELED", message, {})
            self._finish_run(run, "INTERNAL_ERROR", "FAILED", message)

    def start(self, run_id: int) -> None:
        """Execute a run (already recorded PENDING) in the background."""
        self.tasks[run_id] = asyncio.get_running_loop().create_task(
            self._execute(run_id), name=f"run-{run_id}"
        )
        self.tasks[run_id].add_done_callback(lambda _t: self.tasks.pop(run_id, None))

    async def shutdown(self) -> None:
        """Stop every active run (the server is stopping): their processes are killed, the runs end CANCELED."""
        for run_id in list(self.tasks):
            self.stop_reason.setdefault(run_id, "SHUTDOWN")
            self._signal_run(run_id)
        if self.tasks:
            await asyncio.wait(list(self.tasks.values()), timeout=self.kill_grace + 10)

    # --- cancel --------------------------------------------------------------------------------------
    def cancel(self, run_id: int) -> None:
        run, task = self.jobs.run(run_id)
        if task is not None:
            run_id = run["run_id"]
        if run["state"]["life_cycle_state"] in TERMINAL:
            return  # cancelling a finished run is a no-op on Databricks too
        self.stop_reason.setdefault(run_id, "CANCELED")
        run["state"]["life_cycle_state"] = "TERMINATING"
        run["status"] = {"state": "TERMINATING"}
        self.store.save_run(run)
        if run_id in self.tasks:
            self._signal_run(run_id)
        else:  # never started (a server restart): end it now
            self._cancel_rest(run, "Run cancelled.")

    def _signal_run(self, run_id: int) -> None:
        run = self.store.get_run(run_id)
        for task in run["tasks"] if run else []:
            process = self.processes.get(task["run_id"])
            if process is not None and process.returncode is None:
                _signal_group(process.pid, signal.SIGTERM)
        waiter = self.tasks.get(run_id)
        if waiter is not None and not any(
            self.processes.get(t["run_id"]) for t in (run["tasks"] if run else [])
        ):
            waiter.cancel()  # waiting for a slot: nothing to kill

    # --- one run -------------------------------------------------------------------------------------
    async def _execute(self, run_id: int) -> None:
        run = self.store.get_run(run_id)
        assert run is not None
        timeout = int(run.get("_timeout_seconds") or 0)
        deadline = time.monotonic() + timeout if timeout > 0 else None
        outcomes: dict[str, str] = {}
        try:
            for index in range(len(run["tasks"])):
                run = self.store.get_run(run_id)
                assert run is not None
                task = run["tasks"][index]
                reason = self.stop_reason.get(run_id)
                deps = [d["task_key"] for d in task.get("depends_on") or []]
                failed_deps = (
                    [] if run_if_met(task.get("run_if"), [outcomes.get(d, "") for d in deps]) else deps
                )
                if reason or failed_deps:
                    result = "CANCELED" if reason else "UPSTREAM_FAILED"
                    message = (
                        "Run cancelled." if reason else f"Upstream task(s) {', '.join(failed_deps)} failed."
                    )
                    self._finish_task(task, "SKIPPED", result, message, {})
                    self.store.save_run(run)
                    outcomes[task["task_key"]] = result
                    continue
                outcomes[task["task_key"]] = await self._execute_task(run_id, index, deadline)
        except asyncio.CancelledError:
            run = self.store.get_run(run_id)
            if run is not None and run["state"]["life_cycle_state"] not in TERMINAL:
                self._cancel_rest(run, "Run cancelled.")
            return
        except Exception as exc:  # a bug here must not leave the run RUNNING forever
            log.exception("run %d failed in the executor", run_id)
            run = self.store.get_run(run_id)
            if run is not None:
                message = f"The local workspace failed to execute the run: {type(exc).__name__}: {exc}"
                for task in run["tasks"]:
                    if task["state"]["life_cycle_state"] not in TERMINAL:
                        self._finish_task(task, "INTERNAL_ERROR", "FAILED", message, {"error": message})
                self._finish_run(run, "INTERNAL_ERROR", "FAILED", message)
            return
        run = self.store.get_run(run_id)
        assert run is not None
        self._conclude(run)

    def _conclude(self, run: dict[str, Any]) -> None:
        """The run's state from its tasks' states."""
        tasks = run["tasks"]
        results = [t["state"].get("result_state") for t in tasks]
        reason = self.stop_reason.pop(run["run_id"], None)
        internal = [t for t in tasks if t["state"]["life_cycle_state"] == "INTERNAL_ERROR"]
        if all(r == "SUCCESS" for r in results):
            self._finish_run(run, "TERMINATED", "SUCCESS", "")
        elif reason == "TIMEDOUT" or "TIMEDOUT" in results:
            self._finish_run(run, "TERMINATED", "TIMEDOUT", _timeout_message(run), cancelled_or_timedout=True)
        elif reason in ("CANCELED", "SHUTDOWN") or "CANCELED" in results:
            message = (
                "Run cancelled."
                if reason != "SHUTDOWN"
                else "The local workspace stopped; the run was cancelled."
            )
            self._finish_run(run, "TERMINATED", "CANCELED", message, cancelled_or_timedout=True)
        elif internal:
            self._finish_run(run, "INTERNAL_ERROR", "FAILED", internal[0]["state"]["state_message"])
        else:
            failed = next(t for t in tasks if t["state"].get("result_state") == "FAILED")
            error = (failed.get("_output") or {}).get("error") or "the notebook failed"
            skipped = any(t["state"].get("result_state") == "UPSTREAM_FAILED" for t in tasks)
            message = f"Task {failed['task_key']} failed with message: {error}." + (
                " This caused all downstream tasks to get skipped." if skipped else ""
            )
            self._finish_run(run, "TERMINATED", "FAILED", message)

    async def _execute_task(self, run_id: int, index: int, deadline: float | None) -> str:
        queued = time.monotonic()
        async with self.slots:
            run = self.store.get_run(run_id)
            assert run is not None
            task = run["tasks"][index]
            if self.stop_reason.get(run_id):
                self._finish_task(task, "SKIPPED", "CANCELED", "Run cancelled.", {})
                self.store.save_run(run)
                return "CANCELED"
            task_timeout = int(task.get("timeout_seconds") or 0)
            if task_timeout > 0:
                task_deadline = time.monotonic() + task_timeout
                deadline = task_deadline if deadline is None else min(deadline, task_deadline)
            started = now_ms()
            task["start_time"] = started
            if run["state"]["life_cycle_state"] == "PENDING":
                run["state"]["life_cycle_state"] = "RUNNING"
                run["status"] = {"state": "RUNNING"}
            try:
                notebook = self.workspace.notebook_file(task["notebook_task"]["notebook_path"])
            except Exception as exc:
                message = str(getattr(exc, "message", exc))
                self._finish_task(
                    task, "TERMINATED", "FAILED", message, {"error": message}, code="RESOURCE_NOT_FOUND"
                )
                self.store.save_run(run)
                return "FAILED"
            directory = self.store.runs_dir / str(task["run_id"])
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            result_file = directory / "result.json"
            result_file.unlink(missing_ok=True)
            secrets_file = directory / "secrets.json"
            write_secret_store(secrets_file, self.store.secret_store())
            argv = [*self.runner, "run", "--workspace", str(self.workspace.files)]
            for name, value in task.get("_widgets", {}).items():
                argv += ["--widget", f"{name}={value}"]
            argv += ["--available-now", "--result", str(result_file), str(notebook)]
            env = {
                **self.env,
                SECRETS_FILE_ENV: str(secrets_file),
                "PYTHONUNBUFFERED": "1",
                "DATABRICKS_LOCAL_RUN_ID": str(task["run_id"]),
            }
            log_path = directory / "output.log"
            log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                process = await asyncio.create_subprocess_exec(
                    *argv,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=log_fd,
                    stderr=asyncio.subprocess.STDOUT,
                    env=env,
                    cwd=str(directory),
                    start_new_session=True,  # its own process group: the JVM goes with it
                )
            except OSError as exc:
                os.close(log_fd)
                message = f"Could not start the notebook runner {argv[0]}: {exc}"
                self._finish_task(task, "INTERNAL_ERROR", "FAILED", message, {"error": message})
                self.store.save_run(run)
                return "FAILED"
            os.close(log_fd)
            self.processes[task["run_id"]] = process
            task["_pgid"] = process.pid
            task["setup_duration"] = int((time.monotonic() - queued) * 1000)
            task["state"].update({"life_cycle_state": "RUNNING", "state_message": "In run"})
            task["status"] = {"state": "RUNNING"}
            task["cluster_instance"] = {"cluster_id": "local", "spark_context_id": str(process.pid)}
            self.store.save_run(run)
            log.info("run %d task %s: pid %d %s", run_id, task["task_key"], process.pid, notebook)
            timed_out = await self._wait(process, deadline)
            await self._reap_group(process.pid)
            self.processes.pop(task["run_id"], None)
        run = self.store.get_run(run_id)
        assert run is not None
        task = run["tasks"][index]
        ended = now_ms()
        task["execution_duration"] = ended - task["start_time"]
        reason = "TIMEDOUT" if timed_out else self.stop_reason.get(run_id)
        if timed_out:
            self.stop_reason.setdefault(run_id, "TIMEDOUT")
        entries = _read_result(result_file)
        first = entries[0] if entries else None
        output: dict[str, Any] = {}
        if first is not None and first.get("exit_value") is not None:
            value = str(first["exit_value"])
            output["notebook_output"] = {"result": value[: 5 * 1024 * 1024 // 8 * 8], "truncated": False}
        elif first is not None:
            output["notebook_output"] = {}
        if reason in ("TIMEDOUT", "CANCELED", "SHUTDOWN"):
            message = _timeout_message(run) if reason == "TIMEDOUT" else "Run cancelled."
            result = "TIMEDOUT" if reason == "TIMEDOUT" else "CANCELED"
            self._finish_task(task, "TERMINATED", result, message, output, cancelled_or_timedout=True)
        elif first is not None and not first.get("error") and process.returncode == 0:
            self._finish_task(task, "TERMINATED", "SUCCESS", "", output)
        elif first is not None and first.get("error"):
            output["error"] = str(first["error"])
            if first.get("trace"):
                output["error_trace"] = str(first["trace"])
            self._finish_task(
                task, "TERMINATED", "FAILED", "Workload failed, see run output for details", output
            )
        else:
            tail = _tail(log_path)
            message = f"The notebook runner exited with code {process.returncode} without a result" + (
                f": {tail.strip().splitlines()[-1]}" if tail.strip() else ""
            )
            output.update({"error": message, "error_trace": tail})
            self._finish_task(task, "INTERNAL_ERROR", "FAILED", message, output)
        self.store.save_run(run)
        return str(task["state"]["result_state"])

    async def _wait(self, process: asyncio.subprocess.Process, deadline: float | None) -> bool:
        """Wait for the process; past the deadline, stop its group. True when it timed out."""
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            await asyncio.wait_for(asyncio.shield(process.wait()), timeout)
            return False
        except TimeoutError:
            _signal_group(process.pid, signal.SIGTERM)
            return True

    async def _reap_group(self, pgid: int) -> None:
        """Wait until no process of the group is left: SIGKILL what outlives the grace period."""
        give_up = time.monotonic() + self.kill_grace
        killed = False
        while _group_alive(pgid):
            if not killed and time.monotonic() >= give_up:
                _signal_group(pgid, signal.SIGKILL)
                killed = True
                give_up = time.monotonic() + 10
            elif killed and time.monotonic() >= give_up:
                log.error("process group %d survived SIGKILL", pgid)
                return
            await asyncio.sleep(0.05)

    # --- state ---------------------------------------------------------------------------------------
    def _finish_task(
        self,
        task: dict[str, Any],
        life_cycle: str,
        result: str,
        message: str,
        output: dict[str, Any],
        cancelled_or_timedout: bool = False,
        code: str | None = None,
    ) -> None:
        stamp = now_ms()
        if not task.get("start_time"):
            task["start_time"] = stamp
        task["end_time"] = stamp
        task["state"] = {
            "life_cycle_state": life_cycle,
            "result_state": result,
            "state_message": message,
            "user_cancelled_or_timedout": cancelled_or_timedout,
        }
        task["status"] = _status(life_cycle, result, message, code)
        task["_output"] = output
        task.pop("_pgid", None)

    def _finish_run(
        self,
        run: dict[str, Any],
        life_cycle: str,
        result: str,
        message: str,
        cancelled_or_timedout: bool = False,
        code: str | None = None,
    ) -> None:
        stamp = now_ms()
        run["end_time"] = stamp
        run["run_duration"] = stamp - run["start_time"]
        run["state"] = {
            "life_cycle_state": life_cycle,
            "result_state": result,
            "state_message": message,
            "user_cancelled_or_timedout": cancelled_or_timedout,
        }
        run["status"] = _status(life_cycle, result, message, code)
        self.store.save_run(run)

    def _cancel_rest(self, run: dict[str, Any], message: str) -> None:
        for task in run["tasks"]:
            if task["state"]["life_cycle_state"] not in TERMINAL:
                self._finish_task(task, "TERMINATED", "CANCELED", message, task.get("_output") or {}, True)
        self.stop_reason.pop(run["run_id"], None)
        self._finish_run(run, "TERMINATED", "CANCELED", message, cancelled_or_timedout=True)


def run_if_met(condition: str | None, results: list[str]) -> bool:
    """Whether a task runs, given its dependencies' result states (Databricks' `run_if`, default ALL_SUCCESS)."""
    if not results:
        return True
    ok = [r == "SUCCESS" for r in results]
    failed = [r in ("FAILED", "TIMEDOUT", "UPSTREAM_FAILED") for r in results]
    return {
        "ALL_SUCCESS": all(ok),
        "ALL_DONE": True,
        "NONE_FAILED": not any(failed),
        "AT_LEAST_ONE_SUCCESS": any(ok),
        "ALL_FAILED": all(failed),
        "AT_LEAST_ONE_FAILED": any(failed),
    }.get(condition or "ALL_SUCCESS", all(ok))


#: Jobs 2.2's termination code and type of each result (databricks-sdk `TerminationCodeCode`, `TerminationTypeType`).
TERMINATION = {
    "SUCCESS": ("SUCCESS", "SUCCESS"),
    "FAILED": ("RUN_EXECUTION_ERROR", "CLIENT_ERROR"),
    "TIMEDOUT": (
        "CANCELED",
        "CLIENT_ERROR",
    ),  # "canceled by the platform, e.g. the maximum duration exceeded"
    "CANCELED": ("USER_CANCELED", "SUCCESS"),
    "UPSTREAM_FAILED": ("SKIPPED", "SUCCESS"),
    "MAXIMUM_CONCURRENT_RUNS_REACHED": ("MAX_CONCURRENT_RUNS_EXCEEDED", "CLIENT_ERROR"),
}


def _status(life_cycle: str, result: str, message: str, code: str | None = None) -> dict[str, Any]:
    """Jobs 2.2's `status` of a terminal run or task run."""
    default, kind = TERMINATION.get(result, ("INTERNAL_ERROR", "INTERNAL_ERROR"))
    if life_cycle == "INTERNAL_ERROR":
        default, kind = "INTERNAL_ERROR", "INTERNAL_ERROR"
    elif code == "RESOURCE_NOT_FOUND":
        kind = "CLIENT_ERROR"
    details = {"code": code or default, "type": kind, "message": message}
    return {"state": "TERMINATED", "termination_details": details}


def _timeout_message(run: dict[str, Any]) -> str:
    return "Run timed out."


def _read_result(path: Path) -> list[dict[str, Any]]:
    try:
        if path.stat().st_size > RESULT_LIMIT:
            return []
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [e for e in data if isinstance(e, dict)] if isinstance(data, list) else []


def _tail(path: Path) -> str:
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - LOG_TAIL_CHARACTERS))
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _group_alive(pgid: int) -> bool:
    """True while a process of the group exists (zombies of it count as gone)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # killpg(0) succeeds for zombies too: look for a live member
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def _kill_group_if_ours(pgid: int, runs_dir: Path) -> None:
    """Kill a group a previous server started, if its leader still writes its result under `runs_dir` (PIDs are
    reused: a process that is not one of our runs is left alone)."""
    try:
        cmdline = Path(f"/proc/{pgid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return
    if any(part.startswith(str(runs_dir).encode() + b"/") for part in cmdline):
        _signal_group(pgid, signal.SIGKILL)
