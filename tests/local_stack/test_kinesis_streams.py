"""`local_stack/kinesis_streams.py` on the real local stack: streams that hold records come back empty and configured
as before (mode, shards, retention, KMS, shard-level metrics, tags); empty streams are left alone; Terraform sees
no new change on the streams it made."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from local_stack import terraform_env
from local_stack.aws import localstack_client
from local_stack.kinesis_streams import StreamSpec, describe, empty_streams, holds_records

pytestmark = pytest.mark.integration

TAGS = {"Project": "pinterest-data-pipeline", "Dataset": "pin"}


@pytest.fixture
def kinesis(stack: Any) -> Any:
    return localstack_client("kinesis", endpoint_url=stack.localstack_url, region=stack.outputs["region"])


def _wait(kinesis: Any, name: str) -> None:
    kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.5, "MaxAttempts": 60})


@pytest.fixture
def configured(kinesis: Any) -> Iterator[str]:
    """A 2-shard stream configured the way Terraform configures the pipeline's: 48 h retention, KMS, metrics, tags."""
    name = f"reset-{uuid.uuid4().hex[:8]}"
    kinesis.create_stream(StreamName=name, ShardCount=2, StreamModeDetails={"StreamMode": "PROVISIONED"})
    _wait(kinesis, name)
    kinesis.add_tags_to_stream(StreamName=name, Tags=TAGS)
    kinesis.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=48)
    _wait(kinesis, name)
    kinesis.start_stream_encryption(StreamName=name, EncryptionType="KMS", KeyId="alias/aws/kinesis")
    _wait(kinesis, name)
    kinesis.enable_enhanced_monitoring(
        StreamName=name, ShardLevelMetrics=["IncomingBytes", "OutgoingRecords"]
    )
    yield name
    kinesis.delete_stream(StreamName=name, EnforceConsumerDeletion=True)


@pytest.fixture
def plain(kinesis: Any) -> Iterator[str]:
    name = f"reset-{uuid.uuid4().hex[:8]}"
    kinesis.create_stream(StreamName=name, ShardCount=1)
    _wait(kinesis, name)
    yield name
    kinesis.delete_stream(StreamName=name, EnforceConsumerDeletion=True)


def _read(kinesis: Any, name: str) -> list[bytes]:
    data = []
    for shard in kinesis.list_shards(StreamName=name)["Shards"]:
        iterator = kinesis.get_shard_iterator(
            StreamName=name, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        data += [r["Data"] for r in kinesis.get_records(ShardIterator=iterator, Limit=1000)["Records"]]
    return data


def test_a_filled_stream_comes_back_empty_and_configured_as_before(
    kinesis: Any, configured: str, plain: str
) -> None:
    kinesis.put_records(
        StreamName=configured,
        Records=[{"Data": f"old-{i}".encode(), "PartitionKey": str(i)} for i in range(20)],
    )
    before = describe(kinesis, configured)
    assert before == StreamSpec(
        name=configured,
        mode="PROVISIONED",
        shards=2,
        retention_hours=48,
        encryption="KMS",
        key_id="alias/aws/kinesis",
        shard_level_metrics=("IncomingBytes", "OutgoingRecords"),
        tags=TAGS,
    )
    plain_created = kinesis.describe_stream_summary(StreamName=plain)["StreamDescriptionSummary"][
        "StreamCreationTimestamp"
    ]
    assert holds_records(kinesis, configured) and not holds_records(kinesis, plain)

    assert empty_streams(kinesis, [configured, plain]) == [configured]

    assert describe(kinesis, configured) == before
    assert not holds_records(kinesis, configured) and _read(kinesis, configured) == []
    # the empty stream was left alone (not recreated)
    assert (
        kinesis.describe_stream_summary(StreamName=plain)["StreamDescriptionSummary"][
            "StreamCreationTimestamp"
        ]
        == plain_created
    )
    # and the recreated stream takes records again
    kinesis.put_record(StreamName=configured, Data=b"new", PartitionKey="k")
    assert _read(kinesis, configured) == [b"new"]
    assert empty_streams(kinesis, [configured, plain]) == [configured]


def test_terraform_sees_no_new_change_on_the_streams_it_made(
    stack_handle: tuple[Any, Any], stack: Any, kinesis: Any
) -> None:
    config = stack_handle[0].config
    streams = list(stack.outputs["stream_names"].values())
    before = terraform_env.plan(config)
    specs = {name: describe(kinesis, name) for name in streams}
    kinesis.put_record(StreamName=streams[0], Data=b"{}", PartitionKey="reset-test")

    assert streams[0] in empty_streams(kinesis, streams)

    assert {name: describe(kinesis, name) for name in streams} == specs
    assert terraform_env.plan(config) == before
