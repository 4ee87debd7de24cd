"""The S3 sink's own logic (flush.size, rotation, commit after write, resume, redelivery) on in-memory fakes.

The real sink against real Tansu and LocalStack S3 is covered by test_stack_integration.py.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
import requests
from confluent_kafka import Consumer, Producer, TopicPartition

from emulation.payloads import KAFKA_JSON_CONTENT_TYPE
from local_stack import config as cfg
from local_stack.config import TEST_CREDENTIALS
from local_stack.lake_layout import (
    iter_lake_objects,
    lake_counts,
    object_key,
    parse_object_key,
    read_lake_values,
    wait_for_lake_counts,
)
from local_stack.s3_sink import (
    END_OFFSET_METADATA,
    S3Sink,
    decode_value,
    main,
    make_s3,
    parse_args,
)
from local_stack.supervisor import Stack, StackInfo
from tests.support.net import wait_until


class FakeBody:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self) -> bytes:
        return self.data


class FakeS3:
    """The four S3 calls the sink and the lake readers make, over a dict."""

    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, dict[str, str]]] = {}
        self.fail_puts = 0

    def put_object(
        self, Bucket: str, Key: str, Body: bytes, Metadata: dict[str, str] | None = None, **_: Any
    ) -> None:
        if self.fail_puts:
            self.fail_puts -= 1
            raise ConnectionError("S3 unavailable")
        self.objects[Key] = (Body, dict(Metadata or {}))

    def head_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        return {"Metadata": self.objects[Key][1]}

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        return {"Body": FakeBody(self.objects[Key][0])}

    def get_paginator(self, name: str) -> Any:
        assert name == "list_objects_v2"
        objects = self.objects

        def paginate(Bucket: str, Prefix: str) -> list[dict[str, Any]]:
            return [{"Contents": [{"Key": k} for k in sorted(objects) if k.startswith(Prefix)]}]

        return SimpleNamespace(paginate=paginate)

    def lines(self, key: str) -> list[Any]:
        return [json.loads(line) for line in self.objects[key][0].splitlines()]


@dataclass
class FakeMessage:
    _topic: str
    _partition: int
    _offset: int
    _value: bytes

    def error(self) -> None:
        return None

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def value(self) -> bytes:
        return self._value


@dataclass
class FakeConsumer:
    """A broker log per topic-partition, served from each assigned position; commits recorded."""

    logs: dict[tuple[str, int], list[bytes]] = field(default_factory=dict)
    committed_offsets: dict[tuple[str, int], int] = field(default_factory=dict)
    positions: dict[tuple[str, int], int] = field(default_factory=dict)
    commits: list[tuple[str, int, int]] = field(default_factory=list)
    paused: set[tuple[str, int]] = field(default_factory=set)

    def list_topics(self, timeout: float) -> Any:
        topics: dict[str, Any] = {}
        for topic, partition in self.logs:
            meta = topics.setdefault(topic, SimpleNamespace(partitions={}, error=None))
            meta.partitions[partition] = object()
        return SimpleNamespace(topics=topics)

    def committed(self, tps: list[TopicPartition], timeout: float) -> list[TopicPartition]:
        return [
            TopicPartition(
                tp.topic, tp.partition, self.committed_offsets.get((tp.topic, tp.partition), -1001)
            )
            for tp in tps
        ]

    def incremental_assign(self, tps: list[TopicPartition]) -> None:
        for tp in tps:
            self.positions[(tp.topic, tp.partition)] = tp.offset

    def consume(self, num_messages: int, timeout: float) -> list[FakeMessage]:
        out = []
        for (topic, partition), position in self.positions.items():
            if (topic, partition) in self.paused:
                continue
            log = self.logs[(topic, partition)]
            for offset in range(position, min(len(log), position + num_messages - len(out))):
                out.append(FakeMessage(topic, partition, offset, log[offset]))
            self.positions[(topic, partition)] = position + len(
                [m for m in out if m._topic == topic and m._partition == partition]
            )
        return out

    def commit(self, offsets: list[TopicPartition], asynchronous: bool) -> None:
        assert asynchronous is False
        for tp in offsets:
            self.committed_offsets[(tp.topic, tp.partition)] = tp.offset
            self.commits.append((tp.topic, tp.partition, tp.offset))

    def pause(self, tps: list[TopicPartition]) -> None:
        self.paused |= {(tp.topic, tp.partition) for tp in tps}

    def resume(self, tps: list[TopicPartition]) -> None:
        self.paused -= {(tp.topic, tp.partition) for tp in tps}

    def produce(self, topic: str, values: list[dict[str, Any]], partition: int = 0) -> None:
        self.logs.setdefault((topic, partition), []).extend(json.dumps(v).encode() for v in values)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_sink(
    consumer: FakeConsumer, s3: FakeS3, clock: Clock, flush_size: int = 10, rotate_ms: int = 5000
) -> S3Sink:
    return S3Sink(consumer, s3, "lake", r"u\..*", flush_size, rotate_ms, discover_interval_s=0, clock=clock)


def drain(sink: S3Sink) -> None:
    sink.discover(force=True)
    while sink.poll(max_records=7):
        sink.flush_due()
    sink.flush_due()


def rows(start: int, stop: int) -> list[dict[str, Any]]:
    return [{"ind": i} for i in range(start, stop)]


def test_one_object_per_flush_size_records_keyed_by_start_offset_and_committed_after_write() -> None:
    consumer, s3, clock = FakeConsumer(), FakeS3(), Clock()
    consumer.produce("u.pin", rows(0, 25))
    sink = make_sink(consumer, s3, clock)
    drain(sink)
    assert sorted(s3.objects) == [object_key("u.pin", 0, 0), object_key("u.pin", 0, 10)]
    assert s3.lines(object_key("u.pin", 0, 10)) == rows(10, 20)
    assert s3.objects[object_key("u.pin", 0, 10)][1][END_OFFSET_METADATA] == "20"
    assert consumer.commits == [("u.pin", 0, 10), ("u.pin", 0, 20)]  # nothing committed for the 5 buffered
    assert sink.partitions[("u.pin", 0)].records and len(sink.partitions[("u.pin", 0)].records) == 5


def test_rotation_flushes_a_low_traffic_partition_after_the_interval() -> None:
    consumer, s3, clock = FakeConsumer(), FakeS3(), Clock()
    consumer.produce("u.geo", rows(0, 3))
    sink = make_sink(consumer, s3, clock, rotate_ms=5000)
    drain(sink)
    assert s3.objects == {}
    clock.now += 4.9
    sink.flush_due()
    assert s3.objects == {}
    clock.now += 0.2
    sink.flush_due()
    assert s3.lines(object_key("u.geo", 0, 0)) == rows(0, 3)
    assert consumer.commits == [("u.geo", 0, 3)]


def test_only_topics_matching_the_regex_fully_are_sunk() -> None:
    consumer, s3, clock = FakeConsumer(), FakeS3(), Clock()
    for topic in ("u.pin", "u2.pin", "xu.pin", "__consumer_offsets"):
        consumer.produce(topic, rows(0, 10))
    sink = make_sink(consumer, s3, clock)
    drain(sink)
    assert {parse_object_key(k)[0] for k in s3.objects} == {"u.pin"}


def test_failed_write_keeps_the_records_and_commits_nothing_until_it_succeeds() -> None:
    consumer, s3, clock = FakeConsumer(), FakeS3(), Clock()
    consumer.produce("u.pin", rows(0, 10))
    sink = make_sink(consumer, s3, clock)
    sink.discover(force=True)
    sink.poll()
    s3.fail_puts = 1
    with pytest.raises(ConnectionError):
        sink.flush_due()
    assert consumer.commits == [] and len(sink.partitions[("u.pin", 0)].records) == 10
    sink.flush_due()
    assert s3.lines(object_key("u.pin", 0, 0)) == rows(0, 10)
    assert consumer.commits == [("u.pin", 0, 10)]


def test_a_partition_that_cannot_be_written_is_paused_until_it_drains() -> None:
    consumer, s3, clock = FakeConsumer(), FakeS3(), Clock()
    consumer.produce("u.pin", rows(0, 40))
    consumer.produce("u.geo", rows(0, 3))
    sink = S3Sink(
        consumer, s3, "lake", r"u\..*", 5, 1000, discover_interval_s=0, clock=clock, max_buffered=12
    )
    sink.discover(force=True)
    s3.fail_puts = 10**6  # S3 is down
    for _ in range(5):
        sink.poll(max_records=7)
    assert consumer.paused == {("u.pin", 0)} == sink.paused  # the small partition keeps flowing
    assert 12 <= len(sink.partitions[("u.pin", 0)].records) < 40
    s3.fail_puts = 0
    sink.flush_due()
    assert consumer.paused == set()
    drain(sink)
    sink.flush_all()
    assert [v["ind"] for v in read_lake_values(s3, "lake", "u.pin")] == list(range(40))


def test_restart_resumes_from_the_commit_without_loss_or_duplicates() -> None:
    consumer, s3, clock = FakeConsumer(), FakeS3(), Clock()
    consumer.produce("u.pin", rows(0, 23))
    first = make_sink(consumer, s3, clock)
    drain(first)  # 0-19 written and committed, 20-22 buffered and lost with the process
    consumer.produce("u.pin", rows(23, 31))
    consumer.positions.clear()
    second = make_sink(consumer, s3, clock)
    drain(second)
    second.flush_all()
    assert [v["ind"] for v in read_lake_values(s3, "lake", "u.pin")] == list(range(31))


def test_crash_between_write_and_commit_resumes_from_the_lake_not_the_older_commit() -> None:
    consumer, s3, clock = FakeConsumer(), FakeS3(), Clock()
    consumer.produce("u.pin", rows(0, 17))
    first = make_sink(consumer, s3, clock)
    drain(first)
    clock.now += 10
    first.flush_due()  # rotation wrote 10-16 ...
    consumer.committed_offsets[("u.pin", 0)] = 10  # ... but the process died before committing it
    consumer.produce("u.pin", rows(17, 40))
    consumer.positions.clear()
    second = make_sink(consumer, s3, clock)
    drain(second)
    second.flush_all()
    assert second.partitions[("u.pin", 0)].written_offset == 40
    values = [v["ind"] for v in read_lake_values(s3, "lake", "u.pin")]
    assert values == list(range(40))  # a fresh batching from offset 10 would have duplicated 10-16


def test_redelivered_records_below_the_position_are_skipped() -> None:
    consumer, s3, clock = FakeConsumer(), FakeS3(), Clock()
    consumer.produce("u.pin", rows(0, 5))
    sink = make_sink(consumer, s3, clock)
    drain(sink)
    assert sink.add("u.pin", 0, 3, b'{"ind": 3}') is False  # e.g. an offset reset after a broker restart
    assert sink.add("u.pin", 0, 5, b'{"ind": 5}') is True
    sink.flush_all()
    assert [v["ind"] for v in read_lake_values(s3, "lake", "u.pin")] == list(range(6))


def test_lake_counts_per_topic_of_the_user() -> None:
    consumer, s3, clock = FakeConsumer(), FakeS3(), Clock()
    consumer.produce("u.pin", rows(0, 12))
    consumer.produce("u.user", rows(0, 4))
    consumer.produce("u.pinx", rows(0, 4))
    sink = S3Sink(consumer, s3, "lake", r".*", 5, 1000, discover_interval_s=0, clock=clock)
    drain(sink)
    sink.flush_all()
    assert lake_counts(s3, "lake", "u") == {"u.pin": 12, "u.geo": 0, "u.user": 4}
    assert wait_for_lake_counts(s3, "lake", "u", {"u.pin": 12, "u.user": 4}, timeout=0)["u.pin"] == 12
    t0 = time.monotonic()
    short = wait_for_lake_counts(s3, "lake", "u", {"u.geo": 1}, timeout=0.3, interval=0.1)
    assert short["u.geo"] == 0 and 0.3 <= time.monotonic() - t0 < 5


def test_values_that_are_not_json_are_kept_as_strings() -> None:
    assert decode_value(b'{"a": 1}') == {"a": 1}
    assert decode_value(b"not json") == "not json"
    assert decode_value(None) is None


def test_parse_object_key_round_trips_and_rejects_other_keys() -> None:
    assert parse_object_key(object_key("u.pin", 2, 42)) == ("u.pin", 2, 42)
    assert parse_object_key("topics/u.pin/partition=0/notes.txt") is None
    assert parse_object_key("topics/u.pin/partition=1/u.pin+0+0000000000.json") is None


def test_cli_rejects_bad_input_with_a_clear_message(capsys: pytest.CaptureFixture[str]) -> None:
    base = ["--bootstrap-servers", "127.0.0.1:1", "--bucket", "b"]
    with pytest.raises(SystemExit) as exit_:
        parse_args([*base, "--topics-regex", "u\\.(", "--flush-size", "5"])
    assert exit_.value.code == 2
    assert "--topics-regex 'u\\\\.(' is not a valid regular expression" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args([*base, "--topics-regex", "u\\..*", "--flush-size", "0"])
    assert "--flush-size must be at least 1" in capsys.readouterr().err


def test_cli_fails_clearly_when_s3_is_unreachable(
    capsys: pytest.CaptureFixture[str], unused_port: int
) -> None:
    code = main(
        [
            "--bootstrap-servers", "127.0.0.1:1", "--topics-regex", "u\\..*", "--bucket", "no-such-bucket",
            "--endpoint-url", f"http://127.0.0.1:{unused_port}", "--connect-timeout", "0",
        ]
    )  # fmt: skip
    assert code == 2
    assert "cannot reach S3 at http://127.0.0.1:" in capsys.readouterr().err


# --- against the real stack (Tansu, REST Proxy, API Gateway and S3 on LocalStack) ---------------------
# Each test sinks its own user id's topics (`t-<hex>.pin|geo|user`) into its own bucket with its own sink
# process, so the stack user's topics and lake stay exactly what the demo put there.


@pytest.fixture
def own_sink(
    stack_handle: tuple[Stack, StackInfo], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., Stack]]:
    """Start sinks of fresh user ids on the shared broker and LocalStack (own state dir, bucket, topics)."""
    handle, _ = stack_handle
    started: list[Stack] = []

    def make(flush_size: int = 500, rotate_interval_ms: int = 1000) -> Stack:
        config = dataclasses.replace(
            handle.config,
            state_dir=tmp_path_factory.mktemp("sink"),
            user_id=f"t-{uuid.uuid4().hex[:10]}",
            flush_size=flush_size,
            rotate_interval_ms=rotate_interval_ms,
        )
        sub = Stack(config, say=lambda _: None)
        sub.ensure_bucket(config.names.bucket)
        sub.ensure_topics()
        sub.ensure(cfg.S3_SINK)
        started.append(sub)
        return sub

    yield make
    for sub in started:
        sub.down([cfg.S3_SINK])


@pytest.fixture
def own(own_sink: Callable[..., Stack]) -> Stack:
    """A sink of a fresh user id: flush.size 500, 1 s rotation."""
    return own_sink()


def s3_client(stack: StackInfo) -> Any:
    return make_s3(stack.localstack_url, "us-east-1", TEST_CREDENTIALS)


def marked_values(stack: StackInfo, bucket: str, topic: str, run: str) -> list[dict[str, Any]]:
    """Values of `topic` in the lake that carry this test run's marker."""
    values = read_lake_values(s3_client(stack), bucket, topic)
    return [v for v in values if isinstance(v, dict) and v.get("run") == run]


def wait_for_marked(stack: StackInfo, bucket: str, topic: str, run: str, expected: int) -> list[Any]:
    probe = lambda: marked_values(stack, bucket, topic, run)  # noqa: E731
    return wait_until(probe, lambda vs: len(vs) >= expected, timeout=60, interval=1.0)


def post_records(url: str, values: list[dict[str, Any]], headers: dict[str, str] | None = None) -> list[int]:
    """POST one REST Proxy v2 batch; return the offsets the proxy reports (asserting every record succeeded)."""
    session = requests.Session()
    session.trust_env = False
    response = session.post(
        url,
        json={"records": [{"value": v} for v in values]},
        headers={"Content-Type": KAFKA_JSON_CONTENT_TYPE, **(headers or {})},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    offsets = response.json()["offsets"]
    assert all(o["error_code"] is None for o in offsets), offsets
    return [o["offset"] for o in offsets]


def log_seqs(stack: StackInfo, topic: str, run: str) -> list[int]:
    """`seq` of this run's records in the broker's log, in offset order (read until the log goes quiet)."""
    consumer = Consumer({"bootstrap.servers": stack.bootstrap_servers, "group.id": f"check-{run}"})
    seqs: list[int] = []
    try:
        consumer.assign([TopicPartition(topic, 0, 0)])
        deadline, idle_since = time.monotonic() + 60, time.monotonic()
        while time.monotonic() < deadline and time.monotonic() - idle_since < 2:
            messages = [m for m in consumer.consume(1000, timeout=0.5) if m.error() is None]
            if messages:
                idle_since = time.monotonic()
            seqs += [v["seq"] for v in map(json.loads, (m.value() for m in messages)) if v.get("run") == run]
    finally:
        consumer.close()
    return seqs


def assert_exactly_once(stack: StackInfo, bucket: str, topic: str, run: str, expected: int) -> None:
    """Every record sent is in the lake, and the lake holds exactly the broker's log: no loss, no duplicate.

    A producer retry after a broker restart may legitimately log a record twice (at-least-once delivery into
    the topic); the sink's promise is about the log, so the lake is compared with the log, in offset order.
    """
    wait_for_marked(stack, bucket, topic, run, expected)  # the sink had its chance to write them all
    log = log_seqs(stack, topic, run)
    assert set(log) == set(range(expected)), "records missing from the broker's log"
    lake = [v["seq"] for v in wait_until(
        lambda: marked_values(stack, bucket, topic, run), lambda vs: len(vs) >= len(log), 30, 1.0
    )]  # fmt: skip
    assert lake == log, f"lake ({len(lake)} records) differs from the log ({len(log)} records)"


def batches(run: str, total: int, size: int) -> list[list[dict[str, Any]]]:
    return [[{"run": run, "seq": i} for i in range(s, min(s + size, total))] for s in range(0, total, size)]


@pytest.mark.integration
def test_a_record_produced_to_the_pin_topic_lands_with_the_right_key_and_content(
    stack: StackInfo, own: Stack
) -> None:
    topic, bucket = own.config.names.topic("pin"), own.config.names.bucket
    run = uuid.uuid4().hex
    delivered: list[Any] = []
    producer = Producer({"bootstrap.servers": stack.bootstrap_servers})
    for seq in range(3):
        value = {"run": run, "seq": seq, "index": 7528 + seq, "category": "mens-fashion", "downloaded": 1}
        producer.produce(topic, json.dumps(value).encode(), on_delivery=lambda e, m: delivered.append((e, m)))
    assert producer.flush(30) == 0
    assert [e for e, _ in delivered] == [None, None, None]
    found = wait_for_marked(stack, bucket, topic, run, 3)
    assert sorted(found, key=lambda v: v["seq"]) == [json.loads(m.value()) for _, m in delivered]
    # The object is keyed by the start offset of its batch and holds each record at its offset's line.
    s3 = s3_client(stack)
    keys = [k for k, _, _ in iter_lake_objects(s3, bucket, topic)]
    assert keys == [f"topics/{topic}/partition=0/{topic}+0+0000000000.json"] == [object_key(topic, 0, 0)]
    lines = s3.get_object(Bucket=bucket, Key=keys[0])["Body"].read().decode().splitlines()
    for _, message in delivered:  # one bare JSON value per line, no envelope
        assert json.loads(lines[message.offset()]) == json.loads(message.value())


@pytest.mark.integration
def test_rows_posted_through_the_api_gateway_land_in_the_lake(stack: StackInfo, own: Stack) -> None:
    topic, bucket = own.config.names.topic("pin"), own.config.names.bucket
    run = uuid.uuid4().hex
    values = batches(run, 30, 30)[0]
    offsets = post_records(
        f"{stack.invoke_url}/topics/{topic}", values, headers={"x-api-key": str(stack.api_key)}
    )
    assert offsets == list(range(30))
    found = wait_for_marked(stack, bucket, topic, run, 30)
    assert sorted(found, key=lambda v: v["seq"]) == values
    assert [k for k, _, _ in iter_lake_objects(s3_client(stack), bucket, topic)] == [object_key(topic, 0, 0)]


@pytest.mark.integration
def test_restarting_the_sink_mid_stream_loses_and_duplicates_nothing(stack: StackInfo, own: Stack) -> None:
    topic, bucket = own.config.names.topic("geo"), own.config.names.bucket
    run = uuid.uuid4().hex
    url = f"{stack.rest_proxy_url}/topics/{topic}"
    parts = batches(run, 3000, 100)
    old_pid = own.pid(cfg.S3_SINK)
    producer = threading.Thread(target=lambda: [post_records(url, b) or time.sleep(0.02) for b in parts])
    producer.start()
    time.sleep(0.3)
    own.restart(cfg.S3_SINK)  # a graceful stop flushes; what is not yet consumed resumes from the commit
    producer.join(60)
    assert own.pid(cfg.S3_SINK) not in (None, old_pid)
    assert_exactly_once(stack, bucket, topic, run, 3000)


@pytest.mark.integration
def test_a_killed_sink_resumes_without_loss_or_duplicates(
    stack: StackInfo, own_sink: Callable[..., Stack]
) -> None:
    own = own_sink(
        flush_size=500, rotate_interval_ms=600_000
    )  # nothing rotates: the remainder stays buffered
    topic, bucket = own.config.names.topic("user"), own.config.names.bucket
    run = uuid.uuid4().hex
    url = f"{stack.rest_proxy_url}/topics/{topic}"
    parts = batches(run, 2000, 200)
    for batch in parts[:8]:
        post_records(url, batch)
    # 1500 records are written and committed, 100 are buffered when the sink dies without a final flush.
    wait_until(lambda: marked_values(stack, bucket, topic, run), lambda vs: len(vs) >= 1500, 30, 0.1)
    status = json.loads((own.config.run_dir / "s3-sink.status.json").read_text())
    pid = own.pid(cfg.S3_SINK)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    assert wait_until(lambda: own.pid(cfg.S3_SINK), lambda p: p is None, 10, 0.05) is None
    assert own.ensure(cfg.S3_SINK) is True
    for batch in parts[8:]:
        post_records(url, batch)
    assert_exactly_once(stack, bucket, topic, run, 2000)
    keys = sorted(k for k, _, _ in iter_lake_objects(s3_client(stack), bucket, topic))
    assert keys == [object_key(topic, 0, start) for start in (0, 500, 1000, 1500)]
    assert status["partitions"][f"{topic}[0]"]["written"] <= 1500


@pytest.mark.integration
def test_restarting_the_broker_keeps_every_record_on_s3_storage(
    stack_handle: tuple[Stack, StackInfo], own: Stack
) -> None:
    handle, stack = stack_handle
    topic, bucket = own.config.names.topic("geo"), own.config.names.bucket
    run = uuid.uuid4().hex
    url = f"{stack.rest_proxy_url}/topics/{topic}"
    parts = batches(run, 1000, 250)
    offsets = [o for b in parts[:2] for o in post_records(url, b)]
    handle.restart(cfg.TANSU)  # the sink still buffers most of these (1 s rotation)
    # The broker's own log survived the restart: read the first half back from the new process.
    consumer = Consumer({"bootstrap.servers": stack.bootstrap_servers, "group.id": f"t-{run}"})
    try:
        consumer.assign([TopicPartition(topic, 0, offsets[0])])
        seen: list[int] = []
        deadline = time.monotonic() + 30
        while len(seen) < len(offsets) and time.monotonic() < deadline:
            seen += [
                json.loads(m.value())["seq"] for m in consumer.consume(500, timeout=1) if m.error() is None
            ]
        assert sorted(seen) == list(range(500))
    finally:
        consumer.close()
    # Producing resumes (the proxy reconnects), and the sink delivers both halves exactly once.
    assert wait_until(lambda: _post_ok(url, parts[2]), bool, 120, 0.5)
    assert wait_until(lambda: _post_ok(url, parts[3]), bool, 120, 0.5)
    assert_exactly_once(stack, bucket, topic, run, 1000)


def _post_ok(url: str, batch: list[dict[str, Any]]) -> bool:
    try:
        post_records(url, batch)
        return True
    except (AssertionError, requests.RequestException):
        return False


# --- defect 7: no stall and no skip when discovery or buffering fails part-way --------------------------
class FlakyListS3(FakeS3):
    """Listing the objects of the named topic fails `failures` times (S3 hiccup during discovery)."""

    def __init__(self, topic: str, failures: int = 1) -> None:
        super().__init__()
        self.topic, self.failures = topic, failures

    def get_paginator(self, name: str) -> Any:
        inner = super().get_paginator(name)

        def paginate(Bucket: str, Prefix: str) -> list[dict[str, Any]]:
            if self.failures and Prefix == f"topics/{self.topic}/":
                self.failures -= 1
                raise ConnectionError("S3 unavailable")
            return inner.paginate(Bucket=Bucket, Prefix=Prefix)

        return SimpleNamespace(paginate=paginate)


def test_a_partition_whose_resume_point_cannot_be_read_is_retried_and_none_is_left_unassigned() -> None:
    consumer, s3, clock = FakeConsumer(), FlakyListS3("u.user"), Clock()
    for topic in ("u.geo", "u.pin", "u.user"):
        consumer.produce(topic, rows(0, 10))
    sink = make_sink(consumer, s3, clock)
    with contextlib.suppress(ConnectionError):
        sink.discover(force=True)  # u.geo and u.pin resume fine, u.user's lake listing fails
    assert set(sink.partitions) == set(consumer.positions)  # nothing recorded without being assigned
    drain(sink)  # the next discovery takes u.user too
    sink.flush_all()
    for topic in ("u.geo", "u.pin", "u.user"):
        assert [v["ind"] for v in read_lake_values(s3, "lake", topic)] == list(range(10)), topic


class PoisonMessage(FakeMessage):
    """A message whose value cannot be read the first `failures` times (a client-side hiccup)."""

    failures = 1

    def value(self) -> bytes:
        if PoisonMessage.failures:
            PoisonMessage.failures -= 1
            raise RuntimeError("value unreadable")
        return super().value()


class PoisonConsumer(FakeConsumer):
    """Hands out offset 4 of u.pin as a PoisonMessage."""

    def consume(self, num_messages: int, timeout: float) -> list[FakeMessage]:
        return [
            PoisonMessage(m._topic, m._partition, m._offset, m._value) if m._offset == 4 else m
            for m in super().consume(num_messages, timeout)
        ]

    def seek(self, tp: TopicPartition) -> None:
        self.positions[(tp.topic, tp.partition)] = tp.offset


def test_an_error_while_buffering_drops_nothing_of_the_rest_of_the_batch() -> None:
    PoisonMessage.failures = 1
    consumer, s3, clock = PoisonConsumer(), FakeS3(), Clock()
    consumer.produce("u.pin", rows(0, 10))
    sink = make_sink(consumer, s3, clock)
    sink.discover(force=True)
    with contextlib.suppress(RuntimeError):
        sink.poll(max_records=10)  # offsets 0-3 buffered, 4 fails, 5-9 must not be lost
    while sink.poll(max_records=10):
        pass
    sink.flush_all()
    assert [v["ind"] for v in read_lake_values(s3, "lake", "u.pin")] == list(range(10))


def test_a_value_too_deeply_nested_for_the_json_parser_is_kept_and_the_batch_goes_on() -> None:
    consumer, s3, clock = FakeConsumer(), FakeS3(), Clock()
    deep = b"[" * 100_000 + b"]" * 100_000
    consumer.produce("u.pin", rows(0, 3))
    consumer.logs[("u.pin", 0)].append(deep)
    consumer.produce("u.pin", rows(4, 8))
    sink = make_sink(consumer, s3, clock)
    drain(sink)
    sink.flush_all()
    values = read_lake_values(s3, "lake", "u.pin")
    assert [v["ind"] for v in values if isinstance(v, dict)] == [0, 1, 2, 4, 5, 6, 7]
    assert values[3] == deep.decode()  # kept as a string, never dropped
