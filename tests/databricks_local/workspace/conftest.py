"""Fixtures of the local workspace's tests: the real server, started as `make local-up` starts it (the component's
command line from `local_stack.components.databricks`, its own state dir and a free port), and SDK clients."""

from __future__ import annotations

import dataclasses
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from databricks.sdk import WorkspaceClient

from local_stack import components
from local_stack.config import StackConfig
from local_stack.processes import open_private_log
from tests.support.net import free_port


@dataclasses.dataclass
class Workspace:
    """A running local workspace: its URL, token, state, process and an SDK client."""

    config: StackConfig
    url: str
    token: str
    process: subprocess.Popen[bytes]
    client: WorkspaceClient
    log: Path

    def start(self) -> None:
        self.process = start_server(self.config, self.log)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def api(self, method: str, path: str, token: str | None = "<own>", **kwargs: object) -> requests.Response:
        headers = (
            {} if token is None else {"Authorization": f"Bearer {self.token if token == '<own>' else token}"}
        )
        return requests.request(method, f"{self.url}{path}", headers=headers, timeout=10, **kwargs)  # type: ignore[arg-type]


def start_server(config: StackConfig, log: Path) -> subprocess.Popen[bytes]:
    component = components.databricks(config)
    argv = [*component.argv, "--kill-grace", "3"]
    fd = open_private_log(log)
    process = subprocess.Popen(argv, env=component.env, cwd=component.cwd, stdout=fd, stderr=fd)
    deadline = time.monotonic() + 30
    while not component.check():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the workspace did not start: {log.read_text()[-2000:]}")
        time.sleep(0.05)
    return process


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    state = tmp_path_factory.mktemp("stack")
    config = dataclasses.replace(StackConfig.from_env(), state_dir=state, databricks_port=free_port())
    log = state / "databricks.log"
    process = start_server(config, log)
    token = config.databricks_token_file.read_text().strip()
    client = WorkspaceClient(host=config.databricks_url, token=token)
    ws = Workspace(config, config.databricks_url, token, process, client, log)
    try:
        yield ws
    finally:
        ws.stop()
