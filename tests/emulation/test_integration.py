"""The batch emulator against the real local stack: API Gateway (LocalStack) -> REST Proxy -> Tansu.

Each test posts to topics of its own user id (created on the broker the way the stack creates the demo's), so
the demo's topics and lake stay untouched; what arrived is read back from the broker with `assign()`.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition

from emulation.batch import run_batch
from emulation.config import Config
from emulation.generator import generate_tables
from emulation.payloads import record_value
from emulation.poster import DeliveryError, RetryPolicy
from emulation.source_db import KEY, seed_database
from emulation.stream import run_stream

pytestmark = pytest.mark.integration

EVENTS = 1000
TOPIC_OF = {"pinterest_data": "pin", "geolocation_data": "geo", "user_data": "user"}


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, list[dict]]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('integration') / 'source.db'}"
    seed_database(url, rows=EVENTS, seed=2024)
    expected = {
        t: [json.loads(json.dumps(record_value(r))) for r in rows]
        for t, rows in generate_tables(EVENTS, 2024).items()
    }
    return url, expected


@pytest.fixture
def make_config(stack: Any, tmp_path: Path) -> Iterator[Callable[..., Config]]:
    """Configs for fresh user ids (their topics created, and deleted again after the test)."""
    from confluent_kafka.admin import AdminClient

    from local_stack.rest_proxy import ensure_topics

    created: list[str] = []

    def make(db_url: str, create_topics: bool = True, **overrides: Any) -> Config:
        values = {
            "user_id": f"emu{uuid.uuid4().hex[:10]}",
            "api_url": stack.invoke_url,
            "api_key": stack.api_key,
            "db_url": db_url,
            "state_dir": tmp_path / "state",
        }
        config = Config(**{**values, **overrides})
        if create_topics:
            topics = list(config.names.topics.values())
            ensure_topics(stack.bootstrap_servers, topics, partitions=1)
            created.extend(topics)
        return config

    yield make
    if created:
        admin = AdminClient({"bootstrap.servers": stack.bootstrap_servers})
        for future in admin.delete_topics(created, operation_timeout=10).values():
            future.exception()  # best effort: a leftover test topic harms nothing


def _read_topic(bootstrap: str, topic: str, expected: int, timeout: float = 60) -> list[dict]:
    """Every record of `topic` (all partitions, from the start) once `expected` arrived or the time is up."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"emu-test-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
        }
    )
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        values: list[dict] = []
        deadline = time.monotonic() + timeout
        while len(values) < expected and time.monotonic() < deadline:
            for message in consumer.consume(500, 0.5):
                if message.error() is None:
                    values.append(json.loads(message.value()))
        for message in consumer.consume(500, 1.0):  # anything beyond would be a duplicate
            if message.error() is None:
                values.append(json.loads(message.value()))
        return values
    finally:
        consumer.close()


def _assert_all_arrived(stack: Any, config: Config, expected: dict[str, list[dict]]) -> None:
    for table, dataset in TOPIC_OF.items():
        got = _read_topic(stack.bootstrap_servers, config.names.topic(dataset), len(expected[table]))
        key = KEY[table]
        assert Counter(v[key] for v in got) == Counter(v[key] for v in expected[table])
        by_key = {v[key]: v for v in expected[table]}
        assert all(v == by_key[v[key]] for v in got)
    distinct = {v["index"] for v in expected["pinterest_data"]}
    assert len(distinct) < EVENTS  # the source has duplicate events; deduplicated, every event is there once


def test_every_event_reaches_the_topics_through_the_api_gateway(
    stack: Any, source: tuple[str, dict[str, list[dict]]], make_config: Callable[..., Config]
) -> None:
    db_url, expected = source
    config = make_config(db_url)
    report = run_batch(config, batch_size=200, progress=False)
    assert report.accepted == 3 * EVENTS and report.dead_lettered == 0
    _assert_all_arrived(stack, config, expected)


def test_rows_then_resume_delivers_each_row_exactly_once(
    stack: Any, source: tuple[str, dict[str, list[dict]]], make_config: Callable[..., Config]
) -> None:
    db_url, expected = source
    config = make_config(db_url)
    first = run_batch(config, rows=300, batch_size=100, progress=False)
    assert all(300 <= t.accepted <= 302 for t in first.tables.values())
    rest = run_batch(config, batch_size=100, progress=False)
    assert rest.resumed and first.accepted + rest.accepted == 3 * EVENTS
    _assert_all_arrived(stack, config, expected)


def test_rejected_records_are_dead_lettered_and_a_wrong_key_stops(
    stack: Any, source: tuple[str, dict[str, list[dict]]], make_config: Callable[..., Config]
) -> None:
    db_url, expected = source
    config = make_config(db_url, create_topics=False)  # the broker has no such topics: 404
    report = run_batch(config, rows=5, progress=False)
    assert report.accepted == 0 and report.dead_lettered == 15
    letters = [json.loads(line) for line in report.dead_letter_file.read_text().splitlines()]
    assert {(d["status"], d["error_code"]) for d in letters} == {(404, 40401)}
    assert sorted(d["value"]["index"] for d in letters if "index" in d["value"]) == sorted(
        v["index"] for v in expected["pinterest_data"][:5]
    )
    wrong_key = make_config(db_url, create_topics=False, api_key="not-the-key")
    with pytest.raises(DeliveryError, match="HTTP 403"):
        run_batch(wrong_key, rows=5, progress=False, retry=RetryPolicy(attempts=2, base=0.01))


def test_stream_path_puts_every_row_into_kinesis(
    stack: Any, source: tuple[str, dict[str, list[dict]]], make_config: Callable[..., Config]
) -> None:
    import boto3

    db_url, expected = source
    config = make_config(db_url, create_topics=False)
    kinesis = boto3.client(
        "kinesis",
        endpoint_url=stack.localstack_url,
        region_name=stack.outputs.get("region", "us-east-1"),
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    streams = config.names.streams
    for name in streams.values():
        kinesis.create_stream(StreamName=name, ShardCount=1)
    try:
        for name in streams.values():
            kinesis.get_waiter("stream_exists").wait(
                StreamName=name, WaiterConfig={"Delay": 0.5, "MaxAttempts": 60}
            )
        report = run_stream(config, rows=40, batch_size=20, progress=False)
        assert report.dead_lettered == 0 and report.accepted == sum(
            t.rows_read for t in report.tables.values()
        )
        for table, dataset in TOPIC_OF.items():
            name = streams[dataset]
            shard = kinesis.list_shards(StreamName=name)["Shards"][0]["ShardId"]
            iterator = kinesis.get_shard_iterator(
                StreamName=name, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
            )
            records = kinesis.get_records(ShardIterator=iterator["ShardIterator"], Limit=1000)["Records"]
            got = [json.loads(r["Data"]) for r in records]
            key = KEY[table]
            assert sorted(got, key=lambda v: v[key]) == expected_sorted(expected[table], key)[: len(got)]
            assert len(got) == report.tables[table].accepted >= 40
            assert [r["PartitionKey"] for r in records] == [str(v[key]) for v in got]
    finally:
        for name in streams.values():
            kinesis.delete_stream(StreamName=name, EnforceConsumerDeletion=True)


def expected_sorted(rows: list[dict], key: str) -> list[dict]:
    return sorted(rows, key=lambda v: v[key])
