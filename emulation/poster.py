"""HTTP delivery of records through the API Gateway, shared by the batch (Kafka topics) and stream (Kinesis) paths.

Routes: `POST /topics/<topic>` (REST Proxy v2 body), `PUT /streams/<stream>/records` (Kinesis PutRecords, at most
500 per request) and `PUT /streams/<stream>/record` (PutRecord, the course's one-record call); bodies as in
docs/data-contracts.md 3.3 and 3.5. One `requests.Session` (connection pool, `x-api-key` header, timeouts) per
`Poster`, or a new connection per request (the course's way).

An answer that carries per-record results (the REST Proxy's `offsets`, PutRecords' `Records`), whatever its
status, is settled record by record: accepted records count, final failures (say `50002`, a record larger than
the broker accepts) go to the dead-letter file with their reason, and only the transient ones (`50003`,
`ProvisionedThroughputExceededException`, ...) are sent again. A request that fails as a whole with a connection
error, a timeout, 429, a 5xx or a Kinesis throughput error is sent again. Every wait comes from the one retry
policy (`emulation/retry.py`: exponential backoff with full jitter; a `Retry-After` header wins). A request the
API rejects for good (another 4xx) sends all its records to the dead-letter file with the reason: nothing is
dropped silently. A rejection that one record can cause for all (413 too large; Kinesis' InvalidArgumentException,
say a record over its 1 MiB limit) splits the request in halves first, so only that record is dead-lettered.
An API key the API refuses (401/403) or retries running out raise `DeliveryError`, which stops the caller (whose
checkpoint then holds only what was delivered).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from emulation.payloads import (
    KAFKA_JSON_CONTENT_TYPE,
    kafka_body_bytes,
    kinesis_record_body,
    kinesis_records_body,
    record_value,
    to_json_bytes,
)
from emulation.retry import RetryPolicy

#: Kinesis PutRecords accepts at most this many records per call.
KINESIS_MAX_RECORDS = 500
# Kinesis errors (per record, or for the whole call, which API Gateway maps to 400) worth retrying.
_KINESIS_TRANSIENT = ("ProvisionedThroughputExceededException", "InternalFailure", "LimitExceededException")
# Kinesis rejections of a whole call that one record can cause (say one larger than the 1 MiB record limit: the
# whole PutRecords fails with InvalidArgumentException "Data object is too large").
_KINESIS_ONE_BAD_RECORD = ("InvalidArgumentException", "ValidationException")


class DeliveryError(Exception):
    """The API stayed unreachable or kept failing after every retry."""


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class DeadLetters:
    """Append-only JSONL file of records the API rejected for good, one line per record with the reason."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.count = 0
        self._lock = threading.Lock()

    def write(
        self,
        destination: str,
        value: Any,
        reason: str,
        status: int | None = None,
        error_code: int | str | None = None,
    ) -> None:
        self.write_all(destination, [value], reason, status, error_code)

    def write_all(
        self,
        destination: str,
        values: Sequence[Any],
        reason: str,
        status: int | None = None,
        error_code: int | str | None = None,
    ) -> None:
        """One line per value, all with the same reason."""
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        lines = [
            json.dumps(
                {
                    "time": now,
                    "destination": destination,
                    "status": status,
                    "error_code": error_code,
                    "reason": reason,
                    "value": record_value(value) if isinstance(value, Mapping) else value,
                },
                default=str,
            )
            + "\n"
            for value in values
        ]
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as f:
                f.writelines(lines)
            self.count += len(lines)


class RateLimiter:
    """At most `rate` records per second over all threads (None or 0: unlimited)."""

    def __init__(
        self,
        rate: float | None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = rate or None
        self._clock = clock
        self._sleep = sleep
        self._next = clock()
        self._lock = threading.Lock()

    def acquire(self, records: int) -> float:
        """Block until `records` more may go; returns the seconds waited."""
        if not self.rate:
            return 0.0
        with self._lock:
            now = self._clock()
            start = max(now, self._next)
            self._next = start + records / self.rate
        wait = start - now
        if wait > 0:
            self._sleep(wait)
        return max(wait, 0.0)


@dataclass
class PostResult:
    """What became of one call's records."""

    accepted: int = 0
    dead_lettered: int = 0
    requests: int = 0
    retries: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: PostResult) -> None:
        """Count `other`'s records and requests in this result too."""
        self.accepted += other.accepted
        self.dead_lettered += other.dead_lettered
        self.requests += other.requests
        self.retries += other.retries
        self.errors += other.errors


# Per-record results of an answer: positions (in the request) of failed records -> (transient?, reason, error
# code); None when the answer carries no per-record results.
Failures = dict[int, tuple[bool, str, Any]]


@dataclass(frozen=True)
class _Route:
    """One API route: how to build its body and read its per-record results."""

    method: str
    url: str
    content_type: str
    destination: str
    build: Callable[[Sequence[Mapping[str, Any]]], bytes]
    failures: Callable[[Any, int], Failures | None]
    transient_4xx: Callable[[requests.Response], bool] | None = None
    #: A rejection of the whole request that one record may cause: the request is split to find that record.
    one_bad_record: Callable[[requests.Response], bool] | None = None


class Poster:
    """Posts records to the API Gateway (`base_url` = invoke URL) with the API key."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        dead_letters: DeadLetters,
        retry: RetryPolicy | None = None,
        timeout: tuple[float, float] = (5.0, 30.0),
        pool_size: int = 8,
        reuse_connections: bool = True,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.dead_letters = dead_letters
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self.reuse_connections = reuse_connections
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._headers = {"x-api-key": api_key} if api_key else {}
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=max(pool_size, 1))
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update(self._headers)

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> Poster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the routes -----------------------------------------------------------------------------------
    def post_topic(self, topic: str, values: Sequence[Mapping[str, Any]]) -> PostResult:
        """POST the values to `/topics/<topic>` (Kafka REST Proxy v2 body, one request, retried as needed)."""
        route = _Route(
            "POST",
            f"{self.base_url}/topics/{topic}",
            KAFKA_JSON_CONTENT_TYPE,
            topic,
            build=kafka_body_bytes,
            failures=_kafka_failures,
        )
        return self._deliver(route, values)

    def put_stream(
        self,
        stream: str,
        values: Sequence[Mapping[str, Any]],
        partition_key: Callable[[Mapping[str, Any]], str],
    ) -> PostResult:
        """PUT the values to `/streams/<stream>/records` (Kinesis PutRecords), at most 500 per request."""
        route = _Route(
            "PUT",
            f"{self.base_url}/streams/{stream}/records",
            "application/json",
            stream,
            build=lambda rows: to_json_bytes(kinesis_records_body(stream, rows, partition_key)),
            failures=_kinesis_failures,
            transient_4xx=_kinesis_transient_call,
            one_bad_record=_kinesis_one_bad_record,
        )
        total = PostResult()
        for start in range(0, len(values), KINESIS_MAX_RECORDS):
            total.add(self._deliver(route, values[start : start + KINESIS_MAX_RECORDS]))
        return total

    def put_stream_record(self, stream: str, value: Mapping[str, Any], partition_key: str) -> PostResult:
        """PUT one value to `/streams/<stream>/record` (Kinesis PutRecord), the course's call:
        `{"StreamName": ..., "Data": {...}, "PartitionKey": ...}` (docs/data-contracts.md 3.5)."""
        route = _Route(
            "PUT",
            f"{self.base_url}/streams/{stream}/record",
            "application/json",
            stream,
            build=lambda rows: to_json_bytes(kinesis_record_body(stream, rows[0], partition_key)),
            failures=lambda _body, _sent: None,  # PutRecord answers for its one record as a whole
            transient_4xx=_kinesis_transient_call,
        )
        return self._deliver(route, [value])

    # --- shared delivery loop -------------------------------------------------------------------------
    def _deliver(self, route: _Route, values: Sequence[Mapping[str, Any]]) -> PostResult:
        """Send `values` in one request, then again only those still pending, until each is accepted or
        dead-lettered. Waits come from the retry policy; `DeliveryError` when it allows no further try."""
        result = PostResult()
        pending = list(values)
        retry = 0
        while pending:
            result.requests += 1
            retry_after: float | None = None
            try:
                response = self._send(route.method, route.url, route.build(pending), route.content_type)
            except (requests.ConnectionError, requests.Timeout) as exc:
                reason = f"{type(exc).__name__}: cannot reach {route.url}"
            else:
                status = response.status_code
                body = _json(response)
                results = route.failures(body, len(pending))
                if results is not None or 200 <= status < 300:
                    # Per-record results, whatever the status (the REST Proxy answers 500 when every record
                    # failed): the final failures are dead-lettered, only the transient ones go again.
                    failed = results or {}
                    pending = self._settle(route, pending, failed, status, result)
                    if not pending:
                        return result
                    why = next(why for transient, why, _code in failed.values() if transient)
                    reason = f"{len(pending)} record(s) failed transiently: {why}"
                    retry_after = parse_retry_after(response.headers.get("Retry-After"))
                elif status in (401, 403):
                    raise DeliveryError(
                        f"the API refused the request (HTTP {status}: {_snippet(response)}): check the API key "
                        "(PIPELINE_API_KEY or the terraform output api_key)"
                    )
                elif len(pending) > 1 and (
                    status == 413 or (route.one_bad_record is not None and route.one_bad_record(response))
                ):  # too large, or one bad record fails them all: deliver each half on its own
                    half = len(pending) // 2
                    for part in (pending[:half], pending[half:]):
                        result.add(self._deliver(route, part))
                    return result
                elif (
                    status == 429 or status >= 500 or (route.transient_4xx and route.transient_4xx(response))
                ):
                    retry_after = parse_retry_after(response.headers.get("Retry-After"))
                    reason = f"HTTP {status}: {_snippet(response)}"
                else:
                    why = f"HTTP {status}: {_snippet(response)}"
                    code = body.get("error_code") if isinstance(body, dict) else None
                    self.dead_letters.write_all(route.destination, pending, why, status, code)
                    result.dead_lettered += len(pending)
                    result.errors.append(why)
                    return result
            result.errors.append(reason)
            if not self.retry.may_retry(retry):
                raise DeliveryError(
                    f"{len(pending)} record(s) for {route.destination} not delivered after {retry + 1} "
                    f"attempts; last error: {reason}"
                )
            self._sleep(self.retry.delay(retry, retry_after, self._rng))
            retry += 1
            result.retries += 1
        return result

    def _settle(
        self,
        route: _Route,
        pending: list[Mapping[str, Any]],
        failed: Failures,
        status: int,
        result: PostResult,
    ) -> list[Mapping[str, Any]]:
        """Count the accepted records, dead-letter the final failures; return the records worth another try."""
        again: list[Mapping[str, Any]] = []
        for pos, value in enumerate(pending):
            if pos not in failed:
                result.accepted += 1
                continue
            transient, why, code = failed[pos]
            if transient:
                again.append(value)
            else:
                self.dead_letters.write(route.destination, value, why, status, code)
                result.dead_lettered += 1
        return again

    def _send(self, method: str, url: str, body: bytes, content_type: str) -> requests.Response:
        headers = {"Content-Type": content_type, "Accept": "application/json"}
        if self.reuse_connections:
            return self.session.request(method, url, data=body, headers=headers, timeout=self.timeout)
        # The course's way: a fresh connection (and session) for every request.
        return requests.request(
            method,
            url,
            data=body,
            headers={**headers, **self._headers, "Connection": "close"},
            timeout=self.timeout,
        )


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _snippet(response: requests.Response) -> str:
    text = response.text.strip().replace("\n", " ")
    return text[:300] or response.reason or ""


#: REST Proxy's per-record `error_code` for a Kafka error that a retry cannot fix (docs/data-contracts.md 3.3).
KAFKA_FINAL_ERROR = 50002


def _kafka_failures(body: Any, sent: int) -> Failures | None:
    """Per-record results of a REST Proxy answer: the entries of `offsets` (one per record sent) with an
    `error_code` are the failures; None when the body has no such list (say a 404 or a gateway error).

    `50002` is final: Confluent's "Kafka error" (say, a record larger than the broker accepts) fails again on
    every retry. Other 5xx-class codes (500-599, 50000-59999, e.g. `50003` "Kafka retriable error") are transient;
    anything else is final.
    """
    offsets = body.get("offsets") if isinstance(body, dict) else None
    if not isinstance(offsets, list) or len(offsets) != sent:
        return None
    failed: Failures = {}
    for pos, entry in enumerate(offsets):
        code = entry.get("error_code") if isinstance(entry, dict) else None
        if code is None:
            continue
        try:
            number = int(code)
        except (TypeError, ValueError):
            number = 0
        transient = number != KAFKA_FINAL_ERROR and (500 <= number < 600 or 50000 <= number < 60000)
        failed[pos] = (transient, f"error_code {code}: {entry.get('error') or 'record rejected'}", code)
    return failed


def _kinesis_failures(body: Any, sent: int) -> Failures | None:
    """Per-record results of a PutRecords answer (`Records[i].ErrorCode`; `FailedRecordCount` says how many);
    None when the body has no `Records` list of one entry per record sent."""
    records = body.get("Records") if isinstance(body, dict) else None
    if not isinstance(records, list) or len(records) != sent:
        return None
    failed: Failures = {}
    for pos, entry in enumerate(records):
        code = entry.get("ErrorCode") if isinstance(entry, dict) else None
        if code:
            failed[pos] = (code in _KINESIS_TRANSIENT, f"{code}: {entry.get('ErrorMessage', '')}", code)
    return failed


def _kinesis_error_type(response: requests.Response) -> str:
    """The Kinesis error type of an answer (`__type`; API Gateway maps every Kinesis 4xx to 400), or ''."""
    body = _json(response)
    return str(body.get("__type", "")) if isinstance(body, dict) else ""


def _kinesis_transient_call(response: requests.Response) -> bool:
    """Throughput errors among the 400s are worth a retry."""
    kind = _kinesis_error_type(response)
    return any(name in kind for name in _KINESIS_TRANSIENT)


def _kinesis_one_bad_record(response: requests.Response) -> bool:
    """A validation error of the whole PutRecords call, which one record (too large, say) is enough to cause."""
    kind = _kinesis_error_type(response)
    return any(name in kind for name in _KINESIS_ONE_BAD_RECORD)
