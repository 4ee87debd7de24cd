"""
### Pinterest batch pipeline, daily

Runs the Databricks **batch notebook** once a day: it reads the pin, geo and user topics the S3 sink wrote
to the data lake, cleans them and writes the nine query results. Then it checks that all nine results
came out non-empty.

**Tasks**

1. `plan_run`: reads the Airflow Variables below (when the run starts: parsing this file reads none) and
   chooses how to start the notebook, by `pinterest_trigger_mode`: `run_now` (default) or `submit`; any
   other value fails this task, naming the Variable.
2. `run_batch_job` (run_now): triggers the Databricks job by name (`DatabricksRunNowOperator`; the job
   `make deploy-job` made), or `submit_batch_run` (submit): submits a one-off notebook run
   (`DatabricksSubmitRunOperator`). The other one is skipped. Waits for the run to end; a failed or
   timed-out run fails the task, and a task killed by its timeout cancels the run.
3. `check_results`: reads the notebook's exit value (`dbutils.notebook.exit`, a JSON object of result
   name to row count) from the run output and fails unless the nine results are all there and non-empty
   (skipped when `pinterest_check_results` is `false`).

**Airflow Variables** (all optional; also settable as `AIRFLOW_VAR_<NAME>` environment variables)

| Variable | default |
|---|---|
| `pinterest_user_id` | `demo`, or `<user_id>` when this file is saved as `<user_id>_dag.py` |
| `pinterest_trigger_mode` | `run_now` or `submit` |
| `pinterest_databricks_conn_id` | `databricks_default` |
| `pinterest_job_name` | `<user_id>-pinterest-batch` (run_now) |
| `pinterest_notebook_path` | `/Shared/pinterest-pipeline/batch` (submit) |
| `pinterest_bucket`, `pinterest_lake_access` | `user-<user_id>-bucket`, `direct` (submit) |
| `pinterest_existing_cluster_id` | empty: a new job cluster (submit) |
| `pinterest_spark_version`, `pinterest_node_type` | `18.0.x-scala2.13`, `m5d.large` (submit, job cluster) |
| `pinterest_instance_profile_arn` | empty: none (submit, job cluster) |
| `pinterest_check_results` | `true` |

The DAG id is the file name: `pinterest_batch`, or `<user_id>_dag` as in the course when the file is saved
under that name. See docs/airflow.md for the MWAA setup.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
from airflow.exceptions import AirflowException, AirflowSkipException
from airflow.providers.databricks.hooks.databricks import DatabricksHook
from airflow.providers.databricks.operators.databricks import (
    DatabricksRunNowOperator,
    DatabricksSubmitRunOperator,
)
from airflow.sdk import DAG, Variable, task

log = logging.getLogger(__name__)

#: The nine query results the batch notebook must produce (docs/data-contracts.md 3.7): a copy of RESULT_NAMES of
#: notebooks/pinterest_pipeline/names.py, which MWAA does not get (tests/databricks_deploy/test_result_names.py
#: ties the two).
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
TRIGGER_MODES = ("run_now", "submit")
PLAN_TASK_ID = "plan_run"
TRIGGER_TASK_IDS = {"run_now": "run_batch_job", "submit": "submit_batch_run"}
CHECK_TASK_ID = "check_results"
# Defaults shared with `databricks_deploy` (tests/airflow checks that they agree).
DEFAULT_FOLDER = "/Shared/pinterest-pipeline"
DEFAULT_LAKE_ACCESS = "direct"
DEFAULT_SPARK_VERSION = "18.0.x-scala2.13"
DEFAULT_NODE_TYPE = "m5d.large"
RUN_TIMEOUT = timedelta(hours=2)  # enforced by Databricks on the run
TASK_TIMEOUT = RUN_TIMEOUT + timedelta(minutes=30)  # enforced by Airflow; on_kill cancels the run
POLLING_SECONDS = 30  # how often the run's state is polled

#: The DAG id is the file's name: `pinterest_batch` in this repository; `<user_id>_dag` (the course's name) when the
#: file is saved as `<user_id>_dag.py`, and then that user id is the default of `pinterest_user_id` too.
DAG_ID = Path(__file__).stem
DEFAULT_USER_ID = DAG_ID.removesuffix("_dag") if DAG_ID.endswith("_dag") and DAG_ID != "_dag" else "demo"

#: The run's settings, as `plan_run` pushed them (rendered as Python objects: the DAG renders natively).
PLAN = f"ti.xcom_pull(task_ids='{PLAN_TASK_ID}', key='settings')"


def setting(key: str, default: str) -> str:
    """An Airflow Variable (or `AIRFLOW_VAR_<KEY>`), else `default`. Called only while a task runs.

    Outside a running Airflow (a test calling the function directly) only the environment is consulted.
    """
    try:
        value = Variable.get(key, default=default)
    except ImportError:  # no Airflow supervisor to ask (outside a task)
        value = os.environ.get(f"AIRFLOW_VAR_{key.upper()}", default)
    return str(value).strip() if value is not None else default


Getter = Callable[[str, str], str]


def notebook_task(user_id: str, get: Getter = setting) -> dict[str, Any]:
    """The submitted run's notebook task: the batch notebook with its widgets, on a job or existing cluster."""
    spec: dict[str, Any] = {
        "task_key": "batch",
        "notebook_task": {
            "notebook_path": get("pinterest_notebook_path", f"{DEFAULT_FOLDER}/batch"),
            "source": "WORKSPACE",
            "base_parameters": {
                "user_id": user_id,
                "lake_access": get("pinterest_lake_access", DEFAULT_LAKE_ACCESS),
                "bucket": get("pinterest_bucket", f"user-{user_id}-bucket"),
            },
        },
        "timeout_seconds": int(RUN_TIMEOUT.total_seconds()),
    }
    cluster_id = get("pinterest_existing_cluster_id", "")
    if cluster_id:
        spec["existing_cluster_id"] = cluster_id
        return spec
    cluster: dict[str, Any] = {
        "spark_version": get("pinterest_spark_version", DEFAULT_SPARK_VERSION),
        "node_type_id": get("pinterest_node_type", DEFAULT_NODE_TYPE),
        "num_workers": 1,
        "data_security_mode": "SINGLE_USER",
    }
    instance_profile = get("pinterest_instance_profile_arn", "")
    if instance_profile:
        cluster["aws_attributes"] = {"instance_profile_arn": instance_profile}
    spec["new_cluster"] = cluster
    return spec


def run_settings(get: Getter = setting) -> dict[str, Any]:
    """What this run does, from the Variables: `mode`, `conn_id`, and the job name (run_now) or the run (submit).

    Only the Variables the chosen mode needs are read.
    """
    mode = get("pinterest_trigger_mode", "run_now")
    if mode not in TRIGGER_MODES:
        raise AirflowException(
            f"Airflow Variable pinterest_trigger_mode is {mode!r}; expected one of {', '.join(TRIGGER_MODES)}"
        )
    user_id = get("pinterest_user_id", DEFAULT_USER_ID)
    settings: dict[str, Any] = {
        "mode": mode,
        "user_id": user_id,
        "conn_id": get("pinterest_databricks_conn_id", "databricks_default"),
    }
    if mode == "run_now":
        settings["job_name"] = get("pinterest_job_name", f"{user_id}-pinterest-batch")
    else:
        settings["run_name"] = f"{user_id}-pinterest-batch"
        settings["tasks"] = [notebook_task(user_id, get)]
    return settings


def parse_results(text: str | None) -> dict[str, int]:
    """Row counts of the nine results from the notebook's exit value; raises unless all are non-empty.

    The exit value is a JSON object `{"<result name>": <row count>, ...}`, possibly nested under `results`.
    """
    if not text:
        raise AirflowException(
            "the batch notebook returned no exit value; it must end with "
            'dbutils.notebook.exit(json.dumps({"<result name>": <row count>, ...}))'
        )
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AirflowException(f"the batch notebook's exit value is not JSON: {text[:200]!r}") from exc
    if isinstance(data, dict) and isinstance(data.get("results"), dict):
        data = data["results"]
    if not isinstance(data, dict):
        raise AirflowException(f"the batch notebook's exit value is not a JSON object: {text[:200]!r}")
    missing = [name for name in RESULT_NAMES if name not in data]
    empty = [name for name in RESULT_NAMES if name in data and not _positive(data[name])]
    if missing or empty:
        raise AirflowException(
            f"batch results incomplete: missing {missing or 'none'}, empty {empty or 'none'} (got {data})"
        )
    return {name: int(data[name]) for name in RESULT_NAMES}


def _positive(value: Any) -> bool:
    try:
        return int(value) > 0
    except (TypeError, ValueError):
        return False


def check_run_results(run_id: int, conn_id: str = "databricks_default") -> dict[str, int]:
    """Fetch the output of run `run_id` (of its task runs, for a multi-task run) and check the nine results."""
    hook = DatabricksHook(conn_id)
    run = hook.get_run(int(run_id))
    task_run_ids = [t["run_id"] for t in run.get("tasks", [])] or [int(run_id)]
    exit_value = None
    for task_run_id in task_run_ids:
        output = hook.get_run_output(task_run_id)
        exit_value = (output.get("notebook_output") or {}).get("result") or exit_value
    counts = parse_results(exit_value)
    log.info("all nine results non-empty: %s", counts)
    return counts


COMMON: dict[str, Any] = {
    "databricks_conn_id": "{{ " + PLAN + "['conn_id'] }}",
    "polling_period_seconds": POLLING_SECONDS,
    "databricks_retry_limit": 5,
    "databricks_retry_delay": 10,
    "execution_timeout": TASK_TIMEOUT,
}

with DAG(
    dag_id=DAG_ID,
    description="Daily Databricks batch run of the Pinterest pipeline",
    doc_md=__doc__,
    schedule="@daily",
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    render_template_as_native_obj=True,  # the submitted run's `tasks` renders as a list, not its text
    tags=["pinterest", "databricks", "batch"],
    default_args={
        "owner": "data-engineering",
        "retries": 2,
        "retry_delay": timedelta(minutes=5),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=30),
    },
) as dag:

    @task.branch(task_id=PLAN_TASK_ID, execution_timeout=timedelta(minutes=5))
    def plan_run(ti: Any = None) -> str:
        """Read the Variables, push the run's settings, and choose the task that starts the notebook."""
        settings = run_settings()
        ti.xcom_push(key="settings", value=settings)
        return TRIGGER_TASK_IDS[settings["mode"]]

    run_now = DatabricksRunNowOperator(
        task_id=TRIGGER_TASK_IDS["run_now"], json={"job_name": "{{ " + PLAN + "['job_name'] }}"}, **COMMON
    )
    submit = DatabricksSubmitRunOperator(
        task_id=TRIGGER_TASK_IDS["submit"],
        json={
            "run_name": "{{ " + PLAN + "['run_name'] }}",
            "tasks": "{{ " + PLAN + "['tasks'] }}",
            "timeout_seconds": int(RUN_TIMEOUT.total_seconds()),
        },
        **COMMON,
    )

    @task(
        task_id=CHECK_TASK_ID,
        execution_timeout=timedelta(minutes=10),
        trigger_rule="none_failed_min_one_success",  # after whichever of the two ran
    )
    def check_results(ti: Any = None) -> dict[str, int]:
        """Fail unless the run that was started produced the nine non-empty results."""
        if setting("pinterest_check_results", "true").lower() not in ("1", "true", "yes", "on"):
            raise AirflowSkipException("Airflow Variable pinterest_check_results is false")
        settings = ti.xcom_pull(task_ids=PLAN_TASK_ID, key="settings")
        trigger_task = TRIGGER_TASK_IDS[settings["mode"]]
        run_id = ti.xcom_pull(task_ids=trigger_task, key="run_id")
        if run_id is None:
            raise AirflowException(f"no run_id from {trigger_task}")
        return check_run_results(run_id, settings["conn_id"])

    plan_run() >> [run_now, submit] >> check_results()
