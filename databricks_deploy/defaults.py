"""Default names shared by the deploy CLI and the Airflow DAG (stdlib only, so both venvs can import it).

The DAG cannot import this on MWAA (only `airflow/dags/` is uploaded), so it repeats these defaults and a
test in `tests/airflow` checks that both agree.
"""

from __future__ import annotations

import os

#: Workspace folder the notebooks are imported into.
DEFAULT_FOLDER = "/Shared/pinterest-pipeline"
#: Workspace name (path relative to the folder, no extension) of the batch notebook.
BATCH_NOTEBOOK = "batch"
#: Lake access mode passed to the batch notebook's `lake_access` widget (`direct` s3:// or `mount`).
DEFAULT_LAKE_ACCESS = "direct"
#: Databricks runtime and node type of the job cluster (an LTS runtime; a small general-purpose AWS node).
DEFAULT_SPARK_VERSION = "15.4.x-scala2.12"
DEFAULT_NODE_TYPE = "m5d.large"
DEFAULT_NUM_WORKERS = 1


def default_user_id() -> str:
    """`USER_ID` from the environment (the Makefile exports it from `.env`), else `demo`."""
    return os.environ.get("USER_ID") or "demo"


def job_name(user_id: str) -> str:
    """Name of the Databricks job that runs the batch notebook for `user_id` (Airflow triggers it by name)."""
    return f"{user_id}-pinterest-batch"


def notebook_path(folder: str, name: str = BATCH_NOTEBOOK) -> str:
    """Workspace path of notebook `name` inside `folder`."""
    return f"{folder.rstrip('/')}/{name}"
