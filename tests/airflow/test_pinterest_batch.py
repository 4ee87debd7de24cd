"""The daily DAG (airflow/dags/pinterest_batch.py): integrity, no Variable read at parse time, the job name,
connection and polling interval from Variables, and its tasks against the fake Databricks server for what the
real local workspace cannot be made to do (API errors, transient 503s, a run that never ends) and for the result
check's edge cases. The DAG against the real local workspace is tests/local_stack/test_run_dag.py."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
import pytest
from airflow.exceptions import AirflowException
from airflow.providers.databricks.operators.databricks import DatabricksRunNowOperator
from tenacity import stop_after_attempt, wait_fixed

DAG_FILE = Path(__file__).resolve().parents[2] / "airflow" / "dags" / "pinterest_batch.py"
RUN_NOW, CHECK = "run_batch_job", "check_results"


def dag_module(path: Path = DAG_FILE):
    """The DAG file imported as a module (its helper functions and constants)."""
    spec = importlib.util.spec_from_file_location(f"{path.stem}_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


DAG = dag_module()
RESULT_NAMES = DAG.RESULT_NAMES  # the notebook's list (tests/databricks_deploy/test_result_names.py)


def nine_results(count: int = 5, **overrides: int) -> str:
    """A batch notebook exit value: every result with `count` rows, except the overrides."""
    return json.dumps({name: overrides.get(name, count) for name in RESULT_NAMES})


class RecordingTI:
    """The slice of a task instance the tasks use: XCom push, and pull (of what `pulls` holds, by key)."""

    def __init__(self, pulls: dict[str, Any] | None = None) -> None:
        self.pushed: dict[str, Any] = {}
        self.pulls = pulls or {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value

    def xcom_pull(self, task_ids: str, key: str) -> Any:
        return self.pulls.get(key)


class EnvironmentVariables:
    """`var.value` of a template outside a running task: the AIRFLOW_VAR_* environment (what `variables` sets)."""

    def get(self, key: str, default: Any = None) -> Any:
        return os.environ.get(f"AIRFLOW_VAR_{key.upper()}", default)


def started(trigger: Any) -> dict[str, Any]:
    """A task context for `trigger` with its templates rendered (they read the Variables)."""
    context = {"ti": RecordingTI(), "var": {"value": EnvironmentVariables()}}
    trigger.render_template_fields(context)
    return context


def add_job(fake, name: str = "demo-pinterest-batch") -> int:
    fake.jobs[77] = {"settings": {"name": name, "tasks": [{"task_key": "batch"}]}, "created_time": 1}
    return 77


# --- integrity ------------------------------------------------------------------------------------------
def test_dag_folder_loads_without_import_errors(load_dagbag):
    bag = load_dagbag()
    assert bag.import_errors == {}
    assert bag.dag_ids == ["pinterest_batch"]  # the file's name


def test_parsing_reads_no_variable(load_dagbag, variables, monkeypatch):
    """MWAA parses the file every 30 s: a Variable read there would call Secrets Manager every time."""
    from airflow.models import Variable as ModelVariable
    from airflow.sdk import Variable

    reads: list[tuple[Any, ...]] = []
    for cls in (Variable, ModelVariable):
        monkeypatch.setattr(cls, "get", classmethod(lambda cls, *args, **kw: reads.append(args)))
    variables(pinterest_job_name="x", pinterest_user_id="x", pinterest_check_results="false")
    bag = load_dagbag()
    assert bag.import_errors == {} and bag.dag_ids == ["pinterest_batch"]
    assert reads == []
    assert sorted(bag.dags["pinterest_batch"].task_ids) == [CHECK, RUN_NOW]


def test_schedule_catchup_owner_retries_tags_and_doc(load_dag):
    dag = load_dag()
    assert dag.schedule == "@daily"
    assert dag.timetable.summary == "0 0 * * *"
    assert dag.catchup is False
    assert dag.start_date == pendulum.datetime(2025, 1, 1, tz="UTC")
    assert dag.start_date.utcoffset() == timedelta(0) and dag.start_date.tzinfo.name == "UTC"
    assert dag.max_active_runs == 1
    assert set(dag.tags) == {"pinterest", "databricks", "batch"}
    assert dag.doc_md and "pinterest_job_name" in dag.doc_md
    assert dag.default_args["owner"] == "data-engineering"
    for task in dag.tasks:
        assert task.owner == "data-engineering"
        assert task.retries == 2
        assert task.retry_delay == timedelta(minutes=5)
        assert task.retry_exponential_backoff
        assert task.execution_timeout is not None


def test_saved_as_user_id_dag_py_the_dag_is_the_courses(load_dag, tmp_path):
    shutil.copy(DAG_FILE, tmp_path / "jane.doe_dag.py")
    assert load_dag(tmp_path).dag_id == "jane.doe_dag"
    module = dag_module(tmp_path / "jane.doe_dag.py")
    assert module.DEFAULT_USER_ID == "jane.doe"
    assert module.job_name() == "jane.doe-pinterest-batch"


def test_task_graph_trigger_by_name_then_check(load_dag):
    dag = load_dag()
    trigger = dag.get_task(RUN_NOW)
    assert isinstance(trigger, DatabricksRunNowOperator)
    assert dag.get_task(CHECK).upstream_task_ids == {RUN_NOW}
    # the Airflow task outlives the job's own timeout (the bundle's), so Databricks ends a stuck run first
    assert trigger.execution_timeout > timedelta(seconds=7200)
    assert set(trigger.template_fields) >= {"json", "databricks_conn_id", "polling_period_seconds"}


def test_retries_come_from_the_environment_variable_at_parse_time(load_dag, monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_PINTEREST_RETRIES", "0")
    assert {task.retries for task in load_dag().tasks} == {0}


# --- the run's settings, read from the Variables when the task runs -------------------------------------
def test_job_name_connection_and_polling_default_to_the_demo_job(load_dagbag):
    trigger = load_dagbag().dags["pinterest_batch"].get_task(RUN_NOW)
    started(trigger)
    assert trigger.json == {"job_name": "demo-pinterest-batch"}
    assert trigger.databricks_conn_id == "databricks_default"
    assert trigger.polling_period_seconds == 30


def test_job_name_connection_and_polling_follow_the_variables(load_dagbag, variables):
    variables(
        pinterest_user_id="alice", pinterest_databricks_conn_id="dbx_prod", pinterest_polling_seconds="2"
    )
    trigger = load_dagbag().dags["pinterest_batch"].get_task(RUN_NOW)
    started(trigger)
    assert trigger.json == {"job_name": "alice-pinterest-batch"}
    assert trigger.databricks_conn_id == "dbx_prod"
    assert trigger.polling_period_seconds == 2
    variables(pinterest_job_name="[dev ada] alice-pinterest-batch")
    trigger = load_dagbag().dags["pinterest_batch"].get_task(RUN_NOW)
    started(trigger)
    assert trigger.json == {"job_name": "[dev ada] alice-pinterest-batch"}


# --- the trigger task against the fake Databricks --------------------------------------------------------
def test_run_now_finds_the_job_by_name_runs_it_and_waits(load_dag, fake):
    job_id = add_job(fake)
    trigger = load_dag().get_task(RUN_NOW)
    context = started(trigger)
    trigger.execute(context)

    (listing,) = fake.calls_to("/api/2.1/jobs/list")
    assert listing.query["name"] == "demo-pinterest-batch"
    (run_now,) = fake.calls_to("/api/2.1/jobs/run-now")
    assert run_now.body == {"job_id": job_id}
    run_id = next(iter(fake.runs))
    pushed = context["ti"].pushed
    assert pushed["run_id"] == run_id
    assert pushed["run_page_url"].endswith(f"/run/{run_id}")
    polls = fake.calls_to("/api/2.1/jobs/runs/get")
    assert len(polls) >= 2 and all(int(c.query["run_id"]) == run_id for c in polls)


def test_run_now_fails_clearly_when_the_job_does_not_exist(load_dag, fake):
    trigger = load_dag().get_task(RUN_NOW)
    with pytest.raises(AirflowException, match="demo-pinterest-batch can not be found"):
        trigger.execute(started(trigger))
    assert fake.calls_to("/api/2.1/jobs/run-now") == []


def test_a_run_that_databricks_times_out_fails_the_task(load_dag, fake):
    add_job(fake)
    fake.run_behaviour = "timeout"
    trigger = load_dag().get_task(RUN_NOW)
    with pytest.raises(AirflowException, match="TIMEDOUT"):
        trigger.execute(started(trigger))


def test_an_api_error_fails_the_task(load_dag, fake):
    add_job(fake)
    fake.fail("POST", "/api/2.1/jobs/run-now", 403, "PERMISSION_DENIED", "not allowed to run this job")
    trigger = load_dag().get_task(RUN_NOW)
    with pytest.raises(AirflowException, match="PERMISSION_DENIED"):
        trigger.execute(started(trigger))
    assert len(fake.calls_to("/api/2.1/jobs/run-now")) == 1  # a 4xx is not retried


def test_a_transient_server_error_is_retried(load_dag, fake):
    add_job(fake)
    fake.fail("POST", "/api/2.1/jobs/run-now", 503, "TEMPORARILY_UNAVAILABLE", "busy", times=2)
    trigger = load_dag().get_task(RUN_NOW)
    trigger.databricks_retry_args = {"stop": stop_after_attempt(4), "wait": wait_fixed(0.01)}
    trigger.execute(started(trigger))
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
    counts = DAG.check_run_results(run_id, "databricks_default")
    assert counts == {**dict.fromkeys(RESULT_NAMES, 7), "top_user_by_country": 2}
    (task_run,) = fake.runs[run_id].tasks
    (output_call,) = fake.calls_to("/api/2.1/jobs/runs/get-output")
    assert int(output_call.query["run_id"]) == task_run["run_id"]


def test_check_accepts_counts_nested_under_results(fake):
    fake.notebook_result = json.dumps({"results": json.loads(nine_results(1))})
    assert set(DAG.check_run_results(run_to_the_end(fake))) == set(RESULT_NAMES)


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
        DAG.check_run_results(run_to_the_end(fake))


# --- whole DAG runs through Airflow's own task runner (dag.test) -----------------------------------------
def states(dag_run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def test_a_run_that_never_ends_is_cancelled_when_the_task_times_out(airflow_db, load_dag, fake):
    add_job(fake)
    fake.run_behaviour = "hang"
    dag = load_dag()
    dag.get_task(RUN_NOW).execution_timeout = timedelta(seconds=2)
    for task in dag.tasks:
        task.retries = 0
    dag_run = dag.test()
    assert str(dag_run.state) == "failed"
    assert states(dag_run)[RUN_NOW] == "failed"
    (cancel,) = fake.calls_to("/api/2.1/jobs/runs/cancel")
    (run,) = fake.runs.values()
    assert cancel.body == {"run_id": run.run_id} and run.cancelled
