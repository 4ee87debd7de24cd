"""The S3 sink's own logic (flush.size, rotation, commit after write, resume, redelivery) on in-memory fakes.

The real sink against real Tansu and LocalStack S3 is covered by test_stack_integration.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from confluent_kafka import TopicPartition

from local_stack.lake_layout import lake_counts, object_key, parse_object_key, read_lake_values
from local_stack.s3_sink import END_OFFSET_METADATA, S3Sink, backoff_delays, decode_value, main, parse_args


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


def test_values_that_are_not_json_are_kept_as_strings() -> None:
    assert decode_value(b'{"a": 1}') == {"a": 1}
    assert decode_value(b"not json") == "not json"
    assert decode_value(None) is None


def test_parse_object_key_round_trips_and_rejects_other_keys() -> None:
    assert parse_object_key(object_key("u.pin", 2, 42)) == ("u.pin", 2, 42)
    assert parse_object_key("topics/u.pin/partition=0/notes.txt") is None
    assert parse_object_key("topics/u.pin/partition=1/u.pin+0+0000000000.json") is None


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    delays = backoff_delays(base=1.0, cap=8.0)
    samples = [next(delays) for _ in range(8)]
    assert all(0 <= d <= min(8.0, 2**i) for i, d in enumerate(samples))


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
