"""The REST Proxy's fixed names, codes and limits: content types, Confluent's error codes
(io.confluent.kafkarest.Errors and rest-utils' exception mappers), default limits, and `ProxyError`, the one
exception every layer raises for a client-visible error (HTTP status plus Confluent's
`{"error_code", "message"}` body)."""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

from confluent_kafka import KafkaError

from emulation.retry import RetryPolicy

JSON_V2 = "application/vnd.kafka.json.v2+json"
RESPONSE_CONTENT_TYPE = "application/vnd.kafka.v2+json"
BINARY_V2 = "application/vnd.kafka.binary.v2+json"
#: Accept values of a records read and the consumer format each serves (Confluent: binary is the default).
RECORD_FORMATS = {JSON_V2: "json", BINARY_V2: "binary", RESPONSE_CONTENT_TYPE: "binary"}

# Confluent REST Proxy error codes (io.confluent.kafkarest.Errors and rest-utils' exception mappers).
TOPIC_NOT_FOUND = 40401
PARTITION_NOT_FOUND = 40402
UNPROCESSABLE = 422
KAFKA_ERROR = 50002
KAFKA_RETRIABLE_ERROR = 50003
CONSUMER_NOT_FOUND = 40403
CONSUMER_FORMAT_MISMATCH = 40601
CONSUMER_ALREADY_SUBSCRIBED = 40901
CONSUMER_ALREADY_EXISTS = 40902
ILLEGAL_STATE = 40903
INVALID_CONSUMER_CONFIG = 42204

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
#: Connections open at once (each costs a socket, not a thread); more are answered 503 with Retry-After.
DEFAULT_MAX_CONNECTIONS = 1024
#: Threads that run the blocking Kafka calls (produce waits, consumer polls) off the event loop.
DEFAULT_WORKER_THREADS = 64
#: Confluent's defaults: an idle consumer instance is deleted after 5 min; a records read waits up to 1 s.
DEFAULT_CONSUMER_INSTANCE_TIMEOUT_MS = 300_000
DEFAULT_CONSUMER_REQUEST_TIMEOUT_MS = 1_000
#: Tansu holds a group join for about half the session timeout (docs/data-contracts.md 5): keep it short.
DEFAULT_CONSUMER_SESSION_TIMEOUT_MS = 6_000
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


def error_code_for(error: KafkaError) -> int:
    """Confluent's per-record error code for a Kafka error: 50003 when retriable, else 50002."""
    return KAFKA_RETRIABLE_ERROR if error.retriable() or error.code() in RETRIABLE_ERRORS else KAFKA_ERROR


def not_found(message: str = "HTTP 404 Not Found", code: int = HTTPStatus.NOT_FOUND) -> ProxyError:
    return ProxyError(HTTPStatus.NOT_FOUND, code, message)


def unprocessable(message: str, code: int = UNPROCESSABLE) -> ProxyError:
    return ProxyError(HTTPStatus.UNPROCESSABLE_ENTITY, code, message)


def kafka_failure(error: KafkaError, what: str) -> ProxyError:
    """A 500 for a broker call that failed: 50003 when retriable, else 50002, as Confluent's consumer API."""
    code = error_code_for(error)
    prefix = "Retriable Kafka error" if code == KAFKA_RETRIABLE_ERROR else "Kafka error"
    return ProxyError(HTTPStatus.INTERNAL_SERVER_ERROR, code, f"{prefix}: {what}: {error.str()}")
