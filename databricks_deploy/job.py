"""Create or update (by name, idempotently) the Databricks jobs that run the batch and the stream notebooks.

Airflow triggers the batch job by name, so there must be exactly one job of each name: an existing one is reset to
the new settings, otherwise one is created.
"""

from __future__ import annotations

from databricks.sdk import WorkspaceClient
from databricks.sdk.service.jobs import JobSettings

from databricks_deploy.discovery import DeployError
from databricks_deploy.job_spec import JobSpec, StreamJobSpec, job_settings


def deploy_job(client: WorkspaceClient, spec: JobSpec | StreamJobSpec) -> tuple[int, str]:
    """Create the job, or reset the one with the same name to these settings; returns (job id, created|updated)."""
    settings = JobSettings.from_dict(job_settings(spec))
    matches = [
        j for j in client.jobs.list(name=spec.job_name) if j.settings and j.settings.name == spec.job_name
    ]
    if len(matches) > 1:
        ids = ", ".join(str(j.job_id) for j in matches)
        raise DeployError(
            f"{len(matches)} jobs are named {spec.job_name!r} (ids {ids}); delete the extra ones first"
        )
    if matches:
        job_id = int(matches[0].job_id or 0)
        client.jobs.reset(job_id, new_settings=settings)
        return job_id, "updated"
    created = client.jobs.create(**settings.as_shallow_dict())
    return int(created.job_id or 0), "created"
