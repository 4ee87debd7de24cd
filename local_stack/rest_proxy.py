"""A Kafka REST Proxy v2 stand-in: the produce API of docs/data-contracts.md 3.3 over one shared
`confluent-kafka` producer.

The API Gateway's `/topics/{proxy+}` integration forwards here, as it forwards to the Confluent REST Proxy on the
EC2 client machine in AWS. Endpoints (responses are `application/vnd.kafka.v2+json`):

| request | response |
|---|---|
| `GET /` | 200 `{}` (health check) |
| `GET /topics` | 200 `["<topic>", ...]` |
| `GET /topics/{topic}` | 200 `{"name", "configs", "partitions": [...]}`; 404/40401 when unknown |
| `POST /topics/{topic}` | 200 `{"offsets": [...], "key_schema_id": null, "value_schema_id": null}` |

`POST` takes `Content-Type: application/vnd.kafka.json.v2+json` (parameters such as `charset` accepted) and a
body `{"records": [{"value": {...}, "key": ..., "partition": ...}, ...]}`. Every record is produced, then the
response waits for every delivery report and lists one entry per record, in order: `partition`/`offset` on
success, `error_code`/`error` (50003 retriable, 50002 other Kafka error, as Confluent's) on failure.

Errors are `{"error_code": <int>, "message": "..."}` with Confluent's codes: 404/40401 unknown topic (also a
name Kafka would refuse: the message says so), 404/40402 unknown partition, 415/415 wrong or missing Content-Type
or a charset that is not a text encoding, 400/400 malformed JSON or an invalid Content-Length, 411/411 a POST with
neither Content-Length nor chunked encoding, 408/408 a request not received within the request timeout, 422/422 a
body that is not `{"records": [...]}` with a `value` in every record (Confluent's bean-validation code) or JSON
nested too deeply, 413/413 body too large, 503/503 (with Retry-After) beyond the connection cap, 500/50003 when
the broker cannot be reached for the topic check, 404/405 other paths and methods.

Deliberate choices, where Confluent's proxy leaves room:
- Topics are never auto-created (MSK clients create them upfront): the supervisor calls `ensure_topics()`.
- When every record of a request failed (say the broker is down), the status is 500 (error_code 50003 if any
  failure is retriable, else 50002) and the body carries the usual `offsets` entries next to `error_code` and
  `message`, so a client that only checks the status retries instead of losing the batch. A partial failure is
  a 200 with per-record errors, as in Confluent's proxy.
- A `value` of null (a tombstone) is rejected with 422: the lake holds one JSON value per record.
- Integers are kept exactly as sent, also beyond 64 bits (orjson would read them as floats; such bodies go
  through the standard library's parser). Values nested more than 254 levels deep are a 422.
- Topic names follow Kafka's rule after URL-decoding (`[a-zA-Z0-9._-]`, 1 to 249 characters, not `.`/`..`). A
  valid name the broker does not know is looked up again for `--topic-wait-ms` (a restarted broker may not have
  loaded its topics yet) before the final 404/40401.
- Slow clients: a request must arrive whole within `--request-timeout` s of its first byte, idle keep-alive
  connections close after `--idle-timeout` s, and at most `--max-connections` are served at once.
- The producer is `acks=all` and deliberately not idempotent (`enable.idempotence`): Tansu 0.6.0 counts an
  idempotent producer's sequence before it writes the batch, so after one failed batch write (say an S3 error)
  every later record of that producer fails with PRODUCER_FENCED and the proxy would fail every request until
  restarted; a plain producer loses only the failed request, which the client retries. Measured on the local
  stack: two broker restarts and two crashes during 6,000 records left 0 duplicates with either producer. The
  fencing is shown by `test_a_failed_tansu_batch_write_fences_an_idempotent_producer_but_not_the_proxy`
  (tests/local_stack/test_rest_proxy.py).

Run: `python -m local_stack.rest_proxy --host 127.0.0.1 --port 8082 --bootstrap-servers 127.0.0.1:9092`.
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import functools
import io
import json
import logging
import math
import re
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import unquote

import orjson
from confluent_kafka import KafkaError, KafkaException, Message, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from emulation.retry import RetryPolicy

log = logging.getLogger("rest_proxy")

JSON_V2 = "application/vnd.kafka.json.v2+json"
RESPONSE_CONTENT_TYPE = "application/vnd.kafka.v2+json"

# Confluent REST Proxy error codes (io.confluent.kafkarest.Errors and rest-utils' exception mappers).
TOPIC_NOT_FOUND = 40401
PARTITION_NOT_FOUND = 40402
UNPROCESSABLE = 422
KAFKA_ERROR = 50002
KAFKA_RETRIABLE_ERROR = 50003

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8082
DEFAULT_BOOTSTRAP = "127.0.0.1:9092"
MAX_BODY_BYTES = 64 * 1024 * 1024
#: Records fail after this long without the broker; with the 5 s grace of the reply it stays under API Gateway's
#: 29 s integration timeout, so the client gets per-record errors rather than a gateway 504.
DEFAULT_DELIVERY_TIMEOUT_MS = 20_000
TOPIC_CACHE_SECONDS = 10.0
#: How long a topic the broker does not know is looked up again before the final 404 (it fits, with the delivery
#: timeout, in API Gateway's 29 s).
DEFAULT_TOPIC_WAIT_MS = 5_000
TOPIC_RETRY = RetryPolicy(attempts=None, base=0.1, cap=1.0)
#: Topic creation while the broker starts (`ensure_topics`, bounded by its timeout).
TOPIC_CREATE_RETRY = RetryPolicy(attempts=None, base=0.2, cap=5.0)
#: A request (line, headers, body) must arrive within this many seconds of its first byte: else 408.
DEFAULT_REQUEST_TIMEOUT = 10.0
#: An idle keep-alive connection is closed after this many seconds.
DEFAULT_IDLE_TIMEOUT = 30.0
#: Connections served at once (one thread each); more are answered 503 with Retry-After.
DEFAULT_MAX_CONNECTIONS = 64
RETRY_AFTER_SECONDS = 1
ANY_PARTITION = -1  # librdkafka's RD_KAFKA_PARTITION_UA: let the partitioner choose
#: Top-level fields of Confluent's v2 produce request; the schema ones are accepted and ignored for JSON.
REQUEST_FIELDS = frozenset({"records", "key_schema", "key_schema_id", "value_schema", "value_schema_id"})
RECORD_FIELDS = frozenset({"key", "value", "partition"})

#: librdkafka errors that Kafka's Java client raises as a `RetriableException` (Confluent maps those to 50003).
RETRIABLE_ERRORS = frozenset(
    {
        KafkaError._MSG_TIMED_OUT,
        KafkaError._TIMED_OUT,
        KafkaError._TIMED_OUT_QUEUE,
        KafkaError._TRANSPORT,
        KafkaError._ALL_BROKERS_DOWN,
        KafkaError._QUEUE_FULL,
        KafkaError._UNKNOWN_PARTITION,
        KafkaError._UNKNOWN_TOPIC,
        KafkaError.REQUEST_TIMED_OUT,
        KafkaError.NETWORK_EXCEPTION,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.NOT_ENOUGH_REPLICAS,
        KafkaError.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
        KafkaError.KAFKA_STORAGE_ERROR,
        KafkaError.BROKER_NOT_AVAILABLE,
        KafkaError.COORDINATOR_NOT_AVAILABLE,
        KafkaError.THROTTLING_QUOTA_EXCEEDED,
    }
)
TOPIC_NAME = re.compile(r"[a-zA-Z0-9._-]{1,249}")
UNKNOWN_TOPIC_ERRORS = frozenset({KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC})
#: Codecs Python accepts as text encodings that are no charset a client could mean (Python-specific ones).
NOT_CHARSETS = frozenset(
    {"idna", "punycode", "raw-unicode-escape", "unicode-escape", "undefined", "mbcs", "oem"}
)
#: orjson's limits: it reads at most 1024 nested levels and writes at most 254.
MAX_BODY_DEPTH = 1024
MAX_VALUE_DEPTH = 254
#: A run of this many digits may be an integer beyond 64 bits (orjson keeps -2**63 .. 2**64-1 exact).
_LONG_DIGITS = re.compile(rb"[0-9]{19,}")


class ProxyError(Exception):
    """A request-level error: HTTP status plus Confluent's `{"error_code", "message"}` body."""

    def __init__(
        self, status: int, error_code: int, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error_code": self.error_code, "message": self.message}


# --- request validation (pure functions) -------------------------------------------------------------------


class ProduceRecord(NamedTuple):
    """One record of a produce request, serialised as the JSON embedded format does (compact JSON bytes)."""

    value: bytes
    key: bytes | None = None
    partition: int | None = None


def check_content_type(header: str | None) -> str:
    """Validate a produce request's Content-Type; return its charset (`utf-8` when absent). 415 otherwise, also
    for a charset Python does not know and for codecs that are not text encodings (`base64`, `hex`, `zlib`,
    `idna`, `unicode_escape`, ...), which `codecs.lookup` accepts."""
    media_type, _, params = (header or "").partition(";")
    if media_type.strip().lower() != JSON_V2:
        shown = f"{header!r}" if header else "missing"
        raise ProxyError(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            f"HTTP 415 Unsupported Media Type: Content-Type is {shown}; use {JSON_V2}",
        )
    charset = "utf-8"
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip('"').lower()
    try:
        info = codecs.lookup(charset)
    except (LookupError, ValueError):  # ValueError: a NUL in the name
        info = None
    if info is None or not getattr(info, "_is_text_encoding", True) or info.name in NOT_CHARSETS:
        raise ProxyError(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            f"HTTP 415 Unsupported Media Type: unknown charset {charset!r}",
        )
    return charset


def parse_produce_body(body: bytes, charset: str = "utf-8") -> list[ProduceRecord]:
    """Parse and validate a v2 JSON produce body into records. 400 for bad JSON, 422 for a bad shape or JSON
    nested too deeply. Any input raises nothing but `ProxyError` (tests/local_stack/test_rest_proxy_properties.py).

    Integers stay exact: orjson reads integers only within 64 bits (a larger one silently became a float), so a
    body with a run of 19 or more digits is read by the standard library's parser instead, and its values are
    written back with `json.dumps`, every integer as it was sent.
    """
    if not body.strip():
        raise ProxyError(HTTPStatus.UNPROCESSABLE_ENTITY, UNPROCESSABLE, "Request body is empty")
    try:
        text: bytes | str = body if codecs.lookup(charset).name == "utf-8" else body.decode(charset)
    except (LookupError, ValueError) as exc:  # ValueError covers UnicodeError
        raise _malformed(f"the body is not valid {charset}: {exc}") from None
    exact = _LONG_DIGITS.search(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
    document = _loads_exact(text) if exact else _loads(text)
    dumps = _dumps_exact if exact else _dumps
    if not isinstance(document, dict):
        raise _unprocessable('Request body must be a JSON object: {"records": [...]}')
    unknown = sorted(set(document) - REQUEST_FIELDS)
    if unknown:
        raise _unprocessable(f"Unrecognized field: {unknown[0]}")
    records = document.get("records")
    if records is None:
        raise _unprocessable("records may not be null")
    if not isinstance(records, list):
        raise _unprocessable("records must be an array")
    if not records:
        raise _unprocessable("records may not be empty")
    return [_parse_record(index, record, dumps) for index, record in enumerate(records)]


def _loads(text: bytes | str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        if "depth limit" in str(exc):
            raise _too_deep(f"the body is nested more than {MAX_BODY_DEPTH} levels deep") from None
        raise _malformed(str(exc)) from None


def _loads_exact(text: bytes | str) -> Any:
    """The standard library's parser, strict where orjson is: no NaN/Infinity, no number out of float range."""
    try:
        return json.loads(
            text.decode("utf-8") if isinstance(text, bytes) else text,
            parse_constant=_reject_constant,
            parse_float=_finite_float,
        )
    except RecursionError:
        raise _too_deep(f"the body is nested more than {MAX_BODY_DEPTH} levels deep") from None
    except ValueError as exc:  # JSONDecodeError, bad UTF-8, an integer over Python's 4300 digits
        raise _malformed(str(exc)) from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(literal: str) -> float:
    value = float(literal)
    if math.isinf(value):
        raise ValueError(f"number {literal[:40]} is out of range")
    return value


def _parse_record(index: int, record: Any, dumps: Callable[[Any, str], bytes]) -> ProduceRecord:
    if not isinstance(record, dict):
        raise _unprocessable(f"records[{index}] must be an object with a value")
    if not record.keys() <= RECORD_FIELDS:
        unknown = sorted(set(record) - RECORD_FIELDS)
        raise _unprocessable(f"records[{index}]: Unrecognized field: {unknown[0]}")
    if record.get("value") is None:
        raise _unprocessable(f"records[{index}]: value may not be null")
    partition = record.get("partition")
    if partition is not None and (type(partition) is not int or partition < 0):
        raise _unprocessable(f"records[{index}]: partition must be a non-negative integer")
    key = record.get("key")
    return ProduceRecord(
        value=dumps(record["value"], f"records[{index}].value"),
        key=None if key is None else dumps(key, f"records[{index}].key"),
        partition=partition,
    )


def _unprocessable(message: str) -> ProxyError:
    return ProxyError(HTTPStatus.UNPROCESSABLE_ENTITY, UNPROCESSABLE, message)


def _malformed(reason: str) -> ProxyError:
    return ProxyError(HTTPStatus.BAD_REQUEST, HTTPStatus.BAD_REQUEST, f"Malformed JSON: {reason}")


def _too_deep(where: str) -> ProxyError:
    return _unprocessable(f"JSON nested too deeply: {where}; flatten the record")


def _dumps(value: Any, where: str) -> bytes:
    """Compact JSON, non-ASCII as UTF-8: what Confluent's JSON embedded format (Jackson) writes."""
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:  # the only cause for parsed JSON: orjson's recursion limit
        raise _too_deep(f"{where} is nested more than {MAX_VALUE_DEPTH} levels deep") from None


def _dumps_exact(value: Any, where: str) -> bytes:
    """`_dumps` for values read by the standard library: big integers written exactly, the same depth limit."""
    if _deeper_than(value, MAX_VALUE_DEPTH):
        raise _too_deep(f"{where} is nested more than {MAX_VALUE_DEPTH} levels deep")
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate escape, which orjson refuses as well
        raise _malformed(f"{where} holds a lone surrogate ({exc.reason})") from None


def _deeper_than(value: Any, limit: int) -> bool:
    """True when `value` has more than `limit` nested arrays/objects (orjson.dumps's limit), without recursion."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def check_topic_name(topic: str) -> str:
    """`topic` (URL-decoded) when it is a name Kafka accepts, else 404/40401 saying why: no such topic can exist.

    Kafka's rule: 1 to 249 characters of `[a-zA-Z0-9._-]`, and not `.` or `..`.
    """
    if TOPIC_NAME.fullmatch(topic) and topic not in (".", ".."):
        return topic
    shown = topic if len(topic) <= 60 else f"{topic[:60]}... ({len(topic)} characters)"
    raise ProxyError(
        HTTPStatus.NOT_FOUND,
        TOPIC_NOT_FOUND,
        f"Topic not found: {shown!r} is not a valid Kafka topic name "
        "(1 to 249 characters of a-z, A-Z, 0-9, '.', '_', '-'; not '.' or '..')",
    )


class _UnknownTopic(ProxyError):
    """The broker does not know the topic (yet): retried for the topic wait, then the final 404/40401."""

    def __init__(self) -> None:
        super().__init__(HTTPStatus.NOT_FOUND, TOPIC_NOT_FOUND, "Topic not found.")


def error_code_for(error: KafkaError) -> int:
    """Confluent's per-record error code for a Kafka error: 50003 when retriable, else 50002."""
    return KAFKA_RETRIABLE_ERROR if error.retriable() or error.code() in RETRIABLE_ERRORS else KAFKA_ERROR


# --- Kafka side --------------------------------------------------------------------------------------------


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
        metadata = self._topic_metadata(topic)
        partitions = []
        for pid, part in sorted(metadata.partitions.items()):
            replicas = [
                {"broker": broker, "leader": broker == part.leader, "in_sync": broker in part.isrs}
                for broker in part.replicas
            ]
            partitions.append({"partition": pid, "leader": part.leader, "replicas": replicas})
        return {"name": topic, "configs": {}, "partitions": partitions}

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


# --- HTTP side ---------------------------------------------------------------------------------------------


class ProxyServer(ThreadingHTTPServer):
    """The HTTP server: one thread per connection, all sharing one `KafkaGateway`.

    At most `max_connections` connections are served at once; one more is answered 503 with `Retry-After` and
    closed, so slow clients cannot hold every thread. A request must arrive whole (headers and body) within
    `request_timeout` seconds of its first byte (else 408 and close); an idle keep-alive connection is closed
    after `idle_timeout` seconds.
    """

    daemon_threads = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        gateway: KafkaGateway,
        *,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        if request_timeout <= 0 or idle_timeout <= 0 or max_connections < 1:
            raise ValueError("request_timeout and idle_timeout must be > 0, max_connections >= 1")
        super().__init__(address, ProxyHandler)
        self.gateway = gateway
        self.request_timeout = request_timeout
        self.idle_timeout = idle_timeout
        self.max_connections = max_connections
        self._busy = 0
        self._idle = threading.Condition()
        self._connections = 0
        self._refusing = 0
        self._connections_lock = threading.Lock()
        self.refused = 0  # connections answered 503 (for tests and logs)
        self.closing = False  # set at shutdown: answer the request in progress, then close the connection

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            admitted = self._connections < self.max_connections
            if admitted:
                self._connections += 1
            else:
                self.refused += 1
                refusing = self._refusing < self.max_connections
                self._refusing += refusing
        if admitted:
            super().process_request(request, client_address)
        elif refusing:  # answered from its own short-lived thread, never from the accept loop
            threading.Thread(target=self._refuse, args=(request,), name="refuse", daemon=True).start()
        else:  # a flood: not even a 503
            self.shutdown_request(request)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._connections_lock:
                self._connections -= 1

    def _refuse(self, connection: socket.socket) -> None:
        """503 with Retry-After, then a lingering close: read what the client sent (at most 2 s) so that closing
        with unread data does not reset the connection before the client has read the answer."""
        log.warning("%d connections open (the cap): refusing one with 503", self.max_connections)
        try:
            connection.settimeout(2.0)
            connection.sendall(_REFUSAL)
            connection.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + 2.0
            while time.monotonic() < deadline and connection.recv(65536):
                pass
        except OSError:
            pass
        finally:
            connection.close()
            with self._connections_lock:
                self._refusing -= 1

    def request_started(self) -> None:
        with self._idle:
            self._busy += 1

    def request_finished(self) -> None:
        with self._idle:
            self._busy -= 1
            self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no request is being processed (idle keep-alive connections do not count)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._busy == 0, timeout)


class _DeadlineReader(io.RawIOBase):
    """The connection's input: each read waits at most until `deadline` (a request in progress) or, between
    requests, `idle` seconds. A client that trickles bytes cannot stretch a request past its deadline."""

    def __init__(self, connection: socket.socket, idle: float) -> None:
        super().__init__()
        self.connection = connection
        self.idle = idle
        self.deadline: float | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        timeout = self.idle if self.deadline is None else self.deadline - time.monotonic()
        if timeout <= 0:
            raise TimeoutError("request timeout")
        self.connection.settimeout(timeout)
        return self.connection.recv_into(buffer)


class ProxyHandler(BaseHTTPRequestHandler):
    """Routes the REST Proxy v2 endpoints; every response is JSON with Confluent's content type."""

    server: ProxyServer
    protocol_version = "HTTP/1.1"  # keep-alive
    server_version = "pinterest-pipeline-rest-proxy/1"
    disable_nagle_algorithm = True
    timeout = None  # reads are bounded by _DeadlineReader, writes by the request timeout (see _send)

    def setup(self) -> None:
        super().setup()
        self.rfile.close()  # the socket's own file: replaced by one that keeps the request's deadline
        self._reader = _DeadlineReader(self.connection, self.server.idle_timeout)
        self.rfile = io.BufferedReader(self._reader, 65536)

    def handle_one_request(self) -> None:
        """BaseHTTPRequestHandler's, with the deadlines: an idle connection is closed quietly after the idle
        timeout; a request whose line, headers or body are not all in within the request timeout gets a 408."""
        self._reader.deadline = None
        self._responded = False
        self.requestline, self.command, self.request_version = "", "", self.protocol_version
        try:
            if not self.rfile.peek(1):  # the client closed the connection
                self.close_connection = True
                return
        except OSError:  # idle timeout, or a reset
            self.close_connection = True
            return
        self._reader.deadline = time.monotonic() + self.server.request_timeout
        try:
            self.raw_requestline = self.rfile.readline(65537)
            if len(self.raw_requestline) > 65536:
                self.send_error(HTTPStatus.REQUEST_URI_TOO_LONG)
                return
            if not self.raw_requestline:
                self.close_connection = True
                return
            if not self.parse_request():  # it answered the error itself
                return
            method = getattr(self, f"do_{self.command}", None)
            if method is None:
                self.send_error(HTTPStatus.NOT_IMPLEMENTED)
                return
            method()
            self.wfile.flush()
        except TimeoutError:
            self.close_connection = True
            if not self._responded:
                self.send_error(HTTPStatus.REQUEST_TIMEOUT, self._timeout_message("request"))
        except ConnectionError:
            self.close_connection = True

    def _timeout_message(self, part: str) -> str:
        return f"Request Timeout: the {part} did not arrive within {self.server.request_timeout:g} s"

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_HEAD(self) -> None:
        self._handle("HEAD")

    def do_OPTIONS(self) -> None:
        self._handle("OPTIONS")

    def _handle(self, method: str) -> None:
        started = time.perf_counter()
        self.server.request_started()
        try:
            status, payload, headers, records = self._answer(method)
            if self.server.closing:  # shutting down: answer, then close the connection
                self.close_connection = True
            self._send(status, payload, method, headers)
            self.wfile.flush()
        finally:
            # Only now is the request done: shutdown waits for this, so the answer is never cut off.
            self.server.request_finished()
        level = logging.DEBUG if status < 400 else logging.INFO
        log.log(
            level,
            "%s %s %d %d record(s) %.1f ms",
            method,
            self.path,
            status,
            records,
            (time.perf_counter() - started) * 1000,
        )

    def _answer(self, method: str) -> tuple[int, Any, dict[str, str], int]:
        """(status, JSON payload, extra headers, records) for the request; errors become their JSON answers."""
        try:
            status, payload, records = self._route(method, self._read_body())
            return status, payload, {}, records
        except ProxyError as exc:
            if exc.status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE:
                self.close_connection = True
            return exc.status, exc.body(), exc.headers, 0
        except Exception:
            log.exception("internal error on %s %s", method, self.path)
            return 500, {"error_code": 500, "message": "Internal server error"}, {}, 0

    def _route(self, method: str, body: bytes) -> tuple[int, Any, int]:
        parts = [unquote(p) for p in self.path.split("?", 1)[0].split("/") if p]
        if not parts:
            _allow(method, "GET")
            return 200, {}, 0
        if parts[0] != "topics" or len(parts) > 2:
            raise ProxyError(HTTPStatus.NOT_FOUND, HTTPStatus.NOT_FOUND, "HTTP 404 Not Found")
        gateway = self.server.gateway
        if len(parts) == 1:
            _allow(method, "GET")
            return 200, gateway.list_topics(), 0
        topic = parts[1]
        _allow(method, "GET", "POST")
        if method == "GET":
            return 200, gateway.describe_topic(topic), 0
        charset = check_content_type(self.headers.get("Content-Type"))
        records = parse_produce_body(body, charset)
        offsets = gateway.produce(topic, records)
        response: dict[str, Any] = {"offsets": offsets, "key_schema_id": None, "value_schema_id": None}
        failed = [entry for entry in offsets if entry["error_code"] is not None]
        if len(failed) < len(offsets):
            if failed:
                log.warning(
                    "%s: %d of %d record(s) failed: %s", topic, len(failed), len(offsets), failed[0]["error"]
                )
            return 200, response, len(offsets)
        retriable = any(entry["error_code"] == KAFKA_RETRIABLE_ERROR for entry in failed)
        code = KAFKA_RETRIABLE_ERROR if retriable else KAFKA_ERROR
        prefix = "Retriable Kafka error" if retriable else "Kafka error"
        log.warning("%s: all %d record(s) failed: %s", topic, len(offsets), failed[0]["error"])
        return (
            500,
            {"error_code": code, "message": f"{prefix}: {failed[0]['error']}", **response},
            len(offsets),
        )

    def _read_body(self) -> bytes:
        """The request body, whole, within the request's deadline (408 otherwise). A POST needs a valid
        Content-Length (400) or chunked encoding (411 without either); the answer comes at once, with no wait
        for a body whose end cannot be known."""
        try:
            return self._read_framed_body()
        except TimeoutError:
            self.close_connection = True
            raise ProxyError(
                HTTPStatus.REQUEST_TIMEOUT,
                HTTPStatus.REQUEST_TIMEOUT,
                f"HTTP 408 {self._timeout_message('body')}",
            ) from None

    def _read_framed_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length_headers = self.headers.get_all("Content-Length") or []
        if not length_headers:
            if self.command == "POST":
                self.close_connection = True
                raise ProxyError(
                    HTTPStatus.LENGTH_REQUIRED,
                    HTTPStatus.LENGTH_REQUIRED,
                    "HTTP 411 Length Required: send Content-Length or Transfer-Encoding: chunked",
                )
            return b""
        values = {value.strip() for header in length_headers for value in header.split(",")}
        if len(values) != 1 or not values <= {v for v in values if v.isascii() and v.isdigit()}:
            self.close_connection = True
            raise ProxyError(
                HTTPStatus.BAD_REQUEST,
                HTTPStatus.BAD_REQUEST,
                f"HTTP 400 Bad Request: invalid Content-Length {', '.join(length_headers)!r}",
            )
        length = int(values.pop())
        if length > MAX_BODY_BYTES:
            raise _too_large()
        body = self.rfile.read(length)
        if len(body) < length:  # the client closed early
            self.close_connection = True
            raise ProxyError(
                HTTPStatus.BAD_REQUEST,
                HTTPStatus.BAD_REQUEST,
                f"HTTP 400 Bad Request: the body ended after {len(body)} of {length} bytes",
            )
        return body

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                self.close_connection = True
                raise ProxyError(
                    HTTPStatus.BAD_REQUEST, HTTPStatus.BAD_REQUEST, "Invalid chunked body"
                ) from None
            if size == 0:
                while self.rfile.readline(1024).strip():  # trailers
                    pass
                return b"".join(chunks)
            total += size
            if total > MAX_BODY_BYTES:
                raise _too_large()
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _send(
        self, status: int, payload: Any, method: str = "GET", headers: dict[str, str] | None = None
    ) -> None:
        data = orjson.dumps(payload)
        self._responded = True
        self.connection.settimeout(self.server.request_timeout)  # a client that does not read is dropped
        self.send_response(status)
        self.send_header("Content-Type", RESPONSE_CONTENT_TYPE)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(data)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Errors raised by the HTTP parser itself (bad request line, unknown method) as JSON too."""
        self.close_connection = True
        if code == HTTPStatus.NOT_IMPLEMENTED:  # a method no endpoint has
            code, message = HTTPStatus.METHOD_NOT_ALLOWED, None
        reason = message or HTTPStatus(code).phrase
        with contextlib.suppress(OSError):  # the client may already be gone
            self._send(code, {"error_code": code, "message": f"HTTP {code} {reason}"})

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Requests are logged once, by `_handle`."""

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)


def _allow(method: str, *allowed: str) -> None:
    if method not in allowed:
        raise ProxyError(
            HTTPStatus.METHOD_NOT_ALLOWED,
            HTTPStatus.METHOD_NOT_ALLOWED,
            "HTTP 405 Method Not Allowed",
            {"Allow": ", ".join(allowed)},
        )


def _refusal() -> bytes:
    body = orjson.dumps(
        {"error_code": 503, "message": "HTTP 503 Service Unavailable: too many connections; retry later"}
    )
    head = (
        "HTTP/1.1 503 Service Unavailable\r\n"
        f"Content-Type: {RESPONSE_CONTENT_TYPE}\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"Retry-After: {RETRY_AFTER_SECONDS}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


_REFUSAL = _refusal()


def _too_large() -> ProxyError:
    return ProxyError(
        HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
        HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
        f"Request body larger than {MAX_BODY_BYTES // (1024 * 1024)} MiB; send fewer records per request",
    )


# --- CLI -----------------------------------------------------------------------------------------------------


def serve(server: ProxyServer, *, drain_timeout: float = 10.0) -> int:
    """Serve until SIGTERM/SIGINT, then finish in-flight requests and flush the producer. Returns an exit code."""

    def stop(signum: int, _frame: Any) -> None:
        log.info("received %s: shutting down", signal.Signals(signum).name)
        threading.Thread(target=server.shutdown, name="shutdown", daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    host, port = server.server_address[:2]
    log.info("REST Proxy listening on http://%s:%d (Kafka %s)", host, port, server.gateway.bootstrap_servers)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.closing = True
        server.server_close()
        if not server.wait_idle(drain_timeout):
            log.warning("requests still in flight after %.0f s", drain_timeout)
        left = server.gateway.close(drain_timeout)
        if left:
            log.error("%d record(s) not delivered at shutdown", left)
        log.info("stopped")
    return 1 if left else 0


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults shown, description and epilog kept as written."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m local_stack.rest_proxy",
        description=(
            "Kafka REST Proxy v2 stand-in (docs/data-contracts.md 3.3).\n\n"
            f"POST /topics/<topic> with Content-Type {JSON_V2} and a body\n"
            '{"records": [{"value": {...}, "key": ..., "partition": ...}, ...]} produces every record to the\n'
            "Kafka broker and answers with one offset per record. Also GET / (health), GET /topics,\n"
            "GET /topics/<topic>. Topics are not auto-created: the supervisor creates them with ensure_topics().\n"
            "Stops cleanly on SIGTERM/Ctrl-C: answers the requests in flight, then flushes the producer."
        ),
        epilog=(
            'responses (application/vnd.kafka.v2+json, errors as {"error_code", "message"}):\n'
            "  200            offsets, one per record, in order\n"
            "  404 / 40401    unknown topic            404 / 40402  unknown partition\n"
            "  415 / 415      wrong or missing Content-Type\n"
            "  400 / 400      malformed JSON           422 / 422    no records, or a record without value\n"
            "  500 / 50003    broker unreachable, or every record failed (50002: non-retriable)\n"
            "example:\n"
            f'  curl -H \'Content-Type: {JSON_V2}\' -d \'{{"records":[{{"value":{{"ind":1}}}}]}}\' \\\n'
            "       http://127.0.0.1:8082/topics/demo.pin"
        ),
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to bind (loopback only by default)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port to listen on")
    parser.add_argument("--bootstrap-servers", default=DEFAULT_BOOTSTRAP, help="Kafka bootstrap servers")
    parser.add_argument("--linger-ms", type=int, default=2, help="producer linger.ms (batching delay)")
    parser.add_argument(
        "--compression",
        default="none",
        choices=["none", "lz4", "snappy", "gzip", "zstd"],
        help="producer compression",
    )
    parser.add_argument(
        "--delivery-timeout-ms",
        type=int,
        default=DEFAULT_DELIVERY_TIMEOUT_MS,
        help="how long a record may wait for the broker before it fails with 50003 (message.timeout.ms)",
    )
    parser.add_argument(
        "--metadata-timeout-ms",
        type=int,
        default=5_000,
        help="how long a topic lookup may wait for the broker",
    )
    parser.add_argument(
        "--topic-wait-ms",
        type=int,
        default=DEFAULT_TOPIC_WAIT_MS,
        help="how long a topic the broker does not know is looked up again before the final 404 (a restarted "
        "broker may not have loaded its topics yet)",
    )
    parser.add_argument(
        "--request-timeout",
        type=_positive_seconds,
        default=DEFAULT_REQUEST_TIMEOUT,
        help="seconds a request's line, headers and body may take to arrive (else 408 and close)",
    )
    parser.add_argument(
        "--idle-timeout",
        type=_positive_seconds,
        default=DEFAULT_IDLE_TIMEOUT,
        help="seconds an idle keep-alive connection is kept open",
    )
    parser.add_argument(
        "--max-connections",
        type=int,
        default=DEFAULT_MAX_CONNECTIONS,
        help="connections served at once; one more is answered 503 with Retry-After and closed",
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="stderr log level (DEBUG logs every request; INFO logs rejected ones)",
    )
    return parser


def _positive_seconds(text: str) -> float:
    value = float(text)
    if not value > 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def make_server(
    host: str,
    port: int,
    bootstrap_servers: str,
    *,
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    **gateway_options: Any,
) -> ProxyServer:
    """A bound, not yet serving proxy (port 0 picks a free one); `gateway_options` go to `KafkaGateway`."""
    gateway = KafkaGateway(bootstrap_servers, **gateway_options)
    try:
        return ProxyServer(
            (host, port),
            gateway,
            request_timeout=request_timeout,
            idle_timeout=idle_timeout,
            max_connections=max_connections,
        )
    except (OSError, ValueError):
        gateway.close(0)
        raise


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        server = make_server(
            args.host,
            args.port,
            args.bootstrap_servers,
            linger_ms=args.linger_ms,
            compression=args.compression,
            delivery_timeout_ms=args.delivery_timeout_ms,
            metadata_timeout_ms=args.metadata_timeout_ms,
            topic_wait_ms=args.topic_wait_ms,
            request_timeout=args.request_timeout,
            idle_timeout=args.idle_timeout,
            max_connections=args.max_connections,
        )
    except OSError as exc:
        print(f"rest-proxy: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    return serve(server)


if __name__ == "__main__":
    sys.exit(main())
