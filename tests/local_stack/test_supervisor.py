"""The supervisor: clear errors, status table, CLI; against the real stack, idempotent `up` and restarts."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from local_stack import config as cfg
from local_stack.config import StackConfig
from local_stack.processes import StackError
from local_stack.supervisor import Stack, StackInfo, format_status
from tests.support.net import free_port

REPO = Path(__file__).resolve().parents[2]


def isolated_config(tmp_path: Path) -> StackConfig:
    """A stack config on free ports and a private state dir, with stand-in LocalStack prerequisites."""
    venv = tmp_path / "ls-venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(sys.executable)
    fs = tmp_path / "ls-fs"
    (fs / "var/lib/localstack/lib/kinesis-local" / cfg.KINESIS_LOCAL_VERSION / "node_modules").mkdir(
        parents=True
    )
    return StackConfig(
        state_dir=tmp_path / "state",
        user_id="unit",
        localstack_port=free_port(),
        tansu_port=free_port(),
        rest_proxy_port=free_port(),
        databricks_port=free_port(),
        localstack_venv=venv,
        localstack_fs=fs,
    )


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "local_stack", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        timeout=60,
    )


def test_up_fails_clearly_when_the_localstack_port_is_taken(tmp_path: Path) -> None:
    config = isolated_config(tmp_path)
    lines: list[str] = []
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", config.localstack_port))
        sock.listen()
        with pytest.raises(StackError) as err:
            Stack(config, say=lines.append).up()
    assert str(err.value).startswith(f"localstack: port 127.0.0.1:{config.localstack_port} is already in use")
    assert not (config.run_dir / "localstack.pid").exists()  # nothing was started


def test_missing_localstack_venv_is_named(tmp_path: Path) -> None:
    config = StackConfig(state_dir=tmp_path, localstack_venv=tmp_path / "absent")
    with pytest.raises(StackError, match=r"localstack: no LocalStack venv at .*absent \(run `make setup`"):
        Stack(config, say=lambda _: None).up()


def test_status_of_a_stack_that_is_not_running(tmp_path: Path) -> None:
    stack = Stack(isolated_config(tmp_path), say=lambda _: None)
    rows = stack.status()
    assert [r["component"] for r in rows] == list(cfg.COMPONENTS)
    assert {r["health"] for r in rows} == {"down"}
    assert all(r["pid"] is None for r in rows)
    table = format_status(rows).splitlines()
    assert table[0].split() == ["component", "pid", "health", "address"]
    assert table[2].split()[:3] == ["localstack", "-", "down"]
    assert stack.down() == []


def test_cli_help_and_bad_component() -> None:
    done = run_cli("--help")
    assert done.returncode == 0
    for command in ("up", "down", "status", "restart"):
        assert command in done.stdout
    bad = run_cli("restart", "kafka")
    assert bad.returncode == 2 and "invalid choice: 'kafka'" in bad.stderr


def test_cli_status_exit_code_says_not_healthy(tmp_path: Path) -> None:
    env = {
        "PIPELINE_STATE_DIR": str(tmp_path),
        "PIPELINE_LOCALSTACK_PORT": str(free_port()),
        "PIPELINE_TANSU_PORT": str(free_port()),
        "PIPELINE_REST_PROXY_PORT": str(free_port()),
        "PIPELINE_DATABRICKS_PORT": str(free_port()),
    }
    done = run_cli("status", "--stack", "host", env=env)
    assert done.returncode == 3
    assert "tansu" in done.stdout and "down" in done.stdout


def test_docker_mode_without_docker_is_a_clear_error(tmp_path: Path) -> None:
    done = run_cli("--stack", "docker", "up", env={"PATH": str(tmp_path)})
    assert done.returncode == 1
    assert (
        "error: docker: the docker CLI is not installed; use the host-mode stack (--stack host)"
        in done.stderr
    )
    assert "Traceback" not in done.stderr


# --- against the real stack --------------------------------------------------------------------------
@pytest.mark.integration
def test_second_up_is_idempotent(stack_handle: tuple[Stack, StackInfo], dbfs_root: Path) -> None:
    handle, first = stack_handle
    pids = {name: handle.pid(name) for name in cfg.COMPONENTS}
    lines: list[str] = []
    again = Stack(handle.config, say=lines.append).up()
    assert again.started == []
    assert {name: handle.pid(name) for name in cfg.COMPONENTS} == pids
    assert all(pid is not None for pid in pids.values())
    assert again.outputs["api_id"] == first.outputs["api_id"]
    assert again.invoke_url == first.invoke_url and again.api_key == first.api_key
    for name in cfg.COMPONENTS:
        assert any(line.split()[:3] == [name, "already", "up"] for line in lines), lines
    assert any("already applied" in line for line in lines)
    # every up writes the course's credentials table and CSV into the local DBFS (databricks_local/credentials.py)
    assert any(line.split()[:1] == ["credentials"] for line in lines), lines
    assert (dbfs_root / "user/hive/warehouse/authentication_credentials/_delta_log").is_dir()
    assert (dbfs_root / "FileStore/tables/authentication_credentials.csv").is_file()


@pytest.mark.integration
def test_status_reports_every_component_healthy(stack_handle: tuple[Stack, StackInfo]) -> None:
    handle, info = stack_handle
    done = run_cli("status")
    assert done.returncode == 0, done.stdout + done.stderr
    rows = {line.split()[0]: line.split() for line in done.stdout.splitlines()[2:]}
    assert set(rows) == set(cfg.COMPONENTS)
    for name in cfg.COMPONENTS:
        assert rows[name][1] == str(handle.pid(name)) and rows[name][2] == "healthy"
    assert rows["localstack"][3] == info.localstack_url
    assert rows["tansu"][3] == info.bootstrap_servers
    assert rows["rest-proxy"][3] == info.rest_proxy_url


@pytest.mark.integration
def test_stack_info_carries_the_terraform_outputs(stack: StackInfo) -> None:
    assert stack.invoke_url and stack.invoke_url.startswith(f"{stack.localstack_url}/_aws/execute-api/")
    assert stack.api_key
    assert stack.bucket == stack.outputs["bucket_name"] == f"user-{stack.user_id}-bucket"
    assert stack.outputs["topics"] == {d: f"{stack.user_id}.{d}" for d in ("pin", "geo", "user")}


def test_unreachable_localstack_s3_is_a_clear_error(tmp_path: Path, unused_port: int) -> None:
    stack = Stack(StackConfig(state_dir=tmp_path, localstack_port=unused_port), say=lambda _: None)
    with pytest.raises(
        StackError, match=rf"localstack: S3 at http://127.0.0.1:{unused_port} does not answer"
    ):
        stack.ensure_bucket("tansu-broker")
