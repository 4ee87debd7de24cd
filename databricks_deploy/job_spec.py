"""The batch job's definition as the Jobs API takes it (stdlib only: the Airflow tests import it too).

One notebook task with the base parameters the batch notebook's widgets read (`user_id`, `lake_access`,
`bucket`), on a new job cluster or on an existing cluster.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from databricks_deploy import defaults

TASK_KEY = "batch"


@dataclass(frozen=True)
class JobSpec:
    """Everything the job definition depends on."""

    user_id: str
    bucket: str
    notebook_path: str
    lake_access: str = defaults.DEFAULT_LAKE_ACCESS
    name: str = ""
    existing_cluster_id: str | None = None
    spark_version: str = defaults.DEFAULT_SPARK_VERSION
    node_type_id: str = defaults.DEFAULT_NODE_TYPE
    num_workers: int = defaults.DEFAULT_NUM_WORKERS
    instance_profile_arn: str | None = None
    timeout_seconds: int = 7200
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def job_name(self) -> str:
        return self.name or defaults.job_name(self.user_id)


def job_settings(spec: JobSpec) -> dict[str, Any]:
    """The job's settings as the Jobs API takes them (`jobs/create` body, `jobs/reset` `new_settings`)."""
    task: dict[str, Any] = {
        "task_key": TASK_KEY,
        "description": "Clean the lake's pin, geo and user data and write the nine query results.",
        "notebook_task": {
            "notebook_path": spec.notebook_path,
            "source": "WORKSPACE",
            "base_parameters": {
                "user_id": spec.user_id,
                "lake_access": spec.lake_access,
                "bucket": spec.bucket,
            },
        },
        "timeout_seconds": spec.timeout_seconds,
    }
    if spec.existing_cluster_id:
        task["existing_cluster_id"] = spec.existing_cluster_id
    else:
        cluster: dict[str, Any] = {
            "spark_version": spec.spark_version,
            "node_type_id": spec.node_type_id,
            "num_workers": spec.num_workers,
            "data_security_mode": "SINGLE_USER",
        }
        if spec.instance_profile_arn:
            cluster["aws_attributes"] = {"instance_profile_arn": spec.instance_profile_arn}
        task["new_cluster"] = cluster
    return {
        "name": spec.job_name,
        "tasks": [task],
        "max_concurrent_runs": 1,
        "timeout_seconds": spec.timeout_seconds,
        "tags": {"project": "pinterest-data-pipeline", "user_id": spec.user_id, **spec.tags},
    }
