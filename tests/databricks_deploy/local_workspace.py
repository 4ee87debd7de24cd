"""The real local workspace server for the deploy tests, started as `make local-up` starts it (the component's
command line and environment from `local_stack.components.databricks`, its own state dir and a free port), and what
the tests read back from it through the API."""

from __future__ import annotations

import dataclasses
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from databricks.sdk import WorkspaceClient

from local_stack import components
from local_stack.config import StackConfig
from local_stack.processes import open_private_log
from tests.support.net import free_port

#: Top-level job settings the workspace fills in when a job is created without them (as Databricks does).
SERVER_DEFAULTS = frozenset(
    {
        "format",
        "email_notifications",
        "webhook_notifications",
        "notification_settings",
        "max_concurrent_runs",
        "timeout_seconds",
        "run_as",
    }
)


@dataclasses.dataclass
class LocalWorkspace:
    """The running local workspace: its URL, token and an SDK client."""

    url: str
    token: str
    client: WorkspaceClient
    state: Path

    def empty(self) -> None:
        """Delete every job and everything under /Shared, so each test starts from a fresh workspace."""
        for job in self.client.jobs.list():
            self.client.jobs.delete(job.job_id)
        for item in self.client.workspace.list("/Shared"):
            self.client.workspace.delete(item.path, recursive=True)

    def settings(self, job_id: int) -> dict[str, Any]:
        """The job's settings as `jobs/get` answers them (the raw API, not the SDK's model)."""
        job = self.client.api_client.do("GET", "/api/2.2/jobs/get", query={"job_id": job_id})
        return dict(job["settings"])  # type: ignore[index]

    def settings_as_sent(self, job_id: int, sent: dict[str, Any]) -> dict[str, Any]:
        """The job's stored settings without the top-level defaults the workspace added to `sent`."""
        stored = self.settings(job_id)
        return {k: v for k, v in stored.items() if k in sent or k not in SERVER_DEFAULTS}

    def jobs(self) -> dict[str, int]:
        """Every job of the workspace: {name: job_id}."""
        return {j.settings.name: j.job_id for j in self.client.jobs.list() if j.settings and j.job_id}


@contextmanager
def running_workspace(state: Path) -> Iterator[LocalWorkspace]:
    """The workspace server on a free loopback port with its state under `state`, stopped on exit."""
    config = dataclasses.replace(StackConfig.from_env(), state_dir=state, databricks_port=free_port())
    component = components.databricks(config)
    log = state / "databricks.log"
    fd = open_private_log(log)
    process = subprocess.Popen(component.argv, env=component.env, cwd=component.cwd, stdout=fd, stderr=fd)
    try:
        deadline = time.monotonic() + 30
        while not component.check():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the local workspace did not start: {log.read_text()[-2000:]}")
            time.sleep(0.05)
        token = config.databricks_token_file.read_text().strip()
        client = WorkspaceClient(host=config.databricks_url, token=token, auth_type="pat")
        yield LocalWorkspace(config.databricks_url, token, client, state)
    finally:
        process.terminate()
        process.wait(timeout=30)
