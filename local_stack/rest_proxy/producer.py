"""The Kafka side of the produce API: one thread-safe `confluent-kafka` producer shared by every request, its
delivery reports, topic/partition/broker metadata (briefly cached partition counts, a topic the broker does not
know yet looked up again for a while), and `ensure_topics`, which the supervisor uses to create the topics
(the proxy never auto-creates one).

The producer is `acks=all` and deliberately not idempotent: Tansu 0.6.0 counts an idempotent producer's sequence
before it writes the batch, so after one failed batch write every later record of that producer would fail with
PRODUCER_FENCED (tests/local_stack/test_rest_proxy.py shows it)."""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Iterable, Sequence
from http import HTTPStatus
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from local_stack.rest_proxy.contract import (
    ANY_PARTITION,
    DEFAULT_DELIVERY_TIMEOUT_MS,
    DEFAULT_TOPIC_WAIT_MS,
    KAFKA_RETRIABLE_ERROR,
    PARTITION_NOT_FOUND,
    RETRIABLE_ERRORS,
    TOPIC_CACHE_SECONDS,
    TOPIC_CREATE_RETRY,
    TOPIC_RETRY,
    UNKNOWN_TOPIC_ERRORS,
    ProxyError,
    error_code_for,
)
from local_stack.rest_proxy.validation import ProduceRecord, _UnknownTopic, check_topic_name

log = logging.getLogger("rest_proxy")


class _Throttle(logging.Filter):
    """Let each distinct librdkafka message through at most once per `interval` seconds (a down broker makes
    librdkafka report every reconnect attempt)."""

    def __init__(self, interval: float = 30.0) -> None:
        super().__init__()
        self.interval = interval
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        key = "".join(c for c in record.getMessage() if not c.isdigit())
        now = time.monotonic()
        with self._lock:
            if now - self._last.get(key, -self.interval) < self.interval:
                return False
            self._last[key] = now
        return True


class _Delivery:
    """Delivery reports of one request's records, filled in by the producer's poll thread."""

    def __init__(self, count: int) -> None:
        self.offsets: list[dict[str, Any] | None] = [None] * count
        self._lock = threading.Lock()
        self._reported = 0
        self._expected: int | None = None
        self._done = threading.Event()

    def report(self, index: int, error: KafkaError | None, message: Message) -> None:
        if error is None:
            entry = {
                "partition": message.partition(),
                "offset": message.offset(),
                "error_code": None,
                "error": None,
            }
        else:
            entry = _failed(error_code_for(error), error.str())
        self.offsets[index] = entry
        with self._lock:
            self._reported += 1
            if self._reported == self._expected:
                self._done.set()

    def all_queued(self, queued: int) -> None:
        with self._lock:
            self._expected = queued
            if self._reported == queued:
                self._done.set()

    def wait(self, timeout: float) -> list[dict[str, Any]]:
        self._done.wait(timeout)
        missing = _failed(KAFKA_RETRIABLE_ERROR, f"No delivery report within {timeout:.0f} s")
        return [entry or missing for entry in self.offsets]


def _failed(error_code: int, error: str) -> dict[str, Any]:
    return {"partition": None, "offset": None, "error_code": error_code, "error": error}


class KafkaGateway:
    """One thread-safe producer shared by all requests, a poll thread serving its delivery reports, and a
    short-lived cache of topic metadata (partition counts)."""

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        linger_ms: int = 2,
        compression: str = "none",
        delivery_timeout_ms: int = DEFAULT_DELIVERY_TIMEOUT_MS,
        metadata_timeout_ms: int = 5_000,
        topic_wait_ms: int = DEFAULT_TOPIC_WAIT_MS,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.delivery_timeout_s = delivery_timeout_ms / 1000
        self.metadata_timeout_s = metadata_timeout_ms / 1000
        self.topic_wait_s = topic_wait_ms / 1000
        self.topic_retries = 0  # lookups of a topic the broker did not know, retried (for tests and logs)
        self._producer = Producer(
            {
                "bootstrap.servers": bootstrap_servers,
                "client.id": "rest-proxy",
                "allow.auto.create.topics": False,
                "linger.ms": linger_ms,
                "compression.type": compression,
                "batch.num.messages": 10_000,
                "queue.buffering.max.messages": 500_000,
                "message.timeout.ms": delivery_timeout_ms,
                "socket.timeout.ms": max(1_000, min(60_000, delivery_timeout_ms)),
                "acks": "all",
                "logger": _librdkafka_logger(),
            }
        )
        self._topics: dict[str, tuple[int, float]] = {}
        self._topics_lock = threading.Lock()
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll_loop, name="delivery-reports", daemon=True)
        self._poller.start()

    def _poll_loop(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.1)

    # metadata ------------------------------------------------------------------------------------------
    def partition_count(self, topic: str) -> int:
        """Number of partitions of `topic` (cached briefly). 404/40401 when unknown, 500/50003 when the broker
        cannot answer."""
        now = time.monotonic()
        with self._topics_lock:
            cached = self._topics.get(topic)
        if cached and cached[1] > now:
            return cached[0]
        count = len(self._topic_metadata(topic).partitions)
        with self._topics_lock:
            self._topics[topic] = (count, now + TOPIC_CACHE_SECONDS)
        return count

    def list_topics(self) -> list[str]:
        return sorted(name for name in self._metadata(None).topics if not name.startswith("__"))

    def describe_topic(self, topic: str) -> dict[str, Any]:
        """Confluent's `GET /topics/{topic}`: name, configs (none kept here) and partitions."""
        return {"name": topic, "configs": {}, "partitions": self.partitions(topic)}

    def partitions(self, topic: str) -> list[dict[str, Any]]:
        """Confluent's `GET /topics/{topic}/partitions`: partition, leader and replicas of each partition."""
        metadata = self._topic_metadata(topic)
        return [_partition_entry(pid, part) for pid, part in sorted(metadata.partitions.items())]

    def partition(self, topic: str, partition: int) -> dict[str, Any]:
        """One partition's entry; 404/40402 when the topic has no such partition."""
        for entry in self.partitions(topic):
            if entry["partition"] == partition:
                return entry
        raise ProxyError(HTTPStatus.NOT_FOUND, PARTITION_NOT_FOUND, "Partition not found.")

    def brokers(self) -> list[int]:
        """Confluent's `GET /brokers`: the broker ids of the cluster."""
        return sorted(self._metadata(None).brokers)

    def _topic_metadata(self, topic: str) -> Any:
        """The topic's metadata. A topic the broker does not know is looked up again for `topic_wait_s` (a broker
        that has just restarted may not have loaded its topics yet); only then is it a final 404/40401."""
        check_topic_name(topic)

        def retrying(retry: int, _error: BaseException, delay: float) -> None:
            self.topic_retries += 1
            log.info("%s: unknown to the broker; looking again in %.2f s (retry %d)", topic, delay, retry + 1)

        return TOPIC_RETRY.call(
            lambda: self._known_topic_metadata(topic),
            retry_on=(_UnknownTopic,),
            deadline=self.topic_wait_s,
            on_retry=retrying,
        )

    def _known_topic_metadata(self, topic: str) -> Any:
        metadata = self._metadata(topic).topics.get(topic)
        error = None if metadata is None else metadata.error
        if metadata is None or (error is not None and error.code() in UNKNOWN_TOPIC_ERRORS):
            raise _UnknownTopic()
        if error is not None or not metadata.partitions:
            reason = error.str() if error is not None else "topic has no partitions"
            raise ProxyError(
                HTTPStatus.INTERNAL_SERVER_ERROR, KAFKA_RETRIABLE_ERROR, f"Retriable Kafka error: {reason}"
            )
        return metadata

    def _metadata(self, topic: str | None) -> Any:
        try:
            return self._producer.list_topics(topic, timeout=self.metadata_timeout_s)
        except KafkaException as exc:
            error = exc.args[0]
            raise ProxyError(
                HTTPStatus.INTERNAL_SERVER_ERROR,
                error_code_for(error),
                f"Kafka broker {self.bootstrap_servers} did not answer: {error.str()}",
            ) from None

    # produce -------------------------------------------------------------------------------------------
    def produce(self, topic: str, records: Sequence[ProduceRecord]) -> list[dict[str, Any]]:
        """Produce every record, wait for every delivery report; one offsets entry per record, in order."""
        partitions = self.partition_count(topic)
        for index, record in enumerate(records):
            if record.partition is not None and record.partition >= partitions:
                raise ProxyError(
                    HTTPStatus.NOT_FOUND,
                    PARTITION_NOT_FOUND,
                    f"Partition not found: records[{index}] names partition {record.partition}; "
                    f"{topic} has {partitions}",
                )
        delivery = _Delivery(len(records))
        deadline = time.monotonic() + self.delivery_timeout_s
        queued = 0
        for index, record in enumerate(records):
            error = self._enqueue(topic, record, functools.partial(delivery.report, index), deadline)
            if error is None:
                queued += 1
            else:
                delivery.offsets[index] = _failed(error_code_for(error), error.str())
        delivery.all_queued(queued)
        return delivery.wait(max(0.0, deadline - time.monotonic()) + 5.0)

    def _enqueue(
        self, topic: str, record: ProduceRecord, callback: Any, deadline: float
    ) -> KafkaError | None:
        """Queue one record; wait while the local queue is full (the poll thread drains it)."""
        value, key, partition = record
        partition = ANY_PARTITION if partition is None else partition
        while True:
            try:
                self._producer.produce(topic, value, key, partition, callback)  # positional: the fast path
                return None
            except BufferError:
                if time.monotonic() >= deadline:
                    return KafkaError(KafkaError._QUEUE_FULL)
                time.sleep(0.005)
            except KafkaException as exc:
                return exc.args[0]

    def close(self, timeout: float = 10.0) -> int:
        """Stop the poll thread and flush what is queued; return how many records are left undelivered."""
        self._stop.set()
        self._poller.join()
        return self._producer.flush(timeout)


def _partition_entry(pid: int, part: Any) -> dict[str, Any]:
    replicas = [
        {"broker": broker, "leader": broker == part.leader, "in_sync": broker in part.isrs}
        for broker in part.replicas
    ]
    return {"partition": pid, "leader": part.leader, "replicas": replicas}


def librdkafka_logger() -> logging.Logger:
    """The logger librdkafka's own messages go to, each distinct message at most once per 30 s."""
    return _librdkafka_logger()


def _librdkafka_logger() -> logging.Logger:
    logger = logging.getLogger("rest_proxy.librdkafka")
    if not any(isinstance(f, _Throttle) for f in logger.filters):
        logger.addFilter(_Throttle())
    return logger


def ensure_topics(
    bootstrap_servers: str,
    topics: Iterable[str],
    *,
    partitions: int = 1,
    replication_factor: int = 1,
    timeout: float = 30.0,
) -> list[str]:
    """Create the topics that do not exist yet (idempotent); return the names created.

    Retries transient broker errors with exponential backoff and jitter until `timeout` seconds have passed,
    then raises `RuntimeError` naming the topic and the broker.
    """
    wanted = list(dict.fromkeys(topics))
    admin = AdminClient(
        {
            "bootstrap.servers": bootstrap_servers,
            "client.id": "rest-proxy-admin",
            "logger": _librdkafka_logger(),
        }
    )
    deadline = time.monotonic() + timeout
    created: list[str] = []

    def attempt() -> list[str]:
        remaining = min(10.0, max(0.5, deadline - time.monotonic()))
        existing = admin.list_topics(timeout=remaining).topics
        missing = [t for t in wanted if t not in existing]
        if missing:
            futures = admin.create_topics(
                [NewTopic(t, partitions, replication_factor) for t in missing],
                operation_timeout=remaining,
                request_timeout=remaining,
            )
            for topic, future in futures.items():
                try:
                    future.result()
                    created.append(topic)
                    log.info("created topic %s (%d partition(s))", topic, partitions)
                except KafkaException as exc:
                    if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                        raise
        return created

    def transient(error: BaseException) -> bool:
        if not isinstance(error, KafkaException):
            return False
        kafka_error = error.args[0]
        return kafka_error.retriable() or kafka_error.code() in RETRIABLE_ERRORS

    def retrying(_retry: int, error: BaseException, delay: float) -> None:
        log.warning("broker not ready (%s); retrying in %.1f s", error.args[0].str(), delay)

    try:
        return TOPIC_CREATE_RETRY.call(attempt, retry_on=transient, deadline=timeout, on_retry=retrying)
    except KafkaException as exc:
        error = exc.args[0]
        if transient(exc):
            raise RuntimeError(
                f"Kafka broker {bootstrap_servers} did not create topics {wanted} within {timeout:.0f} s: "
                f"{error.str()}"
            ) from None
        raise RuntimeError(f"cannot create topics {wanted} on {bootstrap_servers}: {error.str()}") from None
