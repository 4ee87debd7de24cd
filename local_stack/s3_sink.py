"""The MSK Connect S3 sink stand-in: consume `<user_id>.*` topics and write the lake layout (docs/data-contracts.md 3.4).

Behaviour (what the Confluent S3 sink with `flush.size` and `rotate.schedule.interval.ms` does):

- topics matching `--topics-regex` (full match) are discovered by listing metadata every few seconds;
  partitions are taken with `assign()` (no consumer-group join: Tansu holds a join for half the session timeout);
  a partition is recorded only once it is assigned, so one whose resume point cannot be read yet (S3 down) is
  simply tried again at the next discovery;
- one object per `flush.size` records per partition, plus a wall-clock rotation so low-traffic partitions still
  flush; the object key comes from `lake_layout.object_key` (start offset), the body is one JSON value per line;
- offsets are committed to the consumer group only after the object is written. On start, each partition
  resumes from the larger of the committed offset and the end of the lake's last object for it (its
  `end-offset` metadata), so a crash between write and commit neither loses nor duplicates records; records
  below the resume point that the broker hands out again are skipped;
- a record that cannot be buffered (an unexpected client error) rewinds its partition to that record, so nothing
  after it in the same batch is skipped; a value that is not JSON (or too deeply nested to parse) is kept as a
  string;
- SIGTERM/SIGINT flush every buffer (`flush_all`) before exit; a status file (`--status-file`) reports
  liveness and per-partition progress for the supervisor;
- every wait between attempts (S3 or broker errors, the final flush, reaching S3 at start) is the project's one
  retry policy, `emulation.retry.RetryPolicy`.

Run `python -m local_stack.s3_sink --help`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emulation.retry import RetryPolicy
from local_stack.lake_layout import encode_values, iter_lake_objects, object_key

log = logging.getLogger("s3_sink")

END_OFFSET_METADATA = "end-offset"  # S3 user metadata: offset after the object's last record
STATUS_MAX_AGE_S = 15.0
#: Waits of the worker loop after an S3 or broker error (no limit: the worker keeps its buffers and retries).
LOOP_RETRY = RetryPolicy(attempts=None, base=0.5, cap=15.0)
#: Waits between tries of the final flush on SIGTERM, bounded by `final_flush_timeout`.
FINAL_FLUSH_RETRY = RetryPolicy(attempts=None, base=0.5, cap=2.0)
#: Waits while S3 does not answer at start, bounded by `--connect-timeout`.
CONNECT_RETRY = RetryPolicy(attempts=None, base=0.5, cap=4.0)


@dataclass
class PartitionState:
    """Records buffered for one topic-partition, and how far it has been consumed and written."""

    topic: str
    partition: int
    next_offset: int  # the next offset to accept (everything below is buffered or written)
    written_offset: int  # everything below is in the lake
    records: list[tuple[int, Any]] = field(default_factory=list)
    first_buffered_at: float | None = None


def decode_value(raw: bytes | None) -> Any:
    """A record value as the JSON it carries; a value that is not JSON, or that the parser cannot take (nested
    deeper than its recursion limit), is kept as a string (never dropped)."""
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        log.warning(
            "record value is not JSON the parser can read (%s); writing it as a JSON string",
            type(exc).__name__,
        )
        return raw.decode(errors="replace")


class S3Sink:
    """The sink's logic over a Kafka consumer (confluent-kafka API) and an S3 client (boto3 API)."""

    def __init__(
        self,
        consumer: Any,
        s3: Any,
        bucket: str,
        topics_regex: str,
        flush_size: int,
        rotate_interval_ms: int,
        discover_interval_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        max_buffered: int | None = None,
    ) -> None:
        if flush_size < 1:
            raise ValueError("flush size must be at least 1")
        if rotate_interval_ms < 1:
            raise ValueError("rotate interval must be at least 1 ms")
        self.consumer = consumer
        self.s3 = s3
        self.bucket = bucket
        self.pattern = re.compile(topics_regex)
        self.flush_size = flush_size
        self.rotate_interval_s = rotate_interval_ms / 1000
        self.discover_interval_s = discover_interval_s
        self.clock = clock
        self.partitions: dict[tuple[str, int], PartitionState] = {}
        # Back-pressure: a partition that buffers this many records (S3 down, say) is paused until it drains.
        self.max_buffered = max_buffered or max(5 * flush_size, 10_000)
        self.paused: set[tuple[str, int]] = set()
        self.objects_written = 0
        self.records_written = 0
        self._last_discovery = float("-inf")

    # --- discovery and resume ------------------------------------------------------------------------
    def discover(self, force: bool = False) -> list[tuple[str, int]]:
        """Assign partitions of newly matching topics, each from its resume offset. Returns the new ones."""
        now = self.clock()
        if not force and now - self._last_discovery < self.discover_interval_s:
            return []
        metadata = self.consumer.list_topics(timeout=10)
        self._last_discovery = now
        new = sorted(
            (topic, partition)
            for topic, meta in metadata.topics.items()
            if not topic.startswith("__") and self.pattern.fullmatch(topic) and not meta.error
            for partition in meta.partitions
            if (topic, partition) not in self.partitions
        )
        if not new:
            return []
        from confluent_kafka import TopicPartition

        committed = {
            (tp.topic, tp.partition): tp.offset
            for tp in self.consumer.committed([TopicPartition(t, p) for t, p in new], timeout=10)
        }
        states: list[PartitionState] = []
        failure: Exception | None = None
        for topic, partition in new:
            try:
                start = max(committed.get((topic, partition), -1), self.lake_end_offset(topic, partition), 0)
            except Exception as exc:  # not recorded: the next discovery tries this partition again
                log.warning("cannot read where %s[%d] resumes (%s); retrying", topic, partition, exc)
                failure = failure or exc
                continue
            states.append(PartitionState(topic, partition, start, start))
        if states:
            # Recorded only once assigned: a partition known but never assigned would never be consumed.
            self.consumer.incremental_assign(
                [TopicPartition(s.topic, s.partition, s.next_offset) for s in states]
            )
            for state in states:
                self.partitions[(state.topic, state.partition)] = state
                log.info("assigned %s[%d] from offset %d", state.topic, state.partition, state.next_offset)
        if failure is not None:
            raise failure  # the worker loop backs off; the partitions assigned above are consumed meanwhile
        return [(s.topic, s.partition) for s in states]

    def lake_end_offset(self, topic: str, partition: int) -> int:
        """Offset after the last record the lake holds for this partition (0 when it holds none)."""
        objects = [
            (start, key) for key, p, start in iter_lake_objects(self.s3, self.bucket, topic) if p == partition
        ]
        last_start, last_key = max(objects, default=(-1, None))
        if last_key is None:
            return 0
        head = self.s3.head_object(Bucket=self.bucket, Key=last_key)
        end = head.get("Metadata", {}).get(END_OFFSET_METADATA)
        if end is not None and end.isdigit():
            return int(end)
        body = self.s3.get_object(Bucket=self.bucket, Key=last_key)["Body"].read()
        return last_start + body.count(b"\n")

    # --- consuming and flushing ----------------------------------------------------------------------
    def add(self, topic: str, partition: int, offset: int, value: bytes | None) -> bool:
        """Buffer one record; a record below the partition's position (a redelivery) is skipped."""
        state = self.partitions.get((topic, partition))
        if state is None or offset < state.next_offset:
            return False
        if not state.records:
            state.first_buffered_at = self.clock()
        state.records.append((offset, decode_value(value)))
        state.next_offset = offset + 1
        return True

    def poll(self, timeout: float = 0.2, max_records: int = 1000) -> int:
        """Consume what the broker has (up to max_records); returns the number of records buffered."""
        from confluent_kafka import KafkaError

        buffered = 0
        failed: dict[tuple[str, int], tuple[int, Exception]] = {}
        for message in self.consumer.consume(num_messages=max_records, timeout=timeout):
            error = message.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    log.warning("consumer error: %s", error)
                continue
            key = (message.topic(), message.partition())
            if key in failed:  # read again after the rewind below, in order
                continue
            try:
                buffered += self.add(key[0], key[1], message.offset(), message.value())
            except Exception as exc:
                failed[key] = (message.offset(), exc)
        for (topic, partition), (offset, exc) in failed.items():
            self._rewind(topic, partition, offset)
            log.warning("could not buffer %s[%d]@%d (%s); reading it again", topic, partition, offset, exc)
        self._backpressure()
        if failed:
            raise next(iter(failed.values()))[1]
        return buffered

    def _rewind(self, topic: str, partition: int, offset: int) -> None:
        """Make the consumer hand out `offset` (and what follows) again."""
        from confluent_kafka import KafkaException, TopicPartition

        try:
            self.consumer.seek(TopicPartition(topic, partition, offset))
        except KafkaException:  # not fetching yet: assign again at the offset
            self.consumer.incremental_unassign([TopicPartition(topic, partition)])
            self.consumer.incremental_assign([TopicPartition(topic, partition, offset)])

    def _backpressure(self) -> None:
        """Pause partitions whose buffer is full, resume those that drained (the position is kept)."""
        from confluent_kafka import TopicPartition

        full = {k for k, s in self.partitions.items() if len(s.records) >= self.max_buffered}
        pause, resume = full - self.paused, self.paused - full
        if pause:
            self.consumer.pause([TopicPartition(t, p) for t, p in sorted(pause)])
            log.warning(
                "paused %s: %d records buffered and not yet written", sorted(pause), self.max_buffered
            )
        if resume:
            self.consumer.resume([TopicPartition(t, p) for t, p in sorted(resume)])
            log.info("resumed %s", sorted(resume))
        self.paused = full

    def flush_due(self) -> int:
        """Write every full object, and rotate partitions whose oldest buffered record is old enough."""
        written = 0
        now = self.clock()
        for state in self.partitions.values():
            while len(state.records) >= self.flush_size:
                written += self._write(state, self.flush_size)
            if state.records and now - (state.first_buffered_at or now) >= self.rotate_interval_s:
                written += self._write(state, len(state.records))
        self._backpressure()
        return written

    def flush_all(self) -> int:
        """Write everything buffered (full objects first, then the remainders). Returns objects written."""
        written = 0
        for state in self.partitions.values():
            while state.records:
                written += self._write(state, min(self.flush_size, len(state.records)))
        return written

    def _write(self, state: PartitionState, count: int) -> int:
        batch = state.records[:count]
        start, end = batch[0][0], batch[-1][0] + 1
        key = object_key(state.topic, state.partition, start)
        self.s3.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=encode_values(value for _, value in batch),
            ContentType="application/json",
            Metadata={END_OFFSET_METADATA: str(end), "records": str(len(batch))},
        )
        del state.records[:count]
        state.first_buffered_at = self.clock() if state.records else None
        state.written_offset = end
        self.objects_written += 1
        self.records_written += len(batch)
        log.info("wrote s3://%s/%s (%d records)", self.bucket, key, len(batch))
        self._commit(state)
        return 1

    def _commit(self, state: PartitionState) -> None:
        from confluent_kafka import KafkaException, TopicPartition

        try:
            self.consumer.commit(
                offsets=[TopicPartition(state.topic, state.partition, state.written_offset)],
                asynchronous=False,
            )
        except KafkaException as exc:  # the lake is written; a restart resumes from its end-offset
            log.warning(
                "commit of %s[%d]@%d failed: %s", state.topic, state.partition, state.written_offset, exc
            )

    # --- status --------------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "updated_at": time.time(),
            "bucket": self.bucket,
            "objects_written": self.objects_written,
            "records_written": self.records_written,
            "partitions": {
                f"{s.topic}[{s.partition}]": {
                    "position": s.next_offset,
                    "written": s.written_offset,
                    "buffered": len(s.records),
                }
                for s in self.partitions.values()
            },
        }


def write_status(path: Path, status: dict[str, Any]) -> None:
    """Atomically replace the status file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(status, indent=1))
    tmp.replace(path)


def read_status(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def status_is_fresh(path: Path, max_age: float = STATUS_MAX_AGE_S) -> bool:
    """True when the sink wrote its status file recently (it does so every loop once it is connected)."""
    status = read_status(path)
    return bool(status) and time.time() - float(status.get("updated_at", 0)) <= max_age


# --- process -----------------------------------------------------------------------------------------
def make_consumer(bootstrap_servers: str, group_id: str) -> Any:
    from confluent_kafka import Consumer

    return Consumer(
        {
            "bootstrap.servers": bootstrap_servers,
            "group.id": group_id,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            # A reset can only re-read: records below a partition's position are skipped, never duplicated.
            "auto.offset.reset": "earliest",
            "enable.partition.eof": False,
            "session.timeout.ms": 6000,
            "reconnect.backoff.max.ms": 2000,
        }
    )


def make_s3(endpoint_url: str | None, region: str, credentials: Mapping[str, str] | None = None) -> Any:
    """A boto3 S3 client (path-style, retries): LocalStack's through `local_stack.aws` when `endpoint_url` is a local
    one, else real AWS; credentials from the environment unless given."""
    from botocore.config import Config

    from local_stack.aws import is_local_endpoint, localstack_client

    creds = credentials or {}
    config = Config(retries={"max_attempts": 5, "mode": "standard"}, s3={"addressing_style": "path"})
    if endpoint_url and is_local_endpoint(endpoint_url):
        return localstack_client(
            "s3",
            endpoint_url=endpoint_url,
            region=region,
            access_key=creds.get("AWS_ACCESS_KEY_ID") or os.environ.get("AWS_ACCESS_KEY_ID"),
            secret_key=creds.get("AWS_SECRET_ACCESS_KEY") or os.environ.get("AWS_SECRET_ACCESS_KEY"),
            config=config,
        )
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=creds.get("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=creds.get("AWS_SECRET_ACCESS_KEY"),
        config=config,
    )


def run(
    sink: S3Sink, status_file: Path | None, should_stop: Callable[[], bool], final_flush_timeout: float = 10.0
) -> None:
    """The worker loop: discover, poll, flush; on stop, flush everything. S3/broker errors back off and retry."""
    delays = LOOP_RETRY.delays()
    last_status = 0.0
    while not should_stop():
        try:
            sink.discover()
            sink.poll()
            sink.flush_due()
            delays = LOOP_RETRY.delays()
        except Exception as exc:  # keep buffers, retry after a backoff; nothing is committed unwritten
            delay = next(delays)
            log.warning("sink loop error (%s: %s); retrying in %.1fs", type(exc).__name__, exc, delay)
            time.sleep(delay)
            continue
        if status_file is not None and time.monotonic() - last_status >= 0.5:
            write_status(status_file, sink.status())
            last_status = time.monotonic()

    def retrying(retry: int, exc: BaseException, delay: float) -> None:
        log.warning("final flush failed (%s); retrying in %.1fs", exc, delay)

    try:
        FINAL_FLUSH_RETRY.call(sink.flush_all, deadline=final_flush_timeout, on_retry=retrying)
    except Exception as exc:
        log.error("final flush failed (%s); unwritten records will be re-read on restart", exc)
    if status_file is not None:
        write_status(status_file, sink.status() | {"stopped": True, "updated_at": 0})


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m local_stack.s3_sink",
        description=(
            "S3 sink worker (the MSK Connect Confluent S3 sink stand-in): consumes every topic matching "
            "--topics-regex and writes topics/<topic>/partition=<p>/<topic>+<p>+<start offset>.json objects, "
            "one JSON value per line, committing offsets only after each object is written."
        ),
    )
    parser.add_argument(
        "--bootstrap-servers", required=True, help="Kafka bootstrap servers, e.g. 127.0.0.1:9092"
    )
    parser.add_argument("--topics-regex", required=True, help=r"topics to sink (full match), e.g. 'demo\..*'")
    parser.add_argument("--bucket", required=True, help="destination bucket (must exist)")
    parser.add_argument(
        "--endpoint-url", default=None, help="S3 endpoint, e.g. http://127.0.0.1:4566 (LocalStack)"
    )
    parser.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    parser.add_argument("--flush-size", type=int, default=1000, help="records per object (flush.size)")
    parser.add_argument(
        "--rotate-interval-ms",
        type=int,
        default=3000,
        help="write a partition's buffer once its oldest record waited this long (rotate.schedule.interval.ms)",
    )
    parser.add_argument(
        "--group-id", default="connect-s3-sink", help="consumer group the offsets are committed to"
    )
    parser.add_argument(
        "--status-file", type=Path, default=None, help="JSON status file refreshed every loop"
    )
    parser.add_argument(
        "--discover-interval-ms", type=int, default=2000, help="how often to look for new topics"
    )
    parser.add_argument(
        "--connect-timeout",
        type=float,
        default=30.0,
        help="seconds to keep retrying an unreachable S3 at start",
    )
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    args = parser.parse_args(argv)
    if args.flush_size < 1:
        parser.error("--flush-size must be at least 1")
    if args.rotate_interval_ms < 1:
        parser.error("--rotate-interval-ms must be at least 1")
    try:
        re.compile(args.topics_regex)
    except re.error as exc:
        parser.error(f"--topics-regex {args.topics_regex!r} is not a valid regular expression: {exc}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from botocore.exceptions import BotoCoreError, ClientError

    s3 = make_s3(args.endpoint_url, args.region)
    try:
        CONNECT_RETRY.call(
            lambda: s3.head_bucket(Bucket=args.bucket),
            retry_on=(BotoCoreError,),
            deadline=args.connect_timeout,
        )
    except ClientError as exc:
        print(
            f"s3-sink: bucket {args.bucket!r} is not reachable at {args.endpoint_url or 'AWS'} "
            f"({exc.response.get('Error', {}).get('Code')}); create it first (terraform apply of envs/local)",
            file=sys.stderr,
        )
        return 2
    except BotoCoreError as exc:
        print(f"s3-sink: cannot reach S3 at {args.endpoint_url}: {exc}", file=sys.stderr)
        return 2
    sink = S3Sink(
        make_consumer(args.bootstrap_servers, args.group_id),
        s3,
        args.bucket,
        args.topics_regex,
        args.flush_size,
        args.rotate_interval_ms,
        discover_interval_s=args.discover_interval_ms / 1000,
    )
    stopping: list[int] = []

    def on_signal(signum: int, _frame: Any) -> None:
        stopping.append(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log.info("sinking /%s/ from %s to s3://%s", args.topics_regex, args.bootstrap_servers, args.bucket)
    try:
        run(sink, args.status_file, lambda: bool(stopping))
    finally:
        sink.consumer.close()
    log.info("stopped: %d objects, %d records written", sink.objects_written, sink.records_written)
    return 0


if __name__ == "__main__":
    sys.exit(main())
