"""The batch and stream jobs' definitions as the Jobs API takes them (stdlib only: the Airflow tests import it too).

Each job has one notebook task whose base parameters are the notebook's widgets, on a new job cluster (or an
existing cluster):

* batch (`<user_id>-pinterest-batch`): `<folder>/batch` with `user_id`, `lake_access`, `bucket`; no schedule of its
  own (Airflow triggers it daily by name);
* stream (`<user_id>-pinterest-stream`): `<folder>/stream` with the stream widgets (docs/databricks.md). Scheduled
  (default): trigger `availableNow` on a Quartz schedule (hourly), so each run drains what reached Kinesis and ends.
  Continuous: trigger `processingTime` in a Databricks continuous job, which keeps one run alive and restarts it
  after a failure (with backoff; continuous jobs take no retry policy and no timeout).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from databricks_deploy import defaults

TASK_KEY = "batch"
STREAM_TASK_KEY = "stream"


@dataclass(frozen=True, kw_only=True)
class ClusterSpec:
    """Where a job's task runs: a new job cluster (the default) or an existing all-purpose cluster."""

    existing_cluster_id: str | None = None
    spark_version: str = defaults.DEFAULT_SPARK_VERSION
    node_type_id: str = defaults.DEFAULT_NODE_TYPE
    num_workers: int = defaults.DEFAULT_NUM_WORKERS
    instance_profile_arn: str | None = None

    def compute(self) -> dict[str, Any]:
        """The task's compute: `existing_cluster_id`, or a dedicated (single user) `new_cluster`.

        Dedicated access mode, because instance profiles (lake, Kinesis, checkpoints) and DBFS mounts are not
        available in standard (shared) access mode.
        """
        if self.existing_cluster_id:
            return {"existing_cluster_id": self.existing_cluster_id}
        cluster: dict[str, Any] = {
            "spark_version": self.spark_version,
            "node_type_id": self.node_type_id,
            "num_workers": self.num_workers,
            "data_security_mode": "SINGLE_USER",
        }
        if self.instance_profile_arn:
            cluster["aws_attributes"] = {"instance_profile_arn": self.instance_profile_arn}
        return {"new_cluster": cluster}


@dataclass(frozen=True, kw_only=True)
class JobSpec(ClusterSpec):
    """The batch job: everything its definition depends on."""

    user_id: str
    bucket: str
    notebook_path: str
    lake_access: str = defaults.DEFAULT_LAKE_ACCESS
    name: str = ""
    timeout_seconds: int = 7200
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def job_name(self) -> str:
        return self.name or defaults.job_name(self.user_id, "batch")


@dataclass(frozen=True, kw_only=True)
class StreamJobSpec(ClusterSpec):
    """The stream job: everything its definition depends on."""

    user_id: str
    notebook_path: str
    bucket: str = ""  # empty: the notebook's default, user-<user_id>-bucket
    region: str = defaults.DEFAULT_REGION
    continuous: bool = False
    schedule: str = defaults.DEFAULT_STREAM_SCHEDULE
    interval: str = defaults.DEFAULT_STREAM_INTERVAL
    initial_position: str = defaults.INITIAL_POSITIONS[0]
    kinesis_auth: str = defaults.KINESIS_AUTH_MODES[0]
    service_credential: str = ""
    secret_scope: str = defaults.DEFAULT_SECRET_SCOPE
    checkpoint_root: str = ""  # empty: the notebook's default, s3://<bucket>/checkpoints/stream
    name: str = ""
    timeout_seconds: int = 3600  # of a scheduled run; a continuous run has none
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        choices = {
            "initial_position": defaults.INITIAL_POSITIONS,
            "kinesis_auth": defaults.KINESIS_AUTH_MODES,
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, not {getattr(self, name)!r}")
        if self.kinesis_auth == "service_credential" and not self.service_credential:
            raise ValueError("kinesis_auth service_credential needs the name of a service credential")

    @property
    def job_name(self) -> str:
        return self.name or defaults.job_name(self.user_id, "stream")

    @property
    def trigger(self) -> str:
        """The notebook's `trigger` widget: `processingTime` in a continuous job, else `availableNow`."""
        return defaults.STREAM_TRIGGERS[1] if self.continuous else defaults.STREAM_TRIGGERS[0]

    def parameters(self) -> dict[str, str]:
        """The notebook's widgets; those that do not apply (or keep the notebook's default) are left out."""
        params = {
            "user_id": self.user_id,
            "region": self.region,
            "trigger": self.trigger,
            "initial_position": self.initial_position,
            "kinesis_auth": self.kinesis_auth,
        }
        if self.continuous:
            params["interval"] = self.interval
        if self.kinesis_auth == "service_credential":
            params["service_credential"] = self.service_credential
        if self.kinesis_auth == "secret_scope":
            params["secret_scope"] = self.secret_scope
        if self.bucket:
            params["bucket"] = self.bucket
        if self.checkpoint_root:
            params["checkpoint_root"] = self.checkpoint_root
        return params


def _tags(spec: JobSpec | StreamJobSpec, path: str) -> dict[str, str]:
    return {"project": "pinterest-data-pipeline", "user_id": spec.user_id, "path": path, **spec.tags}


def job_settings(spec: JobSpec | StreamJobSpec) -> dict[str, Any]:
    """The job's settings as the Jobs API takes them (`jobs/create` body, `jobs/reset` `new_settings`)."""
    if isinstance(spec, StreamJobSpec):
        return stream_job_settings(spec)
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
        **spec.compute(),
    }
    return {
        "name": spec.job_name,
        "tasks": [task],
        "max_concurrent_runs": 1,
        "timeout_seconds": spec.timeout_seconds,
        "tags": _tags(spec, "batch"),
    }


def stream_job_settings(spec: StreamJobSpec) -> dict[str, Any]:
    """The stream job: a scheduled `availableNow` run, or a continuous job running a `processingTime` stream."""
    task: dict[str, Any] = {
        "task_key": STREAM_TASK_KEY,
        "description": "Read the three Kinesis streams, clean the records and merge them into the Delta tables.",
        "notebook_task": {
            "notebook_path": spec.notebook_path,
            "source": "WORKSPACE",
            "base_parameters": spec.parameters(),
        },
        **spec.compute(),
    }
    settings: dict[str, Any] = {
        "name": spec.job_name,
        "tasks": [task],
        "max_concurrent_runs": 1,  # a scheduled run that finds the previous one still going is skipped
        "tags": _tags(spec, "stream"),
    }
    if spec.continuous:
        settings["continuous"] = {"pause_status": "UNPAUSED"}
    else:
        task["timeout_seconds"] = spec.timeout_seconds
        settings["timeout_seconds"] = spec.timeout_seconds
        settings["schedule"] = {
            "quartz_cron_expression": spec.schedule,
            "timezone_id": "UTC",
            "pause_status": "UNPAUSED",
        }
    return settings
