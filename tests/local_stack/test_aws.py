"""`local_stack/aws.py`: the one LocalStack client factory (through `localstack-client`), its endpoint, region and
bounded calls; and the rule that LocalStack clients are built nowhere else."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config

from databricks_local.lake import aws_client
from local_stack import aws
from local_stack.aws import is_local_endpoint, localstack_client

REPO = Path(__file__).resolve().parents[2]


def test_a_client_goes_to_the_endpoint_asked_for_with_bounded_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AWS_ENDPOINT_URL", "http://127.0.0.1:9"
    )  # the session would prefer this: the factory wins
    client = localstack_client("kinesis", endpoint_url="http://127.0.0.1:14599", region="eu-west-1")
    assert client.meta.endpoint_url == "http://127.0.0.1:14599"
    assert client.meta.region_name == "eu-west-1"
    config = client.meta.config
    assert (config.connect_timeout, config.read_timeout) == (aws.CONNECT_TIMEOUT, aws.READ_TIMEOUT)
    assert config.retries["mode"] == "standard"
    assert client._request_signer._credentials.access_key == "test"  # LocalStack's test credentials


def test_the_default_endpoint_is_the_configured_stacks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("PIPELINE_LOCALSTACK_PORT", "14598")
    assert localstack_client("s3").meta.endpoint_url == "http://127.0.0.1:14598"


def test_the_factory_builds_through_localstack_client(monkeypatch: pytest.MonkeyPatch) -> None:
    import localstack_client.session as ls_session

    made: list[dict[str, Any]] = []
    original = ls_session.Session.__init__

    def spy(self: Any, **kwargs: Any) -> None:
        made.append(kwargs)
        original(self, **kwargs)

    monkeypatch.setattr(ls_session.Session, "__init__", spy)
    localstack_client("sts", endpoint_url="http://127.0.0.1:14597")
    assert made and made[0]["localstack_host"] == "127.0.0.1:14597"


def test_a_callers_config_is_merged_over_the_defaults() -> None:
    client = localstack_client(
        "s3",
        endpoint_url="http://127.0.0.1:1",
        config=Config(s3={"addressing_style": "path"}, read_timeout=3),
    )
    assert client.meta.config.s3 == {"addressing_style": "path"}
    assert (client.meta.config.read_timeout, client.meta.config.connect_timeout) == (3, aws.CONNECT_TIMEOUT)


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("http://127.0.0.1:4566", True),
        ("http://localhost:4566", True),
        ("http://localstack:4566", True),
        ("http://[::1]:4566", True),
        ("https://kinesis.us-east-1.amazonaws.com", False),
        (None, False),
    ],
)
def test_is_local_endpoint(url: str | None, local: bool) -> None:
    assert is_local_endpoint(url) is local


def test_lake_clients_keep_real_aws_for_a_non_local_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEEXAMPLE00")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-a-real-secret")
    client = aws_client("kinesis", endpoint_url="https://kinesis.eu-west-1.amazonaws.com", region="eu-west-1")
    assert client.meta.endpoint_url == "https://kinesis.eu-west-1.amazonaws.com"
    assert client._request_signer._credentials.access_key == "AKIAEXAMPLEEXAMPLE00"
    local = aws_client("kinesis", endpoint_url="http://127.0.0.1:14596")
    assert local.meta.endpoint_url == "http://127.0.0.1:14596"
    assert local.meta.config.connect_timeout == aws.CONNECT_TIMEOUT


def test_no_localstack_client_is_built_outside_the_factory() -> None:
    """`boto3.client(` appears only in the factory's module and in the two real-AWS branches (lake, S3 sink)."""
    allowed = {"local_stack/aws.py", "databricks_local/lake.py", "local_stack/s3_sink.py"}
    found = []
    for folder in ("local_stack", "databricks_local", "emulation", "benchmarks", "tests"):
        for path in (REPO / folder).rglob("*.py"):
            relative = path.relative_to(REPO).as_posix()
            if relative in allowed or relative == "tests/local_stack/test_aws.py":
                continue
            if re.search(r"boto3\.(client|session\.Session|resource)\(", path.read_text()):
                found.append(relative)
    assert found == []


@pytest.mark.integration
def test_a_factory_client_talks_to_the_stacks_localstack(stack: Any) -> None:
    kinesis = localstack_client("kinesis", endpoint_url=stack.localstack_url)
    names = kinesis.list_streams()["StreamNames"]
    assert set(stack.outputs["stream_names"].values()) <= set(names)
