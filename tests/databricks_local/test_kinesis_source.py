"""The local `kinesis` streaming source against LocalStack's Kinesis: every shard, offsets, replays, errors.

The reader is driven as Spark drives it (initialOffset, read, readBetweenOffsets) without Spark, so these tests are
fast; tests/notebooks/test_stream.py runs it inside real streaming queries.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from databricks_local.kinesis_source import (
    KinesisSourceError,
    KinesisStreamReader,
    kinesis_config,
    parse_initial_position,
)
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


def test_a_stream_read_while_empty_then_fed_one_record_at_a_time(
    stack: Any, kinesis: Any, stream: str
) -> None:
    """The stream bench's pattern (a query started on empty streams, then one event at a time): each trigger
    returns only records after its start offset and its end offset moves past every record it returns, which
    Spark checks (SIMPLE_STREAM_READER_OFFSET_DID_NOT_ADVANCE)."""
    source = reader(stack, stream, initialPosition="trim_horizon")
    nothing, offset = source.read(source.initialOffset())
    assert list(nothing) == []
    for ind in range(4):
        put(kinesis, stream, ind, 1)
        rows, end = source.read(offset)
        assert inds(rows) == [ind], f"trigger {ind}"
        for row in rows:
            key = f"{row[2]}|{row[3]}"
            assert int(end["shards"][key]) >= int(row[4]) > int(offset["shards"].get(key) or -1)
        again, same = source.read(end)
        assert list(again) == [] and same == end
        offset = end


def new_shard_with_its_first_record_at_its_start(kinesis: Any) -> tuple[str, str]:
    """A one-shard stream whose first record was put in the second the shard was created, so that kinesis-mock
    (LocalStack's engine) gave it the shard's `StartingSequenceNumber` itself (sequence index 0, the same second):
    (stream, that sequence number). The stream bench does this: it creates the streams and puts its warm-up event
    at once. Tried again on a fresh stream when the second rolled over first."""
    for _ in range(10):
        time.sleep(1 - time.time() % 1)  # create at the start of a second: the put lands in the same one
        name = f"test-source-first-{uuid.uuid4().hex[:6]}"
        kinesis.create_stream(StreamName=name, ShardCount=1)
        while (
            kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamStatus"]
            != "ACTIVE"
        ):
            time.sleep(0.02)
        sequence = kinesis.put_record(
            StreamName=name, Data=json.dumps({"ind": 0}).encode(), PartitionKey="key-0"
        )["SequenceNumber"]
        shard = kinesis.list_shards(StreamName=name)["Shards"][0]
        if shard["SequenceNumberRange"]["StartingSequenceNumber"] == sequence:
            return name, sequence
        kinesis.delete_stream(StreamName=name, EnforceConsumerDeletion=True)
    pytest.fail("no stream got its first record within the second it was created in 10 tries")


def test_a_first_record_at_the_shards_starting_sequence_number_is_read_once(stack: Any, kinesis: Any) -> None:
    """kinesis-mock reads an iterator at the shard's `StartingSequenceNumber` as the shard's start (TRIM_HORIZON),
    records included. When the first record of a shard has that very number, every iterator after it (the
    NextShardIterator of the page that returned it, kept for the next trigger, and a fresh AFTER_SEQUENCE_NUMBER
    one) hands that record back again, until a second record arrives. The source returns it once: otherwise the
    next trigger returns it with an end offset equal to its start, and Spark stops the query
    (SIMPLE_STREAM_READER_OFFSET_DID_NOT_ADVANCE)."""
    name, first = new_shard_with_its_first_record_at_its_start(kinesis)
    try:
        shard = kinesis.list_shards(StreamName=name)["Shards"][0]["ShardId"]
        after = kinesis.get_shard_iterator(
            StreamName=name,
            ShardId=shard,
            ShardIteratorType="AFTER_SEQUENCE_NUMBER",
            StartingSequenceNumber=first,
        )["ShardIterator"]
        again = kinesis.get_records(ShardIterator=after)["Records"]
        assert [r["SequenceNumber"] for r in again] == [
            first
        ]  # the engine's behaviour the source must absorb

        source = reader(stack, name, initialPosition="trim_horizon")
        rows, offset = source.read(source.initialOffset())
        assert inds(rows) == [0] and offset["shards"] == {f"{name}|{shard}": first}
        for trigger in range(3):  # the kept iterator gives the first record again: nothing new, offset kept
            nothing, same = source.read(offset)
            assert list(nothing) == [] and same == offset, f"trigger {trigger}"
        # A restarted query (a fresh AFTER_SEQUENCE_NUMBER iterator) and a replay read it once as well.
        restarted, same = reader(stack, name, initialPosition="trim_horizon").read(offset)
        assert list(restarted) == [] and same == offset
        assert inds(source.readBetweenOffsets(source.initialOffset(), offset)) == [0]
        put(kinesis, name, 1, 2)
        new, later = source.read(offset)
        assert inds(new) == [1, 2] and int(later["shards"][f"{name}|{shard}"]) > int(first)
        nothing, same = source.read(later)
        assert list(nothing) == [] and same == later
    finally:
        kinesis.delete_stream(StreamName=name, EnforceConsumerDeletion=True)


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


# --- options of Databricks' connector -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("option", "start"),
    [
        ("trim_horizon", "TRIM_HORIZON"),
        ("EARLIEST", "TRIM_HORIZON"),
        ("latest", "LATEST"),
        (
            '{"at_timestamp": "06/25/2020 10:23:45 PDT"}',
            "AT_TIMESTAMP:1593105825.000",
        ),  # Java's default format
        (
            '{"at_timestamp": "2020-06-25 17:23:45Z", "format": "yyyy-MM-dd HH:mm:ssX"}',
            "AT_TIMESTAMP:1593105825.000",
        ),
        (
            '{"at_timestamp": "2020-06-25T19:23:45.500+02:00", "format": "yyyy-MM-dd\'T\'HH:mm:ss.SSSXXX"}',
            "AT_TIMESTAMP:1593105825.500",
        ),
    ],
)
def test_initial_position_takes_databricks_forms(option: str, start: str) -> None:
    assert parse_initial_position(option) == start


@pytest.mark.parametrize(
    "option",
    ['{"at_timestamp": "yesterday"}', '{"at": "06/25/2020 10:23:45 PDT"}', "{not json", "middle"],
)
def test_a_bad_initial_position_is_a_clear_error(option: str) -> None:
    with pytest.raises(KinesisSourceError, match=r"initialPosition|at_timestamp"):
        KinesisStreamReader({"streamName": "x", "initialPosition": option})


def test_every_call_is_bounded_by_timeouts_and_retries() -> None:
    config = kinesis_config()
    assert (config.connect_timeout, config.read_timeout) == (3, 10)
    assert config.retries == {"total_max_attempts": 5, "mode": "standard"}  # botocore's form of 4 retries
    client = KinesisStreamReader({"streamName": "x", "endpoint": "http://127.0.0.1:1"}).client
    assert (client.meta.config.connect_timeout, client.meta.config.read_timeout) == (3, 10)
    assert client.meta.config.retries == config.retries


def test_a_kinesis_that_never_answers_fails_the_read_within_the_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A connection that is accepted and then never answered (the reused-stack stall): the read gives up."""
    import socket

    from databricks_local import kinesis_source

    monkeypatch.setattr(
        kinesis_source,
        "KINESIS_TIMEOUTS",
        {"connect_timeout": 1, "read_timeout": 1, "retries": {"max_attempts": 1, "mode": "standard"}},
    )
    monkeypatch.setattr(kinesis_source, "CALL_DEADLINE", 2.0)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        source = KinesisStreamReader(
            {"streamName": "x", "endpoint": f"http://127.0.0.1:{silent.getsockname()[1]}"}
        )
        started = time.monotonic()
        with pytest.raises(KinesisSourceError, match="cannot reach Kinesis"):
            source.read(source.initialOffset())
        assert time.monotonic() - started < 10


def test_the_shard_list_and_iterators_are_kept_between_triggers(
    stack: Any, kinesis: Any, stream: str
) -> None:
    put(kinesis, stream, 0, 30)
    source = reader(stack, stream, initialPosition="trim_horizon")
    rows, offset = source.read(source.initialOffset())
    assert inds(rows) == list(range(30))
    assert source.calls["list_shards"] == 1 and source.calls["get_shard_iterator"] == 3
    for _ in range(5):  # triggers with nothing new: one GetRecords per shard, no listing, no new iterator
        before = dict(source.calls)
        nothing, offset = source.read(offset)
        assert list(nothing) == []
        assert source.calls["get_records"] - before["get_records"] == 3
        assert source.calls["list_shards"] == 1 and source.calls["get_shard_iterator"] == 3
    put(kinesis, stream, 30, 6)
    new, offset = source.read(offset)
    assert inds(new) == list(range(30, 36)) and source.calls["get_shard_iterator"] == 3
    source.shard_list_interval = 0  # the slow refresh is due: the shards are listed again
    source.read(offset)
    assert source.calls["list_shards"] == 2


def test_a_stream_that_disappears_is_listed_again(stack: Any, kinesis: Any) -> None:
    name = f"test-source-gone-{uuid.uuid4().hex[:6]}"
    kinesis.create_stream(StreamName=name, ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})
    put(kinesis, name, 0, 3)
    source = reader(stack, name, initialPosition="trim_horizon")
    _, offset = source.read(source.initialOffset())
    kinesis.delete_stream(StreamName=name, EnforceConsumerDeletion=True)
    kinesis.get_waiter("stream_not_exists").wait(
        StreamName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100}
    )
    with pytest.raises(KinesisSourceError, match="not found"):
        source.read(offset)
    assert source._shards_listed == -float("inf") and source._iterators == {}  # the next trigger lists again


def test_at_timestamp_starts_at_that_moment(stack: Any, kinesis: Any, stream: str) -> None:
    put(kinesis, stream, 0, 10)
    time.sleep(1.1)
    moment = dt.datetime.now(dt.UTC)
    time.sleep(0.1)
    put(kinesis, stream, 10, 5)
    position = json.dumps(
        {
            "at_timestamp": moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z",
            "format": "yyyy-MM-dd HH:mm:ss.SSSX",
        }
    )
    source = reader(stack, stream, initialPosition=position)
    rows, _ = source.read(source.initialOffset())
    assert inds(rows) == list(range(10, 15))


def test_max_records_per_fetch_bounds_each_get_records(stack: Any, kinesis: Any, stream: str) -> None:
    put(kinesis, stream, 0, 30)
    source = reader(stack, stream, initialPosition="trim_horizon", maxRecordsPerFetch="4")
    rows, _ = source.read(source.initialOffset())
    assert inds(rows) == list(range(30))
    assert source.calls["get_records"] >= 30 // 4  # 4 records a call at most
    with pytest.raises(KinesisSourceError, match="maxRecordsPerFetch"):
        KinesisStreamReader({"streamName": "x", "maxRecordsPerFetch": "none"})


def test_keys_role_and_service_credential_options(stack: Any, kinesis: Any, stream: str) -> None:
    put(kinesis, stream, 0, 9)
    with_keys = reader(
        stack, stream, initialPosition="trim_horizon", awsAccessKey="test", awsSecretKey="test"
    )
    assert with_keys.client._request_signer._credentials.access_key == "test"
    assert inds(with_keys.read(with_keys.initialOffset())[0]) == list(range(9))
    # roleArn: LocalStack's STS hands out temporary credentials of the role; the reads go through with them.
    with_role = reader(
        stack,
        stream,
        initialPosition="trim_horizon",
        roleArn="arn:aws:iam::000000000000:role/databricks-kinesis",
        roleSessionName="local-test",
    )
    credentials = with_role.client._request_signer._credentials
    assert credentials.token and credentials.access_key != "test"
    assert inds(with_role.read(with_role.initialOffset())[0]) == list(range(9))
    # serviceCredential names a Unity Catalog credential: accepted (the local stack's keys apply).
    with_credential = reader(stack, stream, initialPosition="trim_horizon", serviceCredential="kinesis-cred")
    assert inds(with_credential.read(with_credential.initialOffset())[0]) == list(range(9))
