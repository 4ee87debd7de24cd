"""
### Pinterest batch pipeline, daily

Runs the Databricks **batch notebook** once a day: it reads the pin, geo and user topics the S3 sink wrote
to the data lake, cleans them and writes the nine query results. Then it checks that all nine results
came out non-empty.

**Tasks**

1. `run_batch_notebook`: either triggers the Databricks job by name (`DatabricksRunNowOperator`, the job
   made by `make deploy-job`) or submits a one-off notebook run (`DatabricksSubmitRunOperator`), chosen by
   the Airflow Variable `pinterest_trigger_mode` (`run_now`, the default, or `submit`). Waits for the run
   to end; a failed or timed-out run fails the task, and a task killed by its timeout cancels the run.
2. `check_results`: reads the notebook's exit value (`dbutils.notebook.exit`, a JSON object of result
   name to row count) from the run output and fails unless the nine results are all there and non-empty.

**Airflow Variables** (all optional; also settable as `AIRFLOW_VAR_<NAME>` environment variables)

| Variable | default |
|---|---|
| `pinterest_user_id` | `demo` (the DAG id is `<user_id>_dag`) |
| `pinterest_trigger_mode` | `run_now` or `submit` |
| `pinterest_databricks_conn_id` | `databricks_default` |
| `pinterest_job_name` | `<user_id>-pinterest-batch` (run_now) |
| `pinterest_notebook_path` | `/Shared/pinterest-pipeline/batch` (submit) |
| `pinterest_bucket`, `pinterest_lake_access` | `user-<user_id>-bucket`, `direct` (submit) |
| `pinterest_existing_cluster_id` | empty: a new job cluster (submit) |
| `pinterest_check_results` | `true` |
| `pinterest_polling_seconds` | `30` (how often the run's state is polled) |

See docs/airflow.md for the MWAA setup.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime, timedelta
from typing import Any

from airflow.exceptions import AirflowException
from airflow.providers.databricks.hooks.databricks import DatabricksHook
from airflow.providers.databricks.operators.databricks import (
    DatabricksRunNowOperator,
    DatabricksSubmitRunOperator,
)
from airflow.sdk import DAG, Variable, task

log = logging.getLogger(__name__)

#: The nine query results the batch notebook must produce (DESIGN 3.7).
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
TRIGGER_TASK_ID = "run_batch_notebook"
CHECK_TASK_ID = "check_results"
# Defaults shared with `databricks_deploy` (tests/airflow checks that they agree).
DEFAULT_FOLDER = "/Shared/pinterest-pipeline"
DEFAULT_LAKE_ACCESS = "direct"
DEFAULT_SPARK_VERSION = "18.0.x-scala2.13"
DEFAULT_NODE_TYPE = "m5d.large"
RUN_TIMEOUT = timedelta(hours=2)  # enforced by Databricks on the run
TASK_TIMEOUT = RUN_TIMEOUT + timedelta(minutes=30)  # enforced by Airflow; on_kill cancels the run


def setting(key: str, default: str) -> str:
    """An Airflow Variable (or `AIRFLOW_VAR_<KEY>`), else `default`.

    Outside a running Airflow (a bare DagBag in a test) only the environment is consulted.
    """
    try:
        value = Variable.get(key, default=default)
    except ImportError:  # no Airflow supervisor to ask (parsing outside the DAG processor)
        value = os.environ.get(f"AIRFLOW_VAR_{key.upper()}", default)
    return str(value).strip() if value is not None else default


USER_ID = setting("pinterest_user_id", "demo")
TRIGGER_MODE = setting("pinterest_trigger_mode", "run_now")
CONN_ID = setting("pinterest_databricks_conn_id", "databricks_default")
CHECK_RESULTS = setting("pinterest_check_results", "true").lower() in ("1", "true", "yes", "on")
if TRIGGER_MODE not in TRIGGER_MODES:
    raise ValueError(
        f"Airflow Variable pinterest_trigger_mode is {TRIGGER_MODE!r}; expected one of {', '.join(TRIGGER_MODES)}"
    )


def notebook_task() -> dict[str, Any]:
    """The submitted run's notebook task: the batch notebook with its widgets, on a job or existing cluster."""
    spec: dict[str, Any] = {
        "task_key": "batch",
        "notebook_task": {
            "notebook_path": setting("pinterest_notebook_path", f"{DEFAULT_FOLDER}/batch"),
            "source": "WORKSPACE",
            "base_parameters": {
                "user_id": USER_ID,
                "lake_access": setting("pinterest_lake_access", DEFAULT_LAKE_ACCESS),
                "bucket": setting("pinterest_bucket", f"user-{USER_ID}-bucket"),
            },
        },
        "timeout_seconds": int(RUN_TIMEOUT.total_seconds()),
    }
    cluster_id = setting("pinterest_existing_cluster_id", "")
    if cluster_id:
        spec["existing_cluster_id"] = cluster_id
    else:
        spec["new_cluster"] = {
            "spark_version": setting("pinterest_spark_version", DEFAULT_SPARK_VERSION),
            "node_type_id": setting("pinterest_node_type", DEFAULT_NODE_TYPE),
            "num_workers": 1,
            "data_security_mode": "SINGLE_USER",
        }
    return spec


def trigger_operator(mode: str) -> DatabricksRunNowOperator | DatabricksSubmitRunOperator:
    """The task that starts the batch notebook on Databricks and waits for it to end."""
    common: dict[str, Any] = {
        "task_id": TRIGGER_TASK_ID,
        "databricks_conn_id": CONN_ID,
        "polling_period_seconds": float(setting("pinterest_polling_seconds", "30")),
        "databricks_retry_limit": 5,
        "databricks_retry_delay": 10,
        "execution_timeout": TASK_TIMEOUT,
    }
    if mode == "run_now":
        return DatabricksRunNowOperator(
            job_name=setting("pinterest_job_name", f"{USER_ID}-pinterest-batch"), **common
        )
    return DatabricksSubmitRunOperator(
        run_name=f"{USER_ID}-pinterest-batch",
        tasks=[notebook_task()],
        timeout_seconds=int(RUN_TIMEOUT.total_seconds()),
        **common,
    )


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


def check_run_results(run_id: int, conn_id: str = CONN_ID) -> dict[str, int]:
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
    dag_id=setting("pinterest_dag_id", f"{USER_ID}_dag"),
    description="Daily Databricks batch run of the Pinterest pipeline",
    doc_md=__doc__,
    schedule="@daily",
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["pinterest", "databricks", "batch"],
    default_args={
        "owner": "data-engineering",
        "retries": 2,
        "retry_delay": timedelta(minutes=5),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=30),
    },
) as dag:
    trigger = trigger_operator(TRIGGER_MODE)

    if CHECK_RESULTS:

        @task(task_id=CHECK_TASK_ID, execution_timeout=timedelta(minutes=10), multiple_outputs=False)
        def check_results(ti: Any = None) -> dict[str, int]:
            """Fail unless the run that `run_batch_notebook` started produced the nine non-empty results."""
            run_id = ti.xcom_pull(task_ids=TRIGGER_TASK_ID, key="run_id")
            if run_id is None:
                raise AirflowException(f"no run_id from {TRIGGER_TASK_ID}")
            return check_run_results(run_id)

        trigger >> check_results()
