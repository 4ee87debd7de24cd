"""`make run-dag` (local_stack/run_dag.py): the real DAG under Airflow 3.0.6 against the real local workspace.

The workspace is the server `make local-up` starts (its component's command line and environment, its own state
dir and port), found through `<state dir>/outputs/local.json` as the stack writes it; its runs execute the batch
notebook through `python -m local_stack.notebook_runner run` on local Spark over a generated lake (a directory: the
batch notebook's `bucket` widget, set through the bundle variable).
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from databricks.sdk.service.workspace import ImportFormat, Language

from databricks_deploy.__main__ import main as deploy_main
from databricks_deploy.bundle import load_bundle
from databricks_deploy.job import deploy_job, find_job
from local_stack.run_dag import DAG_ID, prepare, run_dag
from tests.databricks_deploy.local_workspace import SERVER_DEFAULTS, LocalWorkspace, running_workspace
from tests.support.aborts import assert_no_abort

REPO = Path(__file__).resolve().parents[2]
NO_AIRFLOW = (
    None
    if (REPO / ".venv-airflow" / "bin" / "python").exists()
    else "no Airflow venv (.venv-airflow): make setup"
)
pytestmark = [pytest.mark.spark, pytest.mark.requires(NO_AIRFLOW)]
USER = "dagtest"
FAILING = (
    "# Databricks notebook source\nraise ValueError('the lake is on fire: no topics under s3://nowhere')\n"
)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalWorkspace]:
    """The local workspace server on a free port with its own state dir, and that dir's outputs file."""
    with running_workspace(tmp_path_factory.mktemp("state")) as workspace:
        outputs = workspace.state / "outputs" / "local.json"
        outputs.parent.mkdir(parents=True, exist_ok=True)
        outputs.write_text(
            json.dumps(
                {
                    "databricks_host": {"sensitive": False, "type": "string", "value": workspace.url},
                    "databricks_token": {"sensitive": True, "type": "string", "value": workspace.token},
                }
            )
        )
        outputs.chmod(0o600)
        yield workspace


@pytest.fixture
def on_stack(workspace: LocalWorkspace, monkeypatch: pytest.MonkeyPatch) -> LocalWorkspace:
    """The environment `make run-dag` sees: the state dir with the outputs, the user id, no Databricks config."""
    monkeypatch.setenv("PIPELINE_STATE_DIR", str(workspace.state))
    monkeypatch.setenv("USER_ID", USER)
    for key in ("DATABRICKS_HOST", "DATABRICKS_TOKEN", "DATABRICKS_CONFIG_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    return workspace


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from emulation.generator import generate_tables
    from local_stack.lake_layout import write_local_lake

    root = tmp_path_factory.mktemp("lake")
    write_local_lake(root, USER, generate_tables(rows=1500, seed=7), flush_size=500)
    return root


def test_an_empty_workspace_gets_the_bundles_notebooks_and_jobs_first(on_stack, capsys):
    assert prepare(on_stack.client) == ["import-notebooks", "deploy-job"]
    out = capsys.readouterr().out
    assert "lacks" in out and "importing the notebooks" in out and "deploying the bundle" in out
    bundle = load_bundle(target="local", variables={"user_id": USER})
    for job in bundle.jobs.values():
        job_id = find_job(on_stack.client, job.name)
        assert job_id is not None
        stored = on_stack.client.jobs.get(job_id).settings.as_dict()
        # exactly the bundle's job (paths and variables resolved), plus what Databricks fills in itself
        assert {k: stored[k] for k in job.settings} == job.settings
        assert set(stored) - set(job.settings) <= SERVER_DEFAULTS
        for path in job.notebooks:
            assert on_stack.client.workspace.get_status(path).object_type.value == "NOTEBOOK"
    assert prepare(on_stack.client) == []  # nothing lacking: nothing done


def test_the_dag_runs_the_batch_job_by_name_and_checks_the_nine_results(on_stack, lake, capsys):
    # the lake of this test is a directory: deploy the bundle with its `bucket` variable (make deploy-job ARGS=--var)
    assert deploy_main(["deploy-job", "--target", "local", "--only", "batch", "--var", f"bucket={lake}"]) == 0
    result = run_dag(retries=0)
    assert result.ok, result.summary() + "\n" + result.log.read_text()[-3000:]
    assert {t: i["state"] for t, i in result.tasks.items()} == {
        "run_batch_job": "success",
        "check_results": "success",
    }
    run = result.databricks_run
    assert run["job_name"] == f"{USER}-pinterest-batch" and run["result_state"] == "SUCCESS"
    (task,) = on_stack.client.jobs.get_run(run["run_id"]).tasks
    counts = json.loads(on_stack.client.jobs.get_run_output(task.run_id).notebook_output.result)
    assert len(counts) == 9 and all(int(v) > 0 for v in counts.values())
    summary = result.summary()
    assert "run_batch_job    success" in summary and f"DAG run {DAG_ID}: success in" in summary
    # the Airflow process and the job run's notebook runner both exited cleanly (issue 19: no abort at exit)
    assert_no_abort(result.log.read_text(), "make run-dag's Airflow process")
    run_logs = list((on_stack.state / "databricks" / "runs").rglob("output.log"))
    assert run_logs, "the job run left no runner log"
    for run_log in run_logs:
        assert_no_abort(run_log.read_text(), f"the job run's notebook runner ({run_log})")


def test_a_failing_notebook_fails_the_dag_run_at_the_trigger_task_with_its_error(on_stack):
    client = on_stack.client
    path = "/Shared/pinterest-pipeline/files/failing"
    client.workspace.import_(
        path,
        content=base64.b64encode(FAILING.encode()).decode(),
        format=ImportFormat.SOURCE,
        language=Language.PYTHON,
        overwrite=True,
    )
    settings: dict[str, Any] = {
        "name": f"{USER}-failing",
        "max_concurrent_runs": 1,
        "tasks": [{"task_key": "batch", "notebook_task": {"notebook_path": path, "source": "WORKSPACE"}}],
    }
    deploy_job(client, settings)
    result = run_dag(retries=0, variables={"pinterest_job_name": f"{USER}-failing"})
    assert result.state == "failed"
    assert {t: i["state"] for t, i in result.tasks.items()} == {
        "run_batch_job": "failed",
        "check_results": "upstream_failed",
    }
    assert result.databricks_run["result_state"] == "FAILED"
    assert "the lake is on fire" in result.databricks_run["error"]
    # the trigger task failed with the notebook's error (the provider's message carries the run's output)
    log = result.log.read_text()
    assert "failed with terminal state" in log and "the lake is on fire" in log


def test_the_cli_exits_non_zero_when_the_dag_run_fails(on_stack):
    done = subprocess.run(
        [sys.executable, "-m", "local_stack.run_dag", "--variable", f"pinterest_job_name={USER}-missing"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1
    assert "run_batch_job    failed" in done.stdout
    assert "error: the DAG run failed" in done.stderr


def test_the_dev_target_asks_the_workspace_who_you_are_for_its_prefix(on_stack, monkeypatch, capsys):
    monkeypatch.setenv("DATABRICKS_HOST", on_stack.url)
    monkeypatch.setenv("DATABRICKS_TOKEN", on_stack.token)
    assert (
        deploy_main(["deploy-job", "-t", "dev", "--var", "instance_profile_arn=arn:x", "--only", "batch"])
        == 0
    )
    me = on_stack.client.current_user.me().user_name
    short = "".join(c if c.isalnum() else "_" for c in me.split("@")[0])  # the CLI's short_name
    name = f"[dev {short}] {USER}-pinterest-batch"
    assert f"created job {name!r}" in capsys.readouterr().out
    job = on_stack.client.jobs.get(find_job(on_stack.client, name)).settings
    assert job.schedule.pause_status.value == "PAUSED" and job.tags["dev"] == short
    path = job.tasks[0].notebook_task.notebook_path
    assert path == "/Shared/.bundle/pinterest_pipeline/dev/files/notebooks/batch"
