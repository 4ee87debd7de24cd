"""Default names and settings shared by the deploy CLI and the Airflow DAG (stdlib only, so both venvs can import it).

The DAG cannot import this on MWAA (only `airflow/dags/` is uploaded), so it repeats the defaults it needs and a
test in `tests/airflow` checks that both agree.
"""

from __future__ import annotations

import os

from notebooks.pinterest_pipeline.names import INITIAL_POSITIONS as INITIAL_POSITIONS
from notebooks.pinterest_pipeline.names import KINESIS_AUTH_MODES as KINESIS_AUTH_MODES
from notebooks.pinterest_pipeline.names import TRIGGERS

#: Workspace folder the notebooks are imported into.
DEFAULT_FOLDER = "/Shared/pinterest-pipeline"
#: Workspace names (paths relative to the folder, no extension) of the batch and the stream notebooks.
BATCH_NOTEBOOK = "batch"
STREAM_NOTEBOOK = "stream"
#: Lake access mode passed to the batch notebook's `lake_access` widget (`direct` s3:// or `mount`).
DEFAULT_LAKE_ACCESS = "direct"
#: Databricks Runtime 18 LTS (Apache Spark 4.1, Scala 2.13): the newest LTS runtime; local pyspark is 4.1.x.
DEFAULT_SPARK_VERSION = "18.0.x-scala2.13"
#: A small general-purpose AWS node and one worker: enough for the course's data (1M events is 750 MB of JSON).
DEFAULT_NODE_TYPE = "m5d.large"
DEFAULT_NUM_WORKERS = 1

#: The stream notebook's widgets and their defaults (notebooks/stream.py; docs/databricks.md).
DEFAULT_REGION = "us-east-1"
#: The widgets' choices are the notebooks' own (notebooks/pinterest_pipeline/names.py, stdlib only).
STREAM_TRIGGERS = TRIGGERS
DEFAULT_STREAM_INTERVAL = "10 seconds"
DEFAULT_SECRET_SCOPE = "aws"
#: When the scheduled stream job runs (Quartz cron, UTC): at the start of every hour. Each run drains what arrived
#: since the last one (trigger `availableNow`) and ends.
DEFAULT_STREAM_SCHEDULE = "0 0 * * * ?"


def default_user_id() -> str:
    """`USER_ID` from the environment (the Makefile exports it from `.env`), else `demo`."""
    return os.environ.get("USER_ID") or "demo"


def job_name(user_id: str, kind: str = "batch") -> str:
    """Name of the Databricks job of `kind` (`batch`: what Airflow triggers by name, or `stream`) for `user_id`."""
    return f"{user_id}-pinterest-{kind}"


def notebook_path(folder: str, name: str = BATCH_NOTEBOOK) -> str:
    """Workspace path of notebook `name` inside `folder`."""
    return f"{folder.rstrip('/')}/{name}"
