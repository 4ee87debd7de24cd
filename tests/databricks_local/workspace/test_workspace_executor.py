"""The run executor's handling of what the real runner rarely does on demand, with small stand-in runner commands
(no Spark): a runner that dies without a result is INTERNAL_ERROR with its output's last line, `max_concurrent_runs`
skips a run beyond it, a dependency that failed skips its downstream task, and stopping the workspace stops the
runs it has (their process groups gone)."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.service import jobs
from databricks.sdk.service.workspace import ImportFormat

from databricks_local.workspace.server import WorkspaceServer

#: A runner that writes a result for each notebook named `ok*`, dies on `crash*`, and sleeps on `sleep*`.
RUNNER = r"""
import json, sys, time
args = sys.argv[1:]
result = args[args.index("--result") + 1]
notebook = args[-1]
name = notebook.rsplit("/", 1)[-1]
if name.startswith("crash"):
    print("java.lang.OutOfMemoryError: the stand-in ran out", flush=True)
    sys.exit(137)
if name.startswith("sleep"):
    time.sleep(120)
state = "FAILED" if name.startswith("bad") else "SUCCESS"
entry = {"notebook": notebook, "state": state, "exit_value": "done" if state == "SUCCESS" else None,
         "error": "ValueError: bad" if state == "FAILED" else None, "trace": "Traceback: bad" if state == "FAILED" else None,
         "seconds": 0.1}
open(result, "w").write(json.dumps([entry]))
sys.exit(0 if state == "SUCCESS" else 1)
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[WorkspaceServer, WorkspaceClient]]:
    script = tmp_path / "runner.py"
    script.write_text(RUNNER)
    srv = WorkspaceServer(
        ("127.0.0.1", 0),
        tmp_path / "ws",
        "dapi-test-token",
        runner=[sys.executable, str(script)],
        kill_grace=2,
    )
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    client = WorkspaceClient(host=srv.url, token="dapi-test-token")
    client.workspace.mkdirs("/Shared/x")
    for name in ("ok", "crash", "sleep", "bad"):
        client.workspace.upload(
            f"/Shared/x/{name}.py", b"# Databricks notebook source\n", format=ImportFormat.AUTO
        )
    try:
        yield srv, client
    finally:
        srv.shutdown()
        srv.server_close()


def task(key: str, notebook: str, after: str | None = None) -> jobs.Task:
    return jobs.Task(
        task_key=key,
        notebook_task=jobs.NotebookTask(notebook_path=f"/Shared/x/{notebook}"),
        depends_on=[jobs.TaskDependency(task_key=after)] if after else None,
    )


def finished(client: WorkspaceClient, run_id: int, timeout: float = 30) -> jobs.Run:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = client.jobs.get_run(run_id)
        if run.state.life_cycle_state in (
            jobs.RunLifeCycleState.TERMINATED,
            jobs.RunLifeCycleState.INTERNAL_ERROR,
            jobs.RunLifeCycleState.SKIPPED,
        ):
            return run
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not end: {client.jobs.get_run(run_id).state}")


def test_a_runner_that_dies_without_a_result_is_an_internal_error(server) -> None:
    _, client = server
    run_id = client.jobs.submit(
        run_name="crash",
        tasks=[
            jobs.SubmitTask(task_key="c", notebook_task=jobs.NotebookTask(notebook_path="/Shared/x/crash"))
        ],
    ).run_id
    run = finished(client, run_id)
    assert run.state.life_cycle_state == jobs.RunLifeCycleState.INTERNAL_ERROR
    assert run.state.result_state == jobs.RunResultState.FAILED
    assert "exited with code 137" in run.state.state_message and "OutOfMemoryError" in run.state.state_message
    assert run.status.termination_details.code == jobs.TerminationCodeCode.INTERNAL_ERROR
    output = client.jobs.get_run_output(run.tasks[0].run_id)
    assert "OutOfMemoryError" in output.error_trace


def test_downstream_of_a_failed_task_is_skipped_and_the_run_names_the_failure(server) -> None:
    _, client = server
    job = client.jobs.create(name="chain", tasks=[task("first", "bad"), task("second", "ok", after="first")])
    run = finished(client, client.jobs.run_now(job.job_id).run_id)
    assert run.state.result_state == jobs.RunResultState.FAILED
    assert run.state.state_message == (
        "Task first failed with message: ValueError: bad. This caused all downstream tasks to get skipped."
    )
    states = {t.task_key: t.state.result_state for t in run.tasks}
    assert states == {"first": jobs.RunResultState.FAILED, "second": jobs.RunResultState.UPSTREAM_FAILED}
    with pytest.raises(Exception, match="multiple tasks"):
        client.jobs.get_run_output(run.run_id)
    assert client.jobs.get_run_output(run.tasks[0].run_id).error_trace == "Traceback: bad"


def test_an_idempotency_token_gives_the_same_run_and_names_match_case_insensitively(server) -> None:
    _, client = server
    job = client.jobs.create(name="Once", tasks=[task("o", "ok")])
    assert [j.job_id for j in client.jobs.list(name="once")] == [
        job.job_id
    ]  # as Databricks: case-insensitive
    first = client.jobs.run_now(job.job_id, idempotency_token="test-nightly-2024-01-01")
    again = client.jobs.run_now(job.job_id, idempotency_token="test-nightly-2024-01-01")
    assert again.run_id == first.run_id
    assert finished(client, first.run_id).state.result_state == jobs.RunResultState.SUCCESS
    assert len(list(client.jobs.list_runs(job_id=job.job_id))) == 1


def test_run_if_conditions_over_the_dependencies_results() -> None:
    from databricks_local.workspace.executor import run_if_met

    assert run_if_met(None, []) and run_if_met("ALL_DONE", ["FAILED"]) and not run_if_met(None, ["FAILED"])
    assert run_if_met("AT_LEAST_ONE_SUCCESS", ["FAILED", "SUCCESS"]) and not run_if_met(
        "NONE_FAILED", ["FAILED"]
    )
    assert run_if_met("ALL_FAILED", ["FAILED", "UPSTREAM_FAILED"]) and run_if_met("NONE_FAILED", ["SUCCESS"])


def test_a_run_beyond_max_concurrent_runs_is_skipped(server) -> None:
    _, client = server
    job = client.jobs.create(name="single", tasks=[task("s", "sleep")], max_concurrent_runs=1)
    first = client.jobs.run_now(job.job_id).run_id
    second = finished(client, client.jobs.run_now(job.job_id).run_id)
    assert second.state.life_cycle_state == jobs.RunLifeCycleState.SKIPPED
    assert second.state.result_state == jobs.RunResultState.MAXIMUM_CONCURRENT_RUNS_REACHED
    assert second.status.termination_details.code == jobs.TerminationCodeCode.MAX_CONCURRENT_RUNS_EXCEEDED
    assert "limit of 1 maximum concurrent runs" in second.state.state_message
    client.jobs.cancel_run(first)
    cancelled = finished(client, first)
    assert cancelled.state.result_state == jobs.RunResultState.CANCELED
    assert cancelled.status.termination_details.code == jobs.TerminationCodeCode.USER_CANCELED


def test_stopping_the_workspace_stops_its_runs(tmp_path: Path, server) -> None:
    srv, client = server
    run_id = client.jobs.submit(
        run_name="long",
        tasks=[
            jobs.SubmitTask(task_key="s", notebook_task=jobs.NotebookTask(notebook_path="/Shared/x/sleep"))
        ],
    ).run_id
    deadline = time.monotonic() + 20
    while (
        ci := client.jobs.get_run(run_id).tasks[0].cluster_instance
    ) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ci is not None
    pgid = int(ci.spark_context_id)
    srv.shutdown()
    with pytest.raises(ProcessLookupError):
        os.killpg(pgid, 0)
    run = srv.store.get_run(run_id)
    assert run["state"]["result_state"] == "CANCELED" and "stopped" in run["state"]["state_message"]


def test_a_killed_workspace_stops_its_orphaned_runs_at_the_next_start(tmp_path: Path) -> None:
    import dataclasses
    import signal
    import subprocess

    from local_stack import components
    from local_stack.config import StackConfig
    from local_stack.processes import wait_for
    from tests.support.net import free_port

    script = tmp_path / "runner.py"
    script.write_text(RUNNER)
    config = dataclasses.replace(StackConfig(), state_dir=tmp_path / "state", databricks_port=free_port())
    component = components.databricks(config)
    argv = [*component.argv, "--runner", f"{sys.executable} {script}"]

    def start() -> subprocess.Popen[bytes]:
        process = subprocess.Popen(argv, env=component.env, cwd=component.cwd, stderr=subprocess.DEVNULL)
        assert wait_for(component.check, 30)
        return process

    first = start()
    client = WorkspaceClient(
        host=config.databricks_url, token=config.databricks_token_file.read_text().strip()
    )
    client.workspace.mkdirs("/Shared/x")
    client.workspace.upload("/Shared/x/sleep.py", b"# Databricks notebook source\n", format=ImportFormat.AUTO)
    run_id = client.jobs.submit(
        run_name="orphan",
        tasks=[
            jobs.SubmitTask(task_key="s", notebook_task=jobs.NotebookTask(notebook_path="/Shared/x/sleep"))
        ],
    ).run_id
    assert wait_for(lambda: client.jobs.get_run(run_id).tasks[0].cluster_instance is not None, 20)
    pgid = int(client.jobs.get_run(run_id).tasks[0].cluster_instance.spark_context_id)
    first.send_signal(signal.SIGKILL)
    first.wait()
    os.killpg(pgid, 0)  # the run's process outlived its workspace
    second = start()
    try:
        run = client.jobs.get_run(run_id)
        assert run.state.life_cycle_state == jobs.RunLifeCycleState.INTERNAL_ERROR
        assert "restarted while this run was active" in run.state.state_message
        assert wait_for(lambda: not _alive(pgid), 5)
    finally:
        second.terminate()
        second.wait(timeout=30)


def _alive(pgid: int) -> bool:
    """True while a live (not zombie) process of the group exists."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry.name}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[2] == str(pgid) and fields[0] != "Z":
            return True
    return False
