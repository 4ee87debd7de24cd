"""Empty the local stack's Kinesis streams: delete each stream that holds records and create it again as it was.

Why the local stack needs this: LocalStack's Kinesis engine (kinesis-mock, the `kinesis-local` npm package; the same
in 0.4.13, which LocalStack 4.9.2 pins, and in 0.6.2, the newest) spends time on every record put in proportion to
the records its shard already holds. Its PutRecords groups the request's records by `(shard, the shard's current
records)`, so each record hashes the whole vector of records already in its shard. A demo's 33,000 records into
streams that already hold one demo's records take about three times as long as into empty ones, and the third demo
five times (README, "The stream path"). Real Kinesis has no such cost, and expires records after the retention
period (24 hours); locally the streams are emptied instead, at the start of each demo's stream path.

Nothing is lost by it: `make demo` posts every event of the source database again, and the stream notebook MERGEs on
`ind`, so its tables keep one row per event. The stream's configuration is read back before the delete and given
to the new stream (mode and shard count, retention, KMS encryption and key, shard-level metrics, tags), so the
stream is the one `terraform apply` made: same name and ARN, and `terraform plan` sees no new change.

    emptied = empty_streams(kinesis, ["streaming-demo-pin", ...])   # names of the streams that held records
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

#: Polling of the stream waiters: LocalStack creates and deletes a stream in about half a second.
WAITER = {"Delay": 0.5, "MaxAttempts": 120}
#: Kinesis' default retention: a stream is created with it, and only a longer one needs a call.
DEFAULT_RETENTION_HOURS = 24


@dataclass(frozen=True)
class StreamSpec:
    """What a Kinesis stream was created with, as `DescribeStreamSummary` and `ListTagsForStream` report it."""

    name: str
    mode: str
    shards: int
    retention_hours: int
    encryption: str
    key_id: str | None
    shard_level_metrics: tuple[str, ...]
    tags: dict[str, str] = field(default_factory=dict)


def describe(kinesis: Any, name: str) -> StreamSpec:
    """The configuration of stream `name`."""
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    metrics = sorted(
        {m for item in summary.get("EnhancedMonitoring", []) for m in item.get("ShardLevelMetrics", [])}
    )
    return StreamSpec(
        name=name,
        mode=summary.get("StreamModeDetails", {}).get("StreamMode", "PROVISIONED"),
        shards=summary["OpenShardCount"],
        retention_hours=summary.get("RetentionPeriodHours", DEFAULT_RETENTION_HOURS),
        encryption=summary.get("EncryptionType", "NONE"),
        key_id=summary.get("KeyId"),
        shard_level_metrics=tuple(m for m in metrics if m != "ALL"),
        tags=_tags(kinesis, name),
    )


def _tags(kinesis: Any, name: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    start: dict[str, str] = {}
    while True:
        page = kinesis.list_tags_for_stream(StreamName=name, **start)
        tags.update({tag["Key"]: tag.get("Value", "") for tag in page.get("Tags", [])})
        if not page.get("HasMoreTags") or not page.get("Tags"):
            return tags
        start = {"ExclusiveStartTagKey": page["Tags"][-1]["Key"]}


def holds_records(kinesis: Any, name: str) -> bool:
    """True when any shard of stream `name` holds a record (one `GetRecords` of one record per shard)."""
    for shard in _shard_ids(kinesis, name):
        iterator = kinesis.get_shard_iterator(
            StreamName=name, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
        )
        if kinesis.get_records(ShardIterator=iterator["ShardIterator"], Limit=1).get("Records"):
            return True
    return False


def _shard_ids(kinesis: Any, name: str) -> list[str]:
    ids: list[str] = []
    args: dict[str, str] = {"StreamName": name}
    while True:
        page = kinesis.list_shards(**args)
        ids += [shard["ShardId"] for shard in page.get("Shards", [])]
        if not page.get("NextToken"):
            return ids
        args = {"NextToken": page["NextToken"]}


def recreate(kinesis: Any, spec: StreamSpec) -> None:
    """Delete stream `spec.name` (and its consumers) and create it again, empty, with `spec`'s configuration."""
    kinesis.delete_stream(StreamName=spec.name, EnforceConsumerDeletion=True)
    kinesis.get_waiter("stream_not_exists").wait(StreamName=spec.name, WaiterConfig=WAITER)
    create: dict[str, Any] = {"StreamName": spec.name, "StreamModeDetails": {"StreamMode": spec.mode}}
    if spec.mode == "PROVISIONED":
        create["ShardCount"] = spec.shards
    kinesis.create_stream(**create)
    kinesis.get_waiter("stream_exists").wait(StreamName=spec.name, WaiterConfig=WAITER)
    if spec.tags:
        kinesis.add_tags_to_stream(StreamName=spec.name, Tags=spec.tags)
    if spec.retention_hours > DEFAULT_RETENTION_HOURS:
        kinesis.increase_stream_retention_period(
            StreamName=spec.name, RetentionPeriodHours=spec.retention_hours
        )
        kinesis.get_waiter("stream_exists").wait(StreamName=spec.name, WaiterConfig=WAITER)
    if spec.encryption == "KMS" and spec.key_id:
        kinesis.start_stream_encryption(StreamName=spec.name, EncryptionType="KMS", KeyId=spec.key_id)
        kinesis.get_waiter("stream_exists").wait(StreamName=spec.name, WaiterConfig=WAITER)
    if spec.shard_level_metrics:
        kinesis.enable_enhanced_monitoring(
            StreamName=spec.name, ShardLevelMetrics=list(spec.shard_level_metrics)
        )


def empty_streams(kinesis: Any, names: Iterable[str]) -> list[str]:
    """Recreate, empty and as they were, those of the streams `names` that hold records; their names, in order."""
    emptied = []
    for name in names:
        if holds_records(kinesis, name):
            recreate(kinesis, describe(kinesis, name))
            emptied.append(name)
    return emptied


__all__ = ["StreamSpec", "describe", "empty_streams", "holds_records", "recreate"]
