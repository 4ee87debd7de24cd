"""The local `kinesis` streaming source against LocalStack's Kinesis: every shard, offsets, replays, errors.

The reader is driven as Spark drives it (initialOffset, read, readBetweenOffsets) without Spark, so these tests are
fast; tests/notebooks/test_stream.py runs it inside real streaming queries.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from databricks_local.kinesis_source import KinesisSourceError, KinesisStreamReader
from local_stack.aws import localstack_client

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def kinesis(stack: Any) -> Any:
    return localstack_client("kinesis", endpoint_url=stack.localstack_url)


@pytest.fixture
def stream(kinesis: Any) -> Iterator[str]:
    """A fresh stream with three shards (deleted afterwards)."""
    name = f"test-source-{uuid.uuid4().hex[:8]}"
    kinesis.create_stream(StreamName=name, ShardCount=3)
    deadline = time.monotonic() + 30
    while (
        kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamStatus"]
        != "ACTIVE"
    ):
        assert time.monotonic() < deadline, f"stream {name} did not become active"
        time.sleep(0.1)
    yield name
    kinesis.delete_stream(StreamName=name, EnforceConsumerDeletion=True)


def put(kinesis: Any, stream: str, first: int, count: int) -> None:
    records = [
        {"Data": json.dumps({"ind": i}).encode(), "PartitionKey": f"key-{i}"}
        for i in range(first, first + count)
    ]
    assert kinesis.put_records(StreamName=stream, Records=records)["FailedRecordCount"] == 0


def inds(rows: Any) -> list[int]:
    return sorted(json.loads(row[1])["ind"] for row in rows)


def reader(stack: Any, stream: str, **options: str) -> KinesisStreamReader:
    return KinesisStreamReader({"streamName": stream, "endpoint": stack.localstack_url, **options})


def test_reads_every_shard_then_only_what_is_new(stack: Any, kinesis: Any, stream: str) -> None:
    put(kinesis, stream, 0, 60)
    source = reader(stack, stream, initialPosition="trim_horizon")
    start = source.initialOffset()
    rows, end = source.read(start)
    rows = list(rows)
    assert inds(rows) == list(range(60))
    shards = {row[3] for row in rows}
    assert len(shards) == 3 and set(end["shards"]) == {
        f"{stream}|{s}" for s in shards
    }  # every shard, in the offset
    assert all(row[2] == stream and row[0].startswith("key-") for row in rows)
    assert all(row[5] is not None for row in rows)  # approximateArrivalTimestamp

    nothing, same = source.read(end)
    assert list(nothing) == [] and same == end  # caught up: the offset does not move

    put(kinesis, stream, 60, 10)
    new, later = source.read(end)
    assert inds(new) == list(range(60, 70))  # only the new records
    # A fresh reader (a restarted query) resumes from the checkpointed offset: nothing lost, nothing repeated.
    put(kinesis, stream, 70, 5)
    restarted, _ = reader(stack, stream, initialPosition="trim_horizon").read(json.loads(json.dumps(later)))
    assert inds(restarted) == list(range(70, 75))


def test_a_replayed_batch_reads_the_same_records_again(stack: Any, kinesis: Any, stream: str) -> None:
    put(kinesis, stream, 0, 30)
    source = reader(stack, stream, initialPosition="trim_horizon")
    first, middle = source.read(source.initialOffset())
    put(kinesis, stream, 30, 20)
    second, end = source.read(middle)
    assert inds(source.readBetweenOffsets(source.initialOffset(), middle)) == inds(first) == list(range(30))
    assert inds(source.readBetweenOffsets(middle, end)) == inds(second) == list(range(30, 50))


def test_latest_skips_what_the_stream_held_before_the_query_started(
    stack: Any, kinesis: Any, stream: str
) -> None:
    put(kinesis, stream, 0, 10)
    time.sleep(1.1)  # AT_TIMESTAMP has the arrival time's resolution: start clearly after the old records
    source = reader(stack, stream, initialPosition="latest")
    start = source.initialOffset()
    put(kinesis, stream, 10, 5)
    rows, _ = source.read(start)
    assert inds(rows) == list(range(10, 15))


def test_max_records_per_shard_bounds_a_micro_batch(stack: Any, kinesis: Any, stream: str) -> None:
    put(kinesis, stream, 0, 90)
    source = reader(stack, stream, initialPosition="trim_horizon", maxRecordsPerShard="5")
    seen: list[int] = []
    offset = source.initialOffset()
    for _ in range(40):
        rows, offset = source.read(offset)
        batch = inds(rows)
        assert len(batch) <= 15  # 3 shards x 5
        seen += batch
        if not batch:
            break
    assert sorted(seen) == list(range(90))


def test_missing_stream_and_bad_options_are_clear_errors(stack: Any) -> None:
    with pytest.raises(KinesisSourceError, match="needs the option streamName"):
        KinesisStreamReader({})
    with pytest.raises(KinesisSourceError, match="initialPosition must be"):
        KinesisStreamReader({"streamName": "x", "initialPosition": "middle"})
    with pytest.raises(KinesisSourceError, match="maxRecordsPerShard"):
        KinesisStreamReader({"streamName": "x", "maxRecordsPerShard": "0"})
    missing = reader(stack, f"no-such-stream-{uuid.uuid4().hex[:6]}", initialPosition="trim_horizon")
    with pytest.raises(KinesisSourceError, match="not found"):
        missing.read(missing.initialOffset())
