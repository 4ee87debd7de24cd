"""Runs of the local workspace: each executes the imported notebook in a process of its own (and a Spark JVM).

One run-now of a job (widgets from notebook_params over base parameters, a secret from the Secrets API, a workspace
file imported beside the notebook, the exit value in get-output), one failing runs/submit (its error and trace in
get-output), one cancel and one timeout (the process group, JVM included, is gone). Four runs: each starts a JVM."""

from __future__ import annotations

import datetime
import os
import shutil
import time
from pathlib import Path

import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import InvalidParameterValue
from databricks.sdk.service import jobs
from databricks.sdk.service.workspace import ImportFormat

from tests.support.requirements import requires

JAVA_MISSING = (
    None
    if shutil.which("java") or os.environ.get("JAVA_HOME")
    else "no Java runtime (java on PATH or JAVA_HOME): local Spark cannot start"
)
pytestmark = requires(JAVA_MISSING)

DIR = "/Users/runner@example.com/runs"
OK = b"""# Databricks notebook source
from helpers import shout
day = dbutils.widgets.get("day")
mode = dbutils.widgets.get("mode")
rows = spark.range(3).count()

# COMMAND ----------

dbutils.notebook.exit(f"{shout(day)} {mode} {rows} {dbutils.secrets.get('pipeline', 'token')}")
"""
HELPERS = b"def shout(text):\n    return text.upper()\n"
FAILS = b"""# Databricks notebook source
x = 1

# COMMAND ----------

raise ValueError("the lake is empty")
"""
SLEEPS = b"""# Databricks notebook source
spark.range(1).count()
import time
time.sleep(600)
"""


def group_members(pgid: int) -> list[str]:
    """Command names of the live processes of a process group."""
    names = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_text()
        except OSError:
            continue
        name, fields = stat.split("(", 1)[1].rsplit(")", 1)[0], stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            names.append(name)
    return names


def wait_for(condition, timeout: float, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    return condition()


@pytest.fixture(scope="module")
def notebooks(workspace) -> WorkspaceClient:
    w: WorkspaceClient = workspace.client
    w.workspace.mkdirs(DIR)
    for name, content in (("ok.py", OK), ("helpers.py", HELPERS), ("fails.py", FAILS), ("sleeps.py", SLEEPS)):
        w.workspace.upload(f"{DIR}/{name}", content, format=ImportFormat.AUTO)
    w.secrets.create_scope("pipeline")
    w.secrets.put_secret("pipeline", "token", string_value="s3cr3t")
    return w


def test_run_now_executes_the_imported_notebook_with_widgets_and_secrets(workspace, notebooks) -> None:
    w = notebooks
    job = w.jobs.create(
        name="nightly",
        tasks=[
            jobs.Task(
                task_key="main",
                notebook_task=jobs.NotebookTask(
                    notebook_path=f"{DIR}/ok", base_parameters={"day": "mon", "mode": "x"}
                ),
            )
        ],
    )
    started = w.jobs.run_now(job.job_id, notebook_params={"mode": "batch"})
    first = w.jobs.get_run(started.run_id)
    assert first.state.life_cycle_state in (jobs.RunLifeCycleState.PENDING, jobs.RunLifeCycleState.RUNNING)
    run = started.result(timeout=datetime.timedelta(minutes=3))
    assert run.state.life_cycle_state == jobs.RunLifeCycleState.TERMINATED
    assert run.state.result_state == jobs.RunResultState.SUCCESS, run.state.state_message
    assert run.job_id == job.job_id and run.run_page_url.startswith(workspace.url)
    (task,) = run.tasks
    assert task.task_key == "main" and task.run_id != run.run_id
    output = w.jobs.get_run_output(task.run_id)
    assert output.notebook_output.result == "MON batch 3 s3cr3t"
    assert output.error is None
    listed = list(w.jobs.list_runs(job_id=job.job_id))
    assert [r.run_id for r in listed] == [run.run_id]
    # runs/get of the task run's id answers that task run
    assert w.jobs.get_run(task.run_id).state.result_state == jobs.RunResultState.SUCCESS
    with pytest.raises(InvalidParameterValue, match="notebook_params cannot be used"):
        param_job = w.jobs.create(
            name="params",
            tasks=[jobs.Task(task_key="t", notebook_task=jobs.NotebookTask(notebook_path=f"{DIR}/ok"))],
            parameters=[jobs.JobParameterDefinition(name="day", default="tue")],
        )
        w.jobs.run_now(param_job.job_id, notebook_params={"day": "wed"})


def test_a_failing_notebook_ends_failed_with_its_error_in_get_output(notebooks) -> None:
    w = notebooks
    submitted = w.jobs.submit(
        run_name="one-off",
        tasks=[
            jobs.SubmitTask(task_key="boom", notebook_task=jobs.NotebookTask(notebook_path=f"{DIR}/fails"))
        ],
    )
    run = wait_for(lambda: (r := w.jobs.get_run(submitted.run_id)).end_time and r, 180)
    assert run.state.life_cycle_state == jobs.RunLifeCycleState.TERMINATED
    assert run.state.result_state == jobs.RunResultState.FAILED
    assert "the lake is empty" in run.state.state_message
    output = w.jobs.get_run_output(run.tasks[0].run_id)
    assert "ValueError" in output.error and "the lake is empty" in output.error
    assert "the lake is empty" in output.error_trace
    assert output.metadata.state.result_state == jobs.RunResultState.FAILED


def _running_with_jvm(w: WorkspaceClient, run_id: int) -> int:
    """The run's process group id, once its Spark JVM runs."""

    def probe() -> int | None:
        task = w.jobs.get_run(run_id).tasks[0]
        if task.state.life_cycle_state != jobs.RunLifeCycleState.RUNNING or task.cluster_instance is None:
            return None
        pgid = int(task.cluster_instance.spark_context_id)
        return pgid if "java" in group_members(pgid) else None

    pgid = wait_for(probe, 120)
    assert pgid, "the run's notebook never started its Spark JVM"
    return pgid


def test_cancel_stops_the_run_and_its_spark_jvm(notebooks) -> None:
    w = notebooks
    submitted = w.jobs.submit(
        run_name="cancel-me",
        tasks=[
            jobs.SubmitTask(task_key="sleep", notebook_task=jobs.NotebookTask(notebook_path=f"{DIR}/sleeps"))
        ],
    )
    pgid = _running_with_jvm(w, submitted.run_id)
    w.jobs.cancel_run(submitted.run_id)
    run = wait_for(lambda: (r := w.jobs.get_run(submitted.run_id)).end_time and r, 30)
    assert run.state.life_cycle_state == jobs.RunLifeCycleState.TERMINATED
    assert run.state.result_state == jobs.RunResultState.CANCELED
    assert group_members(pgid) == []  # the runner and its JVM are gone


def test_timeout_stops_the_run(notebooks) -> None:
    w = notebooks
    submitted = w.jobs.submit(
        run_name="too-slow",
        timeout_seconds=3,
        tasks=[
            jobs.SubmitTask(task_key="sleep", notebook_task=jobs.NotebookTask(notebook_path=f"{DIR}/sleeps"))
        ],
    )
    pgid = wait_for(
        lambda: (
            (t := w.jobs.get_run(submitted.run_id).tasks[0]).cluster_instance
            and int(t.cluster_instance.spark_context_id)
        ),
        30,
        0.05,
    )
    run = wait_for(lambda: (r := w.jobs.get_run(submitted.run_id)).end_time and r, 30)
    assert run.state.result_state == jobs.RunResultState.TIMEDOUT
    assert run.state.user_cancelled_or_timedout is True
    assert group_members(pgid) == []
