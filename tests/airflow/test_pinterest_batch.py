"""The daily DAG (airflow/dags/pinterest_batch.py): integrity, settings from Variables, and its tasks run
against the fake Databricks server (endpoints, payloads, success, failure, timeouts, result checks)."""

from __future__ import annotations

import importlib.util
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from airflow.exceptions import AirflowException
from airflow.providers.databricks.operators.databricks import (
    DatabricksRunNowOperator,
    DatabricksSubmitRunOperator,
)
from tenacity import stop_after_attempt, wait_fixed

from databricks_deploy import defaults
from databricks_deploy.job_spec import JobSpec, job_settings
from emulation.names import PipelineNames

DAG_FILE = Path(__file__).resolve().parents[2] / "airflow" / "dags" / "pinterest_batch.py"
RESULT_NAMES = (
    "popular_category_by_country",
    "popular_category_by_year",
    "top_user_by_country",
    "top_country_by_followers",
    "popular_category_by_age_group",
    "median_followers_by_age_group",
    "users_joined_by_year",
    "median_followers_by_join_year",
    "median_followers_by_join_year_and_age_group",
)


def nine_results(count: int = 5, **overrides: int) -> str:
    """A batch notebook exit value: every result with `count` rows, except the overrides."""
    return json.dumps({name: overrides.get(name, count) for name in RESULT_NAMES})


class RecordingTI:
    """The slice of a task instance the Databricks operators use: XCom push (and pull for the check)."""

    def __init__(self, pulls: dict[str, Any] | None = None) -> None:
        self.pushed: dict[str, Any] = {}
        self.pulls = pulls or {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value

    def xcom_pull(self, task_ids: str, key: str) -> Any:
        return self.pulls.get(key)


def add_job(fake, name: str = "demo-pinterest-batch") -> int:
    fake.jobs[77] = {"settings": {"name": name, "tasks": [{"task_key": "batch"}]}, "created_time": 1}
    return 77


def dag_module():
    """The DAG file imported as a module (its helper functions), with the current Variables."""
    spec = importlib.util.spec_from_file_location("pinterest_batch_under_test", DAG_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- integrity ------------------------------------------------------------------------------------------
def test_dag_folder_loads_without_import_errors(load_dagbag):
    bag = load_dagbag()
    assert bag.import_errors == {}
    assert bag.dag_ids == ["demo_dag"]


def test_schedule_catchup_owner_retries_tags_and_doc(load_dag):
    dag = load_dag()
    assert dag.schedule == "@daily"
    assert dag.timetable.summary == "0 0 * * *"
    assert dag.catchup is False
    assert dag.start_date == datetime(2025, 1, 1, tzinfo=dag.start_date.tzinfo)
    assert dag.max_active_runs == 1
    assert set(dag.tags) == {"pinterest", "databricks", "batch"}
    assert dag.doc_md and "pinterest_trigger_mode" in dag.doc_md
    assert dag.default_args["owner"] == "data-engineering"
    for task in dag.tasks:
        assert task.owner == "data-engineering"
        assert task.retries == 2
        assert task.retry_delay == timedelta(minutes=5)
        assert task.retry_exponential_backoff
        assert task.execution_timeout is not None


def test_task_graph_run_now_then_check(load_dag):
    dag = load_dag()
    assert sorted(dag.task_ids) == ["check_results", "run_batch_notebook"]
    trigger = dag.get_task("run_batch_notebook")
    assert isinstance(trigger, DatabricksRunNowOperator)
    assert trigger.downstream_task_ids == {"check_results"}
    assert dag.get_task("check_results").upstream_task_ids == {"run_batch_notebook"}
    assert trigger.json == {"job_name": "demo-pinterest-batch"}
    assert trigger.databricks_conn_id == "databricks_default"
    # the Airflow task outlives the Databricks run timeout, so Databricks ends a stuck run first
    assert trigger.execution_timeout > timedelta(seconds=7200)


def test_check_task_can_be_switched_off(load_dag):
    dag = load_dag(pinterest_check_results="false")
    assert dag.task_ids == ["run_batch_notebook"]


def test_dag_id_job_name_and_connection_follow_the_variables(load_dag):
    dag = load_dag(pinterest_user_id="alice", pinterest_databricks_conn_id="dbx_prod")
    assert dag.dag_id == "alice_dag"
    trigger = dag.get_task("run_batch_notebook")
    assert trigger.json == {"job_name": "alice-pinterest-batch"}
    assert trigger.databricks_conn_id == "dbx_prod"


def test_submit_mode_runs_the_notebook_with_its_widgets(load_dag):
    dag = load_dag(pinterest_trigger_mode="submit", pinterest_user_id="bob")
    trigger = dag.get_task("run_batch_notebook")
    assert isinstance(trigger, DatabricksSubmitRunOperator)
    (task,) = trigger.json["tasks"]
    assert task["notebook_task"] == {
        "notebook_path": "/Shared/pinterest-pipeline/batch",
        "source": "WORKSPACE",
        "base_parameters": {"user_id": "bob", "lake_access": "direct", "bucket": "user-bob-bucket"},
    }
    assert task["new_cluster"]["spark_version"] and "existing_cluster_id" not in task
    assert trigger.json["timeout_seconds"] == 7200


def test_submit_mode_on_an_existing_cluster(load_dag):
    dag = load_dag(pinterest_trigger_mode="submit", pinterest_existing_cluster_id="0101-abc")
    (task,) = dag.get_task("run_batch_notebook").json["tasks"]
    assert task["existing_cluster_id"] == "0101-abc"
    assert "new_cluster" not in task


def test_an_unknown_trigger_mode_is_an_import_error_that_names_the_variable(load_dagbag):
    bag = load_dagbag(pinterest_trigger_mode="later")
    assert bag.dags == {}
    (message,) = bag.import_errors.values()
    assert "pinterest_trigger_mode" in message and "'later'" in message


def test_defaults_agree_with_databricks_deploy(monkeypatch):
    """The DAG repeats the deploy defaults (MWAA only gets airflow/dags/): both must name the same things."""
    module = dag_module()
    assert module.DEFAULT_FOLDER == defaults.DEFAULT_FOLDER
    assert module.DEFAULT_LAKE_ACCESS == defaults.DEFAULT_LAKE_ACCESS
    assert module.DEFAULT_SPARK_VERSION == defaults.DEFAULT_SPARK_VERSION
    assert module.DEFAULT_NODE_TYPE == defaults.DEFAULT_NODE_TYPE
    monkeypatch.setenv("AIRFLOW_VAR_PINTEREST_USER_ID", "carol")
    module = dag_module()
    spec = JobSpec(
        user_id="carol",
        bucket=PipelineNames("carol").bucket,
        notebook_path=defaults.notebook_path(defaults.DEFAULT_FOLDER),
    )
    deployed = job_settings(spec)
    assert module.dag.get_task("run_batch_notebook").json == {"job_name": deployed["name"]}
    submitted = module.notebook_task()
    assert submitted["notebook_task"] == deployed["tasks"][0]["notebook_task"]
    assert submitted["new_cluster"] == deployed["tasks"][0]["new_cluster"]
    assert submitted["timeout_seconds"] == deployed["timeout_seconds"]


# --- the trigger task against the fake Databricks -------------------------------------------------------
def test_run_now_finds_the_job_by_name_runs_it_and_waits(load_dag, fake):
    job_id = add_job(fake)
    trigger = load_dag().get_task("run_batch_notebook")
    ti = RecordingTI()
    trigger.execute({"ti": ti})

    (listing,) = fake.calls_to("/api/2.1/jobs/list")
    assert listing.query["name"] == "demo-pinterest-batch"
    (run_now,) = fake.calls_to("/api/2.1/jobs/run-now")
    assert run_now.body == {"job_id": job_id}
    run_id = next(iter(fake.runs))
    assert ti.pushed["run_id"] == run_id
    assert ti.pushed["run_page_url"].endswith(f"/run/{run_id}")
    polls = fake.calls_to("/api/2.1/jobs/runs/get")
    assert len(polls) >= 2 and all(int(c.query["run_id"]) == run_id for c in polls)


def test_run_now_fails_clearly_when_the_job_does_not_exist(load_dag, fake):
    trigger = load_dag().get_task("run_batch_notebook")
    with pytest.raises(AirflowException, match="demo-pinterest-batch can not be found"):
        trigger.execute({"ti": RecordingTI()})
    assert fake.calls_to("/api/2.1/jobs/run-now") == []


def test_submit_posts_the_notebook_run(load_dag, fake):
    trigger = load_dag(pinterest_trigger_mode="submit", pinterest_bucket="my-lake").get_task(
        "run_batch_notebook"
    )
    trigger.execute({"ti": RecordingTI()})
    (submit,) = fake.calls_to("/api/2.1/jobs/runs/submit")
    assert submit.body["run_name"] == "demo-pinterest-batch"
    assert int(submit.body["timeout_seconds"]) == 7200  # the provider sends numbers as strings
    (task,) = submit.body["tasks"]
    assert task["notebook_task"]["notebook_path"] == "/Shared/pinterest-pipeline/batch"
    assert task["notebook_task"]["base_parameters"] == {
        "user_id": "demo",
        "lake_access": "direct",
        "bucket": "my-lake",
    }


@pytest.mark.parametrize("mode", ["run_now", "submit"])
def test_a_failed_run_fails_the_task_with_the_notebook_error(load_dag, fake, mode):
    add_job(fake)
    fake.run_behaviour = "fail"
    trigger = load_dag(pinterest_trigger_mode=mode).get_task("run_batch_notebook")
    with pytest.raises(AirflowException, match="FAILED") as raised:
        trigger.execute({"ti": RecordingTI()})
    assert "Exception: notebook failed" in str(raised.value)
    assert fake.calls_to("/api/2.1/jobs/runs/get-output")


def test_a_run_that_databricks_times_out_fails_the_task(load_dag, fake):
    add_job(fake)
    fake.run_behaviour = "timeout"
    trigger = load_dag().get_task("run_batch_notebook")
    with pytest.raises(AirflowException, match="TIMEDOUT"):
        trigger.execute({"ti": RecordingTI()})


def test_an_api_error_fails_the_task(load_dag, fake):
    add_job(fake)
    fake.fail("POST", "/api/2.1/jobs/run-now", 403, "PERMISSION_DENIED", "not allowed to run this job")
    trigger = load_dag().get_task("run_batch_notebook")
    with pytest.raises(AirflowException, match="PERMISSION_DENIED"):
        trigger.execute({"ti": RecordingTI()})
    assert len(fake.calls_to("/api/2.1/jobs/run-now")) == 1  # a 4xx is not retried


def test_a_transient_server_error_is_retried(load_dag, fake):
    add_job(fake)
    fake.fail("POST", "/api/2.1/jobs/run-now", 503, "TEMPORARILY_UNAVAILABLE", "busy", times=2)
    trigger = load_dag().get_task("run_batch_notebook")
    trigger.databricks_retry_args = {"stop": stop_after_attempt(4), "wait": wait_fixed(0.01)}
    trigger.execute({"ti": RecordingTI()})
    assert len(fake.calls_to("/api/2.1/jobs/run-now")) == 3
    (run,) = fake.runs.values()
    assert not run.cancelled


# --- the result check -----------------------------------------------------------------------------------
def run_to_the_end(fake) -> int:
    add_job(fake)
    body = fake.handle("POST", "/api/2.1/jobs/run-now", {}, {"job_id": 77})
    for _ in range(fake.polls_before_terminal + 1):
        fake.handle("GET", "/api/2.1/jobs/runs/get", {"run_id": str(body["run_id"])}, None)
    return body["run_id"]


def test_check_reads_the_nine_counts_from_the_task_run_output(fake):
    fake.notebook_result = nine_results(7, top_user_by_country=2)
    run_id = run_to_the_end(fake)
    counts = dag_module().check_run_results(run_id, "databricks_default")
    assert counts == {**dict.fromkeys(RESULT_NAMES, 7), "top_user_by_country": 2}
    (task_run,) = fake.runs[run_id].tasks
    (output_call,) = fake.calls_to("/api/2.1/jobs/runs/get-output")
    assert int(output_call.query["run_id"]) == task_run["run_id"]


def test_check_accepts_counts_nested_under_results(fake):
    fake.notebook_result = json.dumps({"results": json.loads(nine_results(1))})
    assert set(dag_module().check_run_results(run_to_the_end(fake))) == set(RESULT_NAMES)


@pytest.mark.parametrize(
    ("result", "message"),
    [
        (nine_results(3, users_joined_by_year=0), r"empty \['users_joined_by_year'\]"),
        (json.dumps({n: 1 for n in RESULT_NAMES[:-1]}), "median_followers_by_join_year_and_age_group"),
        (None, "returned no exit value"),
        ("done", "not JSON"),
        ("[1, 2]", "not a JSON object"),
    ],
)
def test_check_fails_unless_all_nine_results_are_non_empty(fake, result, message):
    fake.notebook_result = result
    with pytest.raises(AirflowException, match=message):
        dag_module().check_run_results(run_to_the_end(fake))


# --- whole DAG runs through Airflow's own task runner (dag.test) -----------------------------------------
def states(dag_run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def test_dag_run_succeeds_when_the_notebook_produces_the_nine_results(airflow_db, load_dag, fake):
    add_job(fake)
    fake.notebook_result = nine_results()
    dag_run = load_dag().test()
    assert str(dag_run.state) == "success"
    assert states(dag_run) == {"run_batch_notebook": "success", "check_results": "success"}
    assert len(fake.calls_to("/api/2.1/jobs/run-now")) == 1


def test_a_run_that_never_ends_is_cancelled_when_the_task_times_out(airflow_db, load_dag, fake):
    add_job(fake)
    fake.run_behaviour = "hang"
    dag = load_dag()
    trigger = dag.get_task("run_batch_notebook")
    trigger.execution_timeout = timedelta(seconds=2)
    for task in dag.tasks:
        task.retries = 0
    dag_run = dag.test()
    assert str(dag_run.state) == "failed"
    assert states(dag_run)["run_batch_notebook"] == "failed"
    (cancel,) = fake.calls_to("/api/2.1/jobs/runs/cancel")
    (run,) = fake.runs.values()
    assert cancel.body == {"run_id": run.run_id} and run.cancelled
