"""
### Pinterest batch pipeline, daily

Runs the Databricks **batch job** once a day: its notebook reads the pin, geo and user topics the S3 sink wrote
to the data lake, cleans them and writes the nine query results. Then it checks that all nine results
came out non-empty.

**Tasks**

1. `run_batch_job`: triggers the Databricks job by its name (`DatabricksRunNowOperator`) and waits for the run
   to end; a failed or timed-out run fails the task with the notebook's error, and a task killed by its timeout
   cancels the run. The job and all its settings (notebook, cluster, parameters, timeout) are the Databricks
   Asset Bundle's (`databricks.yml`), deployed by `databricks bundle deploy` or `make deploy-job`: nothing of
   them is repeated here.
2. `check_results`: reads the notebook's exit value (`dbutils.notebook.exit`, a JSON object of result
   name to row count) from the run output and fails unless the nine results are all there and non-empty
   (skipped when `pinterest_check_results` is `false`).

**Airflow Variables** (all optional; also settable as `AIRFLOW_VAR_<NAME>` environment variables; read when a
task runs, never when the file is parsed, except `pinterest_retries`)

| Variable | default |
|---|---|
| `pinterest_user_id` | `demo`, or `<user_id>` when this file is saved as `<user_id>_dag.py` |
| `pinterest_job_name` | `<user_id>-pinterest-batch` (the bundle's batch job; a `dev` target's copy is `[dev <you>] ...`) |
| `pinterest_databricks_conn_id` | `databricks_default` |
| `pinterest_polling_seconds` | `30` (the provider's default): how often the run's state is polled |
| `pinterest_check_results` | `true` |
| `pinterest_retries` | `2`; read at parse time from the environment only (`AIRFLOW_VAR_PINTEREST_RETRIES`), so parsing never asks the Variable store or a secrets backend |

The DAG id is the file name: `pinterest_batch`, or `<user_id>_dag` as in the course when the file is saved
under that name. See docs/airflow.md for the MWAA setup and `make run-dag` for a run against the local workspace.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
from airflow.exceptions import AirflowException, AirflowSkipException
from airflow.providers.databricks.hooks.databricks import DatabricksHook
from airflow.providers.databricks.operators.databricks import DatabricksRunNowOperator
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
TRIGGER_TASK_ID = "run_batch_job"
CHECK_TASK_ID = "check_results"
#: How long Airflow lets the trigger task wait: longer than any batch run (the bundle's job timeout is 2 h), so
#: Databricks ends a stuck run first; on_kill cancels the run.
TASK_TIMEOUT = timedelta(hours=2, minutes=30)
POLLING_SECONDS = 30  # the provider's (and MWAA users') default
RETRIES = int(os.environ.get("AIRFLOW_VAR_PINTEREST_RETRIES", "2"))

#: The DAG id is the file's name: `pinterest_batch` in this repository; `<user_id>_dag` (the course's name) when the
#: file is saved as `<user_id>_dag.py`, and then that user id is the default of `pinterest_user_id` too.
DAG_ID = Path(__file__).stem
DEFAULT_USER_ID = DAG_ID.removesuffix("_dag") if DAG_ID.endswith("_dag") and DAG_ID != "_dag" else "demo"

#: Rendered when the task runs (templates read Variables then, not at parse time).
USER_ID = "var.value.get('pinterest_user_id', '" + DEFAULT_USER_ID + "')"
JOB_NAME = "{{ var.value.get('pinterest_job_name', " + USER_ID + " ~ '-pinterest-batch') }}"
CONN_ID = "{{ var.value.get('pinterest_databricks_conn_id', 'databricks_default') }}"
POLLING = "{{ var.value.get('pinterest_polling_seconds', " + str(POLLING_SECONDS) + ") | float }}"


def setting(key: str, default: str) -> str:
    """An Airflow Variable (or `AIRFLOW_VAR_<KEY>`), else `default`. Called only while a task runs.

    Outside a running Airflow (a test calling the function directly) only the environment is consulted.
    """
    try:
        value = Variable.get(key, default=default)
    except ImportError:  # no Airflow supervisor to ask (outside a task)
        value = os.environ.get(f"AIRFLOW_VAR_{key.upper()}", default)
    return str(value).strip() if value is not None else default


def job_name(get: Any = setting) -> str:
    """The batch job's name: `pinterest_job_name`, else `<pinterest_user_id>-pinterest-batch`."""
    return get("pinterest_job_name", f"{get('pinterest_user_id', DEFAULT_USER_ID)}-pinterest-batch")


class RunJobByName(DatabricksRunNowOperator):
    """`DatabricksRunNowOperator` whose polling interval is a template too, so a Variable sets it per run."""

    template_fields = (*DatabricksRunNowOperator.template_fields, "polling_period_seconds")


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


with DAG(
    dag_id=DAG_ID,
    description="Daily Databricks batch run of the Pinterest pipeline",
    doc_md=__doc__,
    schedule="@daily",
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    render_template_as_native_obj=True,  # the polling interval renders as a number
    tags=["pinterest", "databricks", "batch"],
    default_args={
        "owner": "data-engineering",
        "retries": RETRIES,
        "retry_delay": timedelta(minutes=5),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=30),
    },
) as dag:
    run_batch_job = RunJobByName(
        task_id=TRIGGER_TASK_ID,
        job_name=JOB_NAME,
        databricks_conn_id=CONN_ID,
        polling_period_seconds=POLLING,  # type: ignore[arg-type]  # rendered to a number when the task runs
        databricks_retry_limit=5,
        databricks_retry_delay=10,
        execution_timeout=TASK_TIMEOUT,
    )

    @task(task_id=CHECK_TASK_ID, execution_timeout=timedelta(minutes=10))
    def check_results(ti: Any = None) -> dict[str, int]:
        """Fail unless the run that was started produced the nine non-empty results."""
        if setting("pinterest_check_results", "true").lower() not in ("1", "true", "yes", "on"):
            raise AirflowSkipException("Airflow Variable pinterest_check_results is false")
        run_id = ti.xcom_pull(task_ids=TRIGGER_TASK_ID, key="run_id")
        if run_id is None:
            raise AirflowException(f"no run_id from {TRIGGER_TASK_ID}")
        return check_run_results(run_id, setting("pinterest_databricks_conn_id", "databricks_default"))

    run_batch_job >> check_results()
