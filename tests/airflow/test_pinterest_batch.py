"""The daily DAG (airflow/dags/pinterest_batch.py): integrity, no Variable read at parse time, the run's settings
from Variables, and its tasks run against the fake Databricks server (endpoints, payloads, success, failure,
timeouts, result checks), alone and through Airflow's own task runner (`dag.test()`)."""

from __future__ import annotations

import importlib.util
import json
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
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
RUN_NOW, SUBMIT, PLAN, CHECK = "run_batch_job", "submit_batch_run", "plan_run", "check_results"


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


def started(trigger: Any) -> dict[str, Any]:
    """A task context for `trigger` after `plan_run` ran with the current Variables; its templates rendered."""
    context = {"ti": RecordingTI({"settings": DAG.run_settings()})}
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
    variables(pinterest_trigger_mode="later", pinterest_user_id="x", pinterest_check_results="false")
    bag = load_dagbag()
    assert bag.import_errors == {} and bag.dag_ids == ["pinterest_batch"]
    assert reads == []
    assert sorted(bag.dags["pinterest_batch"].task_ids) == [CHECK, PLAN, RUN_NOW, SUBMIT]


def test_schedule_catchup_owner_retries_tags_and_doc(load_dag):
    dag = load_dag()
    assert dag.schedule == "@daily"
    assert dag.timetable.summary == "0 0 * * *"
    assert dag.catchup is False
    assert dag.start_date == pendulum.datetime(2025, 1, 1, tz="UTC")
    assert dag.start_date.utcoffset() == timedelta(0) and dag.start_date.tzinfo.name == "UTC"
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


def test_task_graph_plan_then_one_trigger_then_check(load_dag):
    dag = load_dag()
    assert dag.get_task(PLAN).downstream_task_ids == {RUN_NOW, SUBMIT}
    assert isinstance(dag.get_task(RUN_NOW), DatabricksRunNowOperator)
    assert isinstance(dag.get_task(SUBMIT), DatabricksSubmitRunOperator)
    check = dag.get_task(CHECK)
    assert check.upstream_task_ids == {RUN_NOW, SUBMIT}
    assert check.trigger_rule == "none_failed_min_one_success"  # after whichever trigger ran
    for trigger in (dag.get_task(RUN_NOW), dag.get_task(SUBMIT)):
        # the Airflow task outlives the Databricks run timeout, so Databricks ends a stuck run first
        assert trigger.execution_timeout > timedelta(seconds=7200)
        assert set(trigger.template_fields) >= {"json", "databricks_conn_id"}


def test_saved_as_user_id_dag_py_the_dag_is_the_courses(load_dag, tmp_path):
    shutil.copy(DAG_FILE, tmp_path / "jane.doe_dag.py")
    assert load_dag(tmp_path).dag_id == "jane.doe_dag"
    module = dag_module(tmp_path / "jane.doe_dag.py")
    assert module.DEFAULT_USER_ID == "jane.doe"
    assert module.run_settings()["job_name"] == "jane.doe-pinterest-batch"


# --- the run's settings, read from the Variables when the run starts -------------------------------------
def test_run_settings_default_to_run_now_of_the_demo_job():
    assert DAG.run_settings() == {
        "mode": "run_now",
        "user_id": "demo",
        "conn_id": "databricks_default",
        "job_name": "demo-pinterest-batch",
    }


def test_job_name_and_connection_follow_the_variables(load_dag, variables):
    variables(pinterest_user_id="alice", pinterest_databricks_conn_id="dbx_prod")
    trigger = load_dag().get_task(RUN_NOW)
    started(trigger)
    assert trigger.json == {"job_name": "alice-pinterest-batch"}
    assert trigger.databricks_conn_id == "dbx_prod"


def test_each_mode_reads_only_the_variables_it_needs():
    read: list[str] = []

    def get(key: str, default: str) -> str:
        read.append(key)
        return default

    DAG.run_settings(get)
    assert read == [
        "pinterest_trigger_mode",
        "pinterest_user_id",
        "pinterest_databricks_conn_id",
        "pinterest_job_name",
    ]


def test_submit_mode_runs_the_notebook_with_its_widgets(load_dag, variables):
    variables(pinterest_trigger_mode="submit", pinterest_user_id="bob")
    trigger = load_dag().get_task(SUBMIT)
    started(trigger)
    (task,) = trigger.json["tasks"]  # rendered as a list (the DAG renders natively), not as its text
    assert task["notebook_task"] == {
        "notebook_path": "/Shared/pinterest-pipeline/batch",
        "source": "WORKSPACE",
        "base_parameters": {"user_id": "bob", "lake_access": "direct", "bucket": "user-bob-bucket"},
    }
    assert task["new_cluster"]["spark_version"] == "18.0.x-scala2.13"
    assert "existing_cluster_id" not in task and "aws_attributes" not in task["new_cluster"]
    assert trigger.json["run_name"] == "bob-pinterest-batch"
    assert trigger.json["timeout_seconds"] == 7200


def test_submit_mode_on_an_existing_cluster_or_with_an_instance_profile(variables):
    variables(
        pinterest_trigger_mode="submit", pinterest_instance_profile_arn="arn:aws:iam::1:instance-profile/x"
    )
    (task,) = DAG.run_settings()["tasks"]
    assert task["new_cluster"]["aws_attributes"] == {
        "instance_profile_arn": "arn:aws:iam::1:instance-profile/x"
    }
    variables(pinterest_existing_cluster_id="0101-abc")
    (task,) = DAG.run_settings()["tasks"]
    assert task["existing_cluster_id"] == "0101-abc"
    assert "new_cluster" not in task


def test_an_unknown_trigger_mode_fails_the_plan_naming_the_variable(variables):
    variables(pinterest_trigger_mode="later")
    with pytest.raises(AirflowException, match="pinterest_trigger_mode is 'later'"):
        DAG.run_settings()


def test_defaults_agree_with_databricks_deploy(variables):
    """The DAG repeats the deploy defaults (MWAA only gets airflow/dags/): both must name the same things."""
    assert DAG.DEFAULT_FOLDER == defaults.DEFAULT_FOLDER
    assert DAG.DEFAULT_LAKE_ACCESS == defaults.DEFAULT_LAKE_ACCESS
    assert DAG.DEFAULT_SPARK_VERSION == defaults.DEFAULT_SPARK_VERSION
    assert DAG.DEFAULT_NODE_TYPE == defaults.DEFAULT_NODE_TYPE
    arn = "arn:aws:iam::1:instance-profile/dbx"
    variables(pinterest_user_id="carol", pinterest_instance_profile_arn=arn)
    spec = JobSpec(
        user_id="carol",
        bucket=PipelineNames("carol").bucket,
        notebook_path=defaults.notebook_path(defaults.DEFAULT_FOLDER),
        instance_profile_arn=arn,
    )
    deployed = job_settings(spec)
    assert DAG.run_settings()["job_name"] == deployed["name"]
    submitted = DAG.notebook_task("carol")
    assert submitted["notebook_task"] == deployed["tasks"][0]["notebook_task"]
    assert submitted["new_cluster"] == deployed["tasks"][0]["new_cluster"]
    assert submitted["timeout_seconds"] == deployed["timeout_seconds"]


# --- the trigger tasks against the fake Databricks --------------------------------------------------------
def test_plan_pushes_the_settings_and_chooses_the_trigger(load_dag, variables):
    plan = load_dag().get_task(PLAN)
    ti = RecordingTI()
    assert plan.python_callable(ti=ti) == RUN_NOW
    assert ti.pushed["settings"]["job_name"] == "demo-pinterest-batch"
    variables(pinterest_trigger_mode="submit")
    assert plan.python_callable(ti=RecordingTI()) == SUBMIT


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


def test_submit_posts_the_notebook_run(load_dag, fake, variables):
    variables(pinterest_trigger_mode="submit", pinterest_bucket="my-lake")
    trigger = load_dag().get_task(SUBMIT)
    trigger.execute(started(trigger))
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


@pytest.mark.parametrize(("mode", "task_id"), [("run_now", RUN_NOW), ("submit", SUBMIT)])
def test_a_failed_run_fails_the_task_with_the_notebook_error(load_dag, fake, variables, mode, task_id):
    add_job(fake)
    fake.run_behaviour = "fail"
    variables(pinterest_trigger_mode=mode)
    trigger = load_dag().get_task(task_id)
    with pytest.raises(AirflowException, match="FAILED") as raised:
        trigger.execute(started(trigger))
    assert "Exception: notebook failed" in str(raised.value)
    assert fake.calls_to("/api/2.1/jobs/runs/get-output")


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


def test_dag_run_succeeds_when_the_notebook_produces_the_nine_results(airflow_db, load_dag, fake):
    add_job(fake)
    fake.notebook_result = nine_results()
    dag_run = load_dag().test()
    assert str(dag_run.state) == "success"
    assert states(dag_run) == {PLAN: "success", RUN_NOW: "success", SUBMIT: "skipped", CHECK: "success"}
    assert len(fake.calls_to("/api/2.1/jobs/run-now")) == 1


def test_dag_run_in_submit_mode_with_the_check_switched_off(airflow_db, load_dag, fake, variables):
    variables(pinterest_trigger_mode="submit", pinterest_check_results="false")
    dag_run = load_dag().test()
    assert str(dag_run.state) == "success"
    assert states(dag_run) == {PLAN: "success", RUN_NOW: "skipped", SUBMIT: "success", CHECK: "skipped"}
    assert len(fake.calls_to("/api/2.1/jobs/runs/submit")) == 1
    assert fake.calls_to("/api/2.1/jobs/runs/get-output") == []


def test_an_unknown_trigger_mode_fails_the_run_before_databricks_is_called(
    airflow_db, load_dag, fake, variables
):
    variables(pinterest_trigger_mode="later")
    dag = load_dag()
    for task in dag.tasks:
        task.retries = 0
    dag_run = dag.test()
    assert str(dag_run.state) == "failed"
    assert states(dag_run)[PLAN] == "failed"
    assert fake.calls == []


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
