"""The data-lake layout the Confluent S3 sink writes (docs/data-contracts.md 3.4), in one place for the sink,
tests and readers.

`topics/<topic>/partition=<p>/<topic>+<p>+<start offset zero-padded to 10>.json`, newline-delimited JSON, one
record value per line, no envelope.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from emulation.names import DATASETS, SOURCE_TABLES, PipelineNames
from emulation.payloads import record_value

TOPICS_DIR = "topics"


def object_key(topic: str, partition: int, start_offset: int) -> str:
    """S3 key of the object holding `topic`/`partition` records from `start_offset` on."""
    return f"{TOPICS_DIR}/{topic}/partition={partition}/{topic}+{partition}+{start_offset:010d}.json"


def encode_values(values: Iterable[Mapping[str, Any]]) -> bytes:
    """Newline-delimited JSON body of one lake object."""
    return b"".join(json.dumps(v, separators=(",", ":")).encode() + b"\n" for v in values)


def write_local_lake(
    root: str | Path,
    user_id: str,
    tables: Mapping[str, list[Mapping[str, Any]]],
    flush_size: int = 1000,
) -> dict[str, int]:
    """Write source tables (keyed by source table name) as a local directory laid out like the bucket.

    Everything lands in partition 0 with consecutive offsets, as a sink with `flush.size=flush_size` would
    write it. Returns the number of records written per topic.
    """
    names = PipelineNames(user_id)
    written: dict[str, int] = {}
    for dataset in DATASETS:
        topic = names.topic(dataset)
        rows = tables.get(SOURCE_TABLES[dataset], [])
        for start in range(0, len(rows), flush_size):
            path = Path(root) / object_key(topic, 0, start)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(encode_values(record_value(r) for r in rows[start : start + flush_size]))
        written[topic] = len(rows)
    return written


def parse_object_key(key: str) -> tuple[str, int, int] | None:
    """(topic, partition, start offset) of a lake object key, or None when the key is not one."""
    if not key.startswith(f"{TOPICS_DIR}/") or not key.endswith(".json"):
        return None
    name = key.rsplit("/", 1)[-1][: -len(".json")]
    topic, sep1, rest = name.rpartition("+")  # rest = start offset
    topic, sep2, partition = topic.rpartition("+")
    if not (sep1 and sep2 and rest.isdigit() and partition.isdigit()):
        return None
    if key != object_key(topic, int(partition), int(rest)):
        return None
    return topic, int(partition), int(rest)


def iter_lake_objects(s3_client: Any, bucket: str, topic: str) -> Iterable[tuple[str, int, int]]:
    """(key, partition, start offset) of every object of `topic` in an S3 bucket laid out as
    docs/data-contracts.md 3.4."""
    paginator = s3_client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=f"{TOPICS_DIR}/{topic}/"):
        for obj in page.get("Contents", []):
            parsed = parse_object_key(obj["Key"])
            if parsed is not None and parsed[0] == topic:
                yield obj["Key"], parsed[1], parsed[2]


def read_lake_values(s3_client: Any, bucket: str, topic: str) -> list[Any]:
    """Every record value of `topic` in the bucket, in partition and offset order."""
    values: list[Any] = []
    for key, _, _ in sorted(iter_lake_objects(s3_client, bucket, topic), key=lambda k: (k[1], k[2])):
        body = s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()
        values.extend(json.loads(line) for line in body.splitlines() if line.strip())
    return values


def lake_counts(s3_client: Any, bucket: str, user_id: str) -> dict[str, int]:
    """Records in the lake per topic of `user_id` (`<user>.pin|geo|user`), counted from the objects' lines."""
    counts: dict[str, int] = {}
    for topic in PipelineNames(user_id).topics.values():
        total = 0
        for key, _, _ in iter_lake_objects(s3_client, bucket, topic):
            body = s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()
            total += sum(1 for line in body.splitlines() if line.strip())
        counts[topic] = total
    return counts


def wait_for_lake_counts(
    s3_client: Any,
    bucket: str,
    user_id: str,
    expected: Mapping[str, int],
    timeout: float = 120.0,
    interval: float = 1.0,
) -> dict[str, int]:
    """Poll `lake_counts` until every topic in `expected` holds at least that many records, or time runs out.

    Returns the last counts (the caller compares them with `expected`; the sink's rotation interval bounds how
    long the last records of a low-traffic topic wait).
    """
    deadline = time.monotonic() + timeout
    while True:
        counts = lake_counts(s3_client, bucket, user_id)
        if all(counts.get(topic, 0) >= n for topic, n in expected.items()) or time.monotonic() >= deadline:
            return counts
        time.sleep(interval)
