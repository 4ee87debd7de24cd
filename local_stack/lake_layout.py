"""The data-lake layout the Confluent S3 sink writes (DESIGN 3.4), in one place for the sink, tests and readers.

`topics/<topic>/partition=<p>/<topic>+<p>+<start offset zero-padded to 10>.json`, newline-delimited JSON, one
record value per line, no envelope.
"""

from __future__ import annotations

import json
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
