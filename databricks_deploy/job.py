"""Create or update (by name, idempotently) a job of the bundle in a workspace with `databricks-sdk`.

Airflow triggers the batch job by name, so there must be exactly one job of each name: an existing one is reset to
the bundle's settings, otherwise one is created.
"""

from __future__ import annotations

from typing import Any

from databricks.sdk import WorkspaceClient
from databricks.sdk.service.jobs import JobSettings

from databricks_deploy.discovery import DeployError


def find_job(client: WorkspaceClient, name: str) -> int | None:
    """The id of the one job called `name`, None when there is none; several of that name are an error."""
    matches = [j for j in client.jobs.list(name=name) if j.settings and j.settings.name == name]
    if len(matches) > 1:
        ids = ", ".join(str(j.job_id) for j in matches)
        raise DeployError(f"{len(matches)} jobs are named {name!r} (ids {ids}); delete the extra ones first")
    return int(matches[0].job_id or 0) if matches else None


def deploy_job(client: WorkspaceClient, settings: dict[str, Any]) -> tuple[int, str]:
    """Create the job, or reset the one with the same name to `settings`; returns (job id, created|updated)."""
    job = JobSettings.from_dict(settings)
    job_id = find_job(client, str(settings["name"]))
    if job_id is not None:
        client.jobs.reset(job_id, new_settings=job)
        return job_id, "updated"
    created = client.jobs.create(**job.as_shallow_dict())
    return int(created.job_id or 0), "created"
