"""Read back what the emulator delivered and compare it with the source: nothing missing, how many duplicates.

Kafka topics are read with `assign()` from offset 0 (no consumer-group join, which the local broker holds for
seconds; docs/data-contracts.md 5), every partition, until the expected count arrived or the time is up, then on
until a second passes without a record (duplicates come beyond the expected count). Delivery is at-least-once,
so a retried request whose first answer was lost shows up as a duplicate, never as a gap.

    report = check_topics(stack.bootstrap_servers, config)      # {source table: Delivery}
    assert all(d.missing == 0 for d in report.values())
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from emulation.config import Config
from emulation.runner import DATASET_OF
from emulation.source_db import KEY, TABLES, SourceReader


@dataclass(frozen=True)
class Delivery:
    """One table's source rows against what arrived, counted per join-key value (`index`/`ind`)."""

    expected: int
    arrived: int
    missing: int
    duplicates: int

    @classmethod
    def of(cls, expected: Iterable[Any], arrived: Iterable[Any]) -> Delivery:
        """Compare two multisets of keys: `missing` rows of the source that never arrived, `duplicates` extra ones."""
        want, got = Counter(expected), Counter(arrived)
        return cls(
            expected=sum(want.values()),
            arrived=sum(got.values()),
            missing=sum((want - got).values()),
            duplicates=sum((got - want).values()),
        )


def read_topic(bootstrap: str, topic: str, expected: int, timeout: float = 60) -> list[dict]:
    """Every record value of `topic` (all partitions, from the start): read until `expected` arrived or `timeout`
    seconds passed, then on until a second goes by without a record."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"readback-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "fetch.message.max.bytes": 4 * 1024 * 1024,
        }
    )
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        values: list[dict] = []
        deadline = time.monotonic() + timeout
        while len(values) < expected and time.monotonic() < deadline:
            values += _values(consumer.consume(500, 0.5))
        while more := consumer.consume(500, 1.0):  # the rest: duplicates, or records beyond `expected`
            values += _values(more)
        return values
    finally:
        consumer.close()


def _values(messages: list[Any]) -> list[dict]:
    return [json.loads(m.value()) for m in messages if m.error() is None]


def source_keys(db_url: str) -> dict[str, list[Any]]:
    """The join-key value of every source row, per source table (duplicate events included)."""
    with SourceReader(db_url) as reader:
        return {t: [row[KEY[t]] for page in reader.pages(t) for row in page] for t in TABLES}


def check_topics(bootstrap: str, config: Config, timeout: float = 60) -> dict[str, Delivery]:
    """Each source table of `config.db_url` against the topic of `config.user_id` it was posted to."""
    keys = source_keys(config.db_url)
    report: dict[str, Delivery] = {}
    for table, expected in keys.items():
        values = read_topic(bootstrap, config.names.topic(DATASET_OF[table]), len(expected), timeout)
        report[table] = Delivery.of(expected, (v.get(KEY[table]) for v in values))
    return report
