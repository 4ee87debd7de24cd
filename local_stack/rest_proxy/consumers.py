"""The Kafka side of the consumer API (Confluent REST Proxy v2): consumer instances, each one real member of a
real consumer group on the broker (a `confluent-kafka` consumer with the group's `group.id`, so a plain client
of the same group shares the partitions with it), and the manager that names them, finds them and deletes the
idle ones (`consumer.instance.timeout.ms`).

Every method is blocking and thread-safe (one lock per instance): the HTTP side runs them on worker threads.
Errors are `ProxyError`s with Confluent's codes: 404/40403 unknown instance, 409/40902 a name in use, 409/40903
an illegal state (a second kind of subscription, a seek on a partition not assigned, a read with nothing to
read), 406/40601 a records read whose Accept does not match the instance's format, 422/42204 an invalid
configuration, 500/50002-50003 broker errors.

What differs from Confluent's proxy (which runs the Java client): records a read fetched beyond `max_bytes`
stay buffered in the instance for the next read (the Java client keeps them in its own fetch buffer), and the
group's session timeout is short (6 s by default) because Tansu holds a join for about half of it.
"""

from __future__ import annotations

import base64
import logging
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import orjson
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)

from local_stack.rest_proxy.contract import (
    CONSUMER_ALREADY_EXISTS,
    CONSUMER_NOT_FOUND,
    DEFAULT_CONSUMER_INSTANCE_TIMEOUT_MS,
    DEFAULT_CONSUMER_REQUEST_TIMEOUT_MS,
    DEFAULT_CONSUMER_SESSION_TIMEOUT_MS,
    ILLEGAL_STATE,
    INVALID_CONSUMER_CONFIG,
    KAFKA_ERROR,
    ProxyError,
    kafka_failure,
)
from local_stack.rest_proxy.producer import librdkafka_logger

log = logging.getLogger("rest_proxy.consumers")

FORMATS = ("binary", "json")
OFFSET_RESETS = {"earliest": "earliest", "smallest": "earliest", "latest": "latest", "largest": "latest"}
#: Confluent's default and cap of one read's response size (consumer.request.max.bytes).
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
#: Messages fetched from librdkafka per consume() call of a read.
CONSUME_BATCH = 1000
_NAME = re.compile(r"[A-Za-z0-9._-]{1,255}")

TP = tuple[str, int]


@dataclass(frozen=True)
class InstanceConfig:
    """The body of `POST /consumers/{group}`, validated."""

    name: str
    format: str = "binary"
    auto_offset_reset: str = "latest"
    auto_commit: bool = True
    fetch_min_bytes: int = -1
    request_timeout_ms: int = DEFAULT_CONSUMER_REQUEST_TIMEOUT_MS

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> InstanceConfig:
        known = {
            "name",
            "format",
            "auto.offset.reset",
            "auto.commit.enable",
            "fetch.min.bytes",
            "consumer.request.timeout.ms",
            "id",  # v1's name of `name`, still read by Confluent's v2 config
        }
        unknown = sorted(set(body) - known)
        if unknown:
            raise _invalid(f"unrecognized field {unknown[0]!r}")
        name = body.get("name") or body.get("id") or f"rest-consumer-{uuid.uuid4()}"
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise _invalid("name must be 1 to 255 characters of a-z, A-Z, 0-9, '.', '_', '-'")
        fmt = body.get("format") or "binary"
        if fmt not in FORMATS:
            raise _invalid(f"format {fmt!r} is not supported here (json or binary)")
        reset = body.get("auto.offset.reset") or "latest"
        if reset not in OFFSET_RESETS:
            raise _invalid(f"auto.offset.reset {reset!r} must be earliest or latest")
        commit = body.get("auto.commit.enable")
        if commit is None:
            auto_commit = True
        elif str(commit).lower() in ("true", "false"):
            auto_commit = str(commit).lower() == "true"
        else:
            raise _invalid(f"auto.commit.enable {commit!r} must be true or false")
        return cls(
            name=name,
            format=fmt,
            auto_offset_reset=OFFSET_RESETS[reset],
            auto_commit=auto_commit,
            fetch_min_bytes=_int_option(body, "fetch.min.bytes", -1),
            request_timeout_ms=_int_option(
                body, "consumer.request.timeout.ms", DEFAULT_CONSUMER_REQUEST_TIMEOUT_MS
            ),
        )


def _int_option(body: dict[str, Any], name: str, default: int) -> int:
    value = body.get(name)
    if value is None:
        return default
    try:
        number = int(str(value))
    except ValueError:
        raise _invalid(f"{name} {value!r} must be an integer") from None
    if number < -1:
        raise _invalid(f"{name} {value!r} must be -1 or more")
    return number


def _invalid(reason: str) -> ProxyError:
    return ProxyError(
        HTTPStatus.UNPROCESSABLE_ENTITY, INVALID_CONSUMER_CONFIG, f"Invalid consumer configuration: {reason}"
    )


def _illegal(reason: str) -> ProxyError:
    return ProxyError(HTTPStatus.CONFLICT, ILLEGAL_STATE, f"Illegal state: {reason}")


MUTUALLY_EXCLUSIVE = "Subscription to topics, partitions and pattern are mutually exclusive"


@dataclass
class ConsumerInstance:
    """One consumer instance: a group member, what it has returned so far, and the records fetched ahead."""

    group: str
    config: InstanceConfig
    consumer: Consumer
    bootstrap_servers: str
    last_used: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)
    mode: str | None = None  # "topics", "pattern" or "assigned"
    topics: list[str] = field(default_factory=list)
    returned: dict[TP, int] = field(default_factory=dict)  # next offset after the last record returned
    buffered: deque[Message] = field(default_factory=deque)
    pending_seeks: dict[TP, int] = field(default_factory=dict)
    assigned: set[TP] = field(default_factory=set)
    closed: bool = False

    @property
    def name(self) -> str:
        return self.config.name

    # subscription -------------------------------------------------------------------------------------
    def subscribe(self, topics: list[str] | None, pattern: str | None) -> None:
        kind = "pattern" if pattern is not None else "topics"
        if self.mode not in (None, kind):
            raise _illegal(MUTUALLY_EXCLUSIVE)
        wanted = (
            [f"^{pattern}" if not pattern.startswith("^") else pattern] if pattern is not None else topics
        )
        assert wanted is not None
        if not wanted:  # an empty list unsubscribes, as the Java client's subscribe([])
            self.unsubscribe()
            return
        self._call(
            lambda: self.consumer.subscribe(wanted, on_assign=self._on_assign, on_revoke=self._on_revoke)
        )
        self.mode, self.topics = kind, list(wanted)

    def subscription(self) -> list[str]:
        if self.mode == "pattern":
            return sorted({t for t, _ in self.assigned})
        return list(self.topics) if self.mode == "topics" else []

    def unsubscribe(self) -> None:
        if self.mode in ("topics", "pattern"):
            self._call(self.consumer.unsubscribe)
        elif self.mode == "assigned":
            self._call(self.consumer.unassign)
        self.mode, self.topics = None, []
        self.assigned.clear()
        self.buffered.clear()

    def assign(self, partitions: list[TP]) -> None:
        if self.mode in ("topics", "pattern"):
            raise _illegal(MUTUALLY_EXCLUSIVE)
        self._call(lambda: self.consumer.assign([TopicPartition(t, p) for t, p in partitions]))
        self.mode = "assigned" if partitions else None
        self.assigned = set(partitions)
        self.buffered = deque(m for m in self.buffered if (m.topic(), m.partition()) in self.assigned)

    def assignment(self) -> list[TP]:
        return sorted(self.assigned)

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            seek = self.pending_seeks.pop((tp.topic, tp.partition), None)
            if seek is not None:
                tp.offset = seek
        consumer.assign(partitions)
        self.assigned = {(tp.topic, tp.partition) for tp in partitions}

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        revoked = {(tp.topic, tp.partition) for tp in partitions}
        self.buffered = deque(m for m in self.buffered if (m.topic(), m.partition()) not in revoked)
        if self.config.auto_commit:
            try:
                self._commit_returned(revoked)
            except ProxyError as exc:  # the next owner reads those records again (at least once)
                log.info("%s/%s: commit at revocation failed: %s", self.group, self.name, exc.message)
        for tp in revoked:  # the next owner's progress is its own: never commit these again from here
            self.returned.pop(tp, None)
        consumer.unassign()
        self.assigned -= revoked

    # positions ----------------------------------------------------------------------------------------
    def seek(self, offsets: list[tuple[str, int, int]]) -> None:
        for topic, partition, _offset in offsets:
            if (topic, partition) not in self.assigned:
                raise _illegal(f"No current assignment for partition {topic}-{partition}")
        for topic, partition, offset in offsets:
            self._seek_to(topic, partition, offset)

    def seek_to(self, partitions: list[TP], where: str) -> None:
        for topic, partition in partitions:
            if (topic, partition) not in self.assigned:
                raise _illegal(f"No current assignment for partition {topic}-{partition}")
        for topic, partition in partitions:
            self._seek_to(
                topic, partition, self._end(topic, partition) if where == "end" else OFFSET_BEGINNING
            )

    def _end(self, topic: str, partition: int) -> int:
        """The partition's end: the high watermark the broker reports, then read forward from there, because
        Tansu reports too low a watermark after a multi-record batch (docs/data-contracts.md 5)."""
        try:
            _, high = self.consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=5)
        except KafkaException as exc:
            raise kafka_failure(exc.args[0], "end offset") from None
        return scan_end(self.bootstrap_servers, topic, partition, max(high, 0))

    def _seek_to(self, topic: str, partition: int, offset: int) -> None:
        self.buffered = deque(m for m in self.buffered if (m.topic(), m.partition()) != (topic, partition))
        self.returned.pop((topic, partition), None)
        try:
            self.consumer.seek(TopicPartition(topic, partition, offset))
        except KafkaException:  # not fetching yet (the assignment has just arrived): start there instead
            others = [TopicPartition(t, p) for t, p in self.assigned if (t, p) != (topic, partition)]
            self._call(lambda: self.consumer.assign([TopicPartition(topic, partition, offset), *others]))

    # records ------------------------------------------------------------------------------------------
    def read(self, timeout_ms: int | None, max_bytes: int | None) -> list[dict[str, Any]]:
        """Confluent's read: records until the timeout (the instance's `consumer.request.timeout.ms` unless
        given), or until `max_bytes` or `fetch.min.bytes` are reached."""
        if self.mode is None:
            raise _illegal("Consumer is not subscribed to any topics or assigned any partitions")
        timeout = self.config.request_timeout_ms if timeout_ms is None or timeout_ms < 0 else timeout_ms
        limit = (
            MAX_RESPONSE_BYTES if max_bytes is None or max_bytes <= 0 else min(max_bytes, MAX_RESPONSE_BYTES)
        )
        min_bytes = self.config.fetch_min_bytes
        deadline = time.monotonic() + timeout / 1000
        out: list[dict[str, Any]] = []
        size = 0
        while True:
            while self.buffered:
                message = self.buffered[0]
                length = len(message.value() or b"") + len(message.key() or b"")
                if out and size + length > limit:
                    return self._returned(out)
                try:
                    out.append(self._record(message))
                except ProxyError:  # a record it cannot decode stays first: what came before it is answered
                    if out:
                        return self._returned(out)
                    raise
                self.buffered.popleft()
                size += length
            if size >= limit or (min_bytes > 0 and size >= min_bytes):
                return self._returned(out)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return self._returned(out)
            try:
                messages = self.consumer.consume(CONSUME_BATCH, timeout=min(remaining, 0.5))
            except KafkaException as exc:
                raise kafka_failure(exc.args[0], "records read") from None
            for message in messages:
                error = message.error()
                if error is None:
                    self.buffered.append(message)
                elif error.code() != KafkaError._PARTITION_EOF:
                    log.info("%s/%s: %s", self.group, self.name, error.str())

    def _record(self, message: Message) -> dict[str, Any]:
        where = f"{message.topic()}-{message.partition()} offset {message.offset()}"
        entry = {
            "topic": message.topic(),
            "key": self._decode(message.key(), where),
            "value": self._decode(message.value(), where),
            "partition": message.partition(),
            "offset": message.offset(),
        }
        self.returned[(message.topic(), message.partition())] = message.offset() + 1
        return entry

    def _decode(self, data: bytes | None, where: str) -> Any:
        if data is None:
            return None
        if self.config.format == "binary":
            return base64.b64encode(data).decode("ascii")
        try:
            return orjson.loads(data)
        except (
            orjson.JSONDecodeError
        ) as exc:  # as Confluent's json consumer: an error until the client seeks past
            raise ProxyError(
                HTTPStatus.INTERNAL_SERVER_ERROR,
                KAFKA_ERROR,
                f"Kafka error: the record at {where} is not JSON ({exc}); read it with format binary, or seek past it",
            ) from None

    def _returned(self, out: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if out and self.config.auto_commit:
            offsets = [
                TopicPartition(t, p, o) for (t, p), o in self.returned.items() if (t, p) in self.assigned
            ]
            if offsets:
                try:
                    self.consumer.store_offsets(offsets=offsets)
                except KafkaException as exc:  # a partition revoked meanwhile: the next owner reads it again
                    log.info("%s/%s: offsets not stored: %s", self.group, self.name, exc.args[0].str())
        return out

    # offsets ------------------------------------------------------------------------------------------
    def commit(self, offsets: list[tuple[str, int, int]] | None) -> None:
        """Commit the given offsets (each the last record processed, so `offset + 1` is stored, as Confluent's
        proxy does), or, without any, every record returned so far."""
        if offsets is None:
            self._commit_returned(set(self.assigned))
            return
        partitions = [TopicPartition(t, p, o + 1) for t, p, o in offsets]
        if partitions:
            self._call(lambda: self.consumer.commit(offsets=partitions, asynchronous=False))

    def _commit_returned(self, only: set[TP]) -> None:
        partitions = [TopicPartition(t, p, o) for (t, p), o in self.returned.items() if (t, p) in only]
        if partitions:
            self._call(lambda: self.consumer.commit(offsets=partitions, asynchronous=False))

    def committed(self, partitions: list[TP]) -> list[dict[str, Any]]:
        result = self._call(
            lambda: self.consumer.committed([TopicPartition(t, p) for t, p in partitions], timeout=10)
        )
        return [
            {"topic": tp.topic, "partition": tp.partition, "offset": tp.offset, "metadata": tp.metadata or ""}
            for tp in result
            if tp.offset >= 0  # none committed yet: left out, as Confluent's proxy does
        ]

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                self.consumer.close()  # leaves the group (auto commit, if on, commits what was stored)
            except (KafkaException, RuntimeError) as exc:
                log.info("%s/%s: close: %s", self.group, self.name, exc)

    @staticmethod
    def _call(action: Callable[[], Any]) -> Any:
        try:
            return action()
        except KafkaException as exc:
            raise kafka_failure(exc.args[0], "consumer call") from None


def scan_end(bootstrap_servers: str, topic: str, partition: int, start: int, quiet: float = 0.3) -> int:
    """The offset after the last record of a partition, read forward from `start` (a reported watermark) with
    a short-lived consumer outside any group, until the broker has nothing more for `quiet` seconds."""
    probe = Consumer(
        {
            "bootstrap.servers": bootstrap_servers,
            "group.id": "rest-proxy-end-probe",
            "enable.auto.commit": False,
            "fetch.wait.max.ms": 50,
            "logger": librdkafka_logger(),
        }
    )
    end = start
    deadline = time.monotonic() + 10
    try:
        probe.assign([TopicPartition(topic, partition, start)])
        while time.monotonic() < deadline:
            messages = probe.consume(CONSUME_BATCH, timeout=quiet)
            if not messages:
                break
            end = max([end, *(m.offset() + 1 for m in messages if m.error() is None)])
    finally:
        probe.close()
    return end


class ConsumerManager:
    """The instances of every group, by (group, name); idle ones are deleted by `expire()`."""

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        instance_timeout_ms: int = DEFAULT_CONSUMER_INSTANCE_TIMEOUT_MS,
        session_timeout_ms: int = DEFAULT_CONSUMER_SESSION_TIMEOUT_MS,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.instance_timeout_s = instance_timeout_ms / 1000
        self.session_timeout_ms = session_timeout_ms
        self._instances: dict[tuple[str, str], ConsumerInstance] = {}
        self._lock = threading.Lock()

    def create(self, group: str, config: InstanceConfig) -> ConsumerInstance:
        with self._lock:
            if (group, config.name) in self._instances:
                raise ProxyError(
                    HTTPStatus.CONFLICT,
                    CONSUMER_ALREADY_EXISTS,
                    "Consumer with specified consumer ID already exists in the specified consumer group.",
                )
            consumer = Consumer(
                {
                    "bootstrap.servers": self.bootstrap_servers,
                    "group.id": group,
                    "client.id": f"rest-proxy-{config.name}",
                    "auto.offset.reset": config.auto_offset_reset,
                    "enable.auto.commit": config.auto_commit,
                    "enable.auto.offset.store": False,  # stored when returned to the client, not when fetched
                    "session.timeout.ms": self.session_timeout_ms,
                    "heartbeat.interval.ms": max(100, self.session_timeout_ms // 6),
                    "max.poll.interval.ms": int(self.instance_timeout_s * 1000) + 60_000,
                    "logger": librdkafka_logger(),
                }
            )
            instance = ConsumerInstance(group, config, consumer, self.bootstrap_servers)
            self._instances[(group, config.name)] = instance
        log.info("created consumer %s in group %s (%s)", config.name, group, config.format)
        return instance

    def get(self, group: str, name: str) -> ConsumerInstance:
        with self._lock:
            instance = self._instances.get((group, name))
        if instance is None:
            raise ProxyError(HTTPStatus.NOT_FOUND, CONSUMER_NOT_FOUND, "Consumer instance not found.")
        instance.last_used = time.monotonic()
        return instance

    def delete(self, group: str, name: str) -> None:
        with self._lock:
            instance = self._instances.pop((group, name), None)
        if instance is None:
            raise ProxyError(HTTPStatus.NOT_FOUND, CONSUMER_NOT_FOUND, "Consumer instance not found.")
        with instance.lock:
            instance.close()
        log.info("deleted consumer %s of group %s", name, group)

    def expire(self) -> int:
        """Delete the instances idle for longer than the instance timeout; return how many."""
        now = time.monotonic()
        with self._lock:
            idle = [
                key
                for key, instance in self._instances.items()
                if now - instance.last_used > self.instance_timeout_s and not instance.lock.locked()
            ]
            expired = [self._instances.pop(key) for key in idle]
        for instance in expired:
            with instance.lock:
                instance.close()
            log.info("consumer %s of group %s expired (idle)", instance.name, instance.group)
        return len(expired)

    def close(self) -> None:
        with self._lock:
            instances = list(self._instances.values())
            self._instances.clear()
        for instance in instances:
            with instance.lock:
                instance.close()

    def __len__(self) -> int:
        with self._lock:
            return len(self._instances)
