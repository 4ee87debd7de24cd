"""A throw-away user of a running local stack, for the benchmarks and the integration tests: a fresh user id with
its own topics and streams, and reading back what arrived (Kafka with `assign()`, Kinesis with boto3 through
`local_stack.aws`), so measurements and tests never mix with the demo's data.

    with StackUser(stack, db_url, state_dir) as user:      # topics created; deleted again afterwards
        run_batch(user.config, ...)
        values = read_topic(stack.bootstrap_servers, user.config.names.topic("pin"), expected=100)
"""

from __future__ import annotations

import json
import tempfile
import uuid
from pathlib import Path
from types import TracebackType
from typing import Any

from emulation.config import Config
from emulation.readback import read_topic


class StackUser:
    """A unique `user_id` on the running stack, with its three topics (and, on request, its three Kinesis streams,
    `shards` shards each, one by default); `close()` deletes what it created (best effort: a leftover test topic
    harms nothing)."""

    def __init__(
        self,
        stack: Any,
        db_url: str,
        state_dir: Path,
        *,
        prefix: str = "emu",
        topics: bool = True,
        streams: bool = False,
        shards: int = 1,
        api_url: str | None = None,
        **overrides: Any,
    ) -> None:
        self.stack = stack
        values: dict[str, Any] = {
            "user_id": f"{prefix}{uuid.uuid4().hex[:10]}",
            "api_url": api_url or stack.invoke_url,
            "api_key": stack.api_key,
            "db_url": db_url,
            "state_dir": state_dir,
        }
        self.config = Config(**{**values, **overrides})
        self.topics = list(self.config.names.topics.values()) if topics else []
        self.streams = list(self.config.names.streams.values()) if streams else []
        if self.topics:
            from local_stack.rest_proxy import ensure_topics

            ensure_topics(stack.bootstrap_servers, self.topics, partitions=1)
        if self.streams:
            kinesis = self.kinesis()
            for name in self.streams:
                kinesis.create_stream(StreamName=name, ShardCount=shards)
            for name in self.streams:
                kinesis.get_waiter("stream_exists").wait(
                    StreamName=name, WaiterConfig={"Delay": 0.5, "MaxAttempts": 60}
                )

    @classmethod
    def streams_only(cls, stack: Any, *, prefix: str, shards: int = 1) -> StackUser:
        """A user with its three Kinesis streams (`shards` shards each) and nothing else: no topics, no source
        database (`sqlite://`), the system's temporary folder as state; for putting records straight into the
        streams, as the stream benchmarks do."""
        return cls(
            stack,
            "sqlite://",
            Path(tempfile.gettempdir()),
            prefix=prefix,
            topics=False,
            streams=True,
            shards=shards,
        )

    def kinesis(self) -> Any:
        """A boto3 Kinesis client of the stack's LocalStack (the project's one LocalStack factory)."""
        from local_stack.aws import localstack_client

        return localstack_client(
            "kinesis",
            endpoint_url=self.stack.localstack_url,
            region=self.stack.outputs.get("region", "us-east-1"),
        )

    def read_topic(self, dataset: str, expected: int, timeout: float = 60) -> list[dict]:
        return read_topic(self.stack.bootstrap_servers, self.config.names.topic(dataset), expected, timeout)

    def read_stream(self, dataset: str) -> list[tuple[str, dict]]:
        """(partition key, decoded Data) of every record of the dataset's stream, shard after shard, each shard in
        order."""
        kinesis = self.kinesis()
        name = self.config.names.stream(dataset)
        records: list[tuple[str, dict]] = []
        for shard in kinesis.list_shards(StreamName=name)["Shards"]:
            iterator = kinesis.get_shard_iterator(
                StreamName=name, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            while iterator:
                page = kinesis.get_records(ShardIterator=iterator, Limit=1000)
                records += [(r["PartitionKey"], json.loads(r["Data"])) for r in page["Records"]]
                if not page["Records"] and page.get("MillisBehindLatest", 0) == 0:
                    break
                iterator = page.get("NextShardIterator")
        return records

    def close(self) -> None:
        if self.topics:
            from confluent_kafka.admin import AdminClient

            admin = AdminClient({"bootstrap.servers": self.stack.bootstrap_servers})
            for future in admin.delete_topics(self.topics, operation_timeout=10).values():
                future.exception()
        if self.streams:
            kinesis = self.kinesis()
            for name in self.streams:
                kinesis.delete_stream(StreamName=name, EnforceConsumerDeletion=True)

    def __enter__(self) -> StackUser:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


__all__ = ["StackUser", "read_topic"]
