"""The running local stack against issue 11's security rules: loopback listeners only, secrets in private files,
no debug logging of the API key. Each reads what the processes really do (/proc), not how they were configured."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from local_stack import config as cfg
from local_stack import terraform_env
from local_stack.aws import localstack_client
from local_stack.processes import read_cmdline
from local_stack.supervisor import Stack, StackInfo

pytestmark = pytest.mark.integration


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_every_listener_of_the_stack_and_its_children_is_on_loopback(
    stack_handle: tuple[Stack, StackInfo],
) -> None:
    handle, info = stack_handle
    # Make sure LocalStack's Kinesis engine (a node child, started on first use) runs.
    kinesis = localstack_client("kinesis", endpoint_url=info.localstack_url, region=handle.config.region)
    kinesis.list_streams()
    found = handle.listeners()
    public = [str(li) for li in found if not li.loopback]
    assert public == [], public
    ports = {li.port for li in found}
    config = handle.config
    assert {config.localstack_port, config.tansu_port, config.rest_proxy_port} <= ports
    commands = {Path((read_cmdline(li.pid) or ["?"])[0]).name for li in found}
    assert "node" in commands, f"the Kinesis engine's listeners were not found: {sorted(map(str, found))}"
    handle.check_loopback()  # what `up` runs: passes


def test_files_holding_the_api_key_are_readable_by_their_owner_only(
    stack_handle: tuple[Stack, StackInfo],
) -> None:
    handle, info = stack_handle
    config = handle.config
    assert info.api_key and info.api_key in config.outputs_file.read_text()
    assert mode(config.outputs_file) == 0o600
    assert mode(config.outputs_file.parent) == 0o700  # `.local/outputs/`: only its owner can list or enter it
    states = terraform_env.state_files(config)
    assert states and {mode(p) for p in states} == {0o600}
    assert info.api_key in states[0].read_text()
    logs = sorted(config.log_dir.glob("*.log"))
    assert {p.name for p in logs} >= {f"{name}.log" for name in cfg.COMPONENTS}
    assert {p.name: mode(p) for p in logs} == {p.name: 0o600 for p in logs}


def test_localstack_gets_no_debug_switch_and_never_logs_the_api_key(
    stack_handle: tuple[Stack, StackInfo],
) -> None:
    handle, info = stack_handle
    pid = handle.pid(cfg.LOCALSTACK)
    assert pid is not None
    environ = dict(
        item.split("=", 1) for item in Path(f"/proc/{pid}/environ").read_text().split("\0") if "=" in item
    )
    if handle.config.localstack_log is None:
        assert not {"DEBUG", "LS_LOG"} & set(environ), "LocalStack was given the caller's debug switches"
    assert environ["FILESYSTEM_ROOT"] == str(handle.config.localstack_root)
    assert str(info.api_key) not in (handle.config.log_dir / "localstack.log").read_text()
    assert os.environ.get("PIPELINE_LOCALSTACK_LOG") == handle.config.localstack_log
