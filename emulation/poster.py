"""HTTP delivery of records through the API Gateway, shared by the batch (Kafka topics) and stream (Kinesis) paths.

One `requests.Session` (connection pool, `x-api-key` header, timeouts) per `Poster`. A request that fails with a
connection error, a timeout, 429 or a 5xx is retried with exponential backoff and full jitter (a `Retry-After`
header wins); records the answer marks as failed are retried alone if the failure is transient, and written to
the dead-letter file otherwise. A request the API rejects for good (4xx other than 429) sends all its records to
the dead-letter file with the reason: nothing is dropped silently (a 413 splits the batch in two first). An
API key the API refuses (401/403) or retries running out raise `DeliveryError`, which stops the caller (whose
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
    kinesis_records_body,
    record_value,
    to_json_bytes,
)
from emulation.retry import RetryPolicy

#: Kinesis PutRecords accepts at most this many records per call.
KINESIS_MAX_RECORDS = 500
# Kinesis errors (per record, or for the whole call, which API Gateway maps to 400) worth retrying.
_KINESIS_TRANSIENT = ("ProvisionedThroughputExceededException", "InternalFailure", "LimitExceededException")


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


# A parsed 2xx answer: positions (in the request) of failed records -> (transient?, reason, error code).
Failures = dict[int, tuple[bool, str, Any]]


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

    # --- the two paths --------------------------------------------------------------------------------
    def post_topic(self, topic: str, values: Sequence[Mapping[str, Any]]) -> PostResult:
        """POST the values to `/topics/<topic>` (Kafka REST Proxy v2 body, one request, retried as needed)."""
        return self._deliver(
            "POST",
            f"{self.base_url}/topics/{topic}",
            KAFKA_JSON_CONTENT_TYPE,
            topic,
            values,
            build=kafka_body_bytes,
            failures=_kafka_failures,
        )

    def put_stream(
        self,
        stream: str,
        values: Sequence[Mapping[str, Any]],
        partition_key: Callable[[Mapping[str, Any]], str],
    ) -> PostResult:
        """PUT the values to `/streams/<stream>/records` (Kinesis PutRecords), at most 500 per request."""
        total = PostResult()
        for start in range(0, len(values), KINESIS_MAX_RECORDS):
            part = values[start : start + KINESIS_MAX_RECORDS]
            result = self._deliver(
                "PUT",
                f"{self.base_url}/streams/{stream}/records",
                "application/json",
                stream,
                part,
                build=lambda rows, s=stream: to_json_bytes(kinesis_records_body(s, rows, partition_key)),
                failures=_kinesis_failures,
                transient_4xx=_kinesis_transient_call,
            )
            total.accepted += result.accepted
            total.dead_lettered += result.dead_lettered
            total.requests += result.requests
            total.retries += result.retries
            total.errors += result.errors
        return total

    # --- shared delivery loop -------------------------------------------------------------------------
    def _deliver(
        self,
        method: str,
        url: str,
        content_type: str,
        destination: str,
        values: Sequence[Mapping[str, Any]],
        *,
        build: Callable[[Sequence[Mapping[str, Any]]], bytes],
        failures: Callable[[Any, int], Failures],
        transient_4xx: Callable[[requests.Response], bool] | None = None,
    ) -> PostResult:
        result = PostResult()
        pending = list(values)
        retry = 0
        while pending:
            body = build(pending)
            retry_after: float | None = None
            result.requests += 1
            try:
                response = self._send(method, url, body, content_type)
            except (requests.ConnectionError, requests.Timeout) as exc:
                reason = f"{type(exc).__name__}: cannot reach {url}"
            else:
                status = response.status_code
                if 200 <= status < 300:
                    failed = failures(_json(response), len(pending))
                    retry_again = []
                    for pos, value in enumerate(pending):
                        if pos not in failed:
                            result.accepted += 1
                            continue
                        transient, why, code = failed[pos]
                        if transient:
                            retry_again.append(value)
                        else:
                            self.dead_letters.write(destination, value, why, status, code)
                            result.dead_lettered += 1
                    if not retry_again:
                        return result
                    pending = retry_again
                    reason = f"{len(retry_again)} record(s) failed transiently: {failed[min(failed)][1]}"
                elif status in (401, 403):
                    raise DeliveryError(
                        f"the API refused the request (HTTP {status}: {_snippet(response)}): check the API key "
                        "(PIPELINE_API_KEY or the terraform output api_key)"
                    )
                elif status == 413 and len(pending) > 1:  # too large: deliver each half on its own
                    half = len(pending) // 2
                    for part in (pending[:half], pending[half:]):
                        sub = self._deliver(
                            method,
                            url,
                            content_type,
                            destination,
                            part,
                            build=build,
                            failures=failures,
                            transient_4xx=transient_4xx,
                        )
                        result.accepted += sub.accepted
                        result.dead_lettered += sub.dead_lettered
                        result.requests += sub.requests
                        result.retries += sub.retries
                        result.errors += sub.errors
                    return result
                elif (
                    status == 429 or status >= 500 or (transient_4xx is not None and transient_4xx(response))
                ):
                    retry_after = parse_retry_after(response.headers.get("Retry-After"))
                    reason = f"HTTP {status}: {_snippet(response)}"
                else:
                    why = f"HTTP {status}: {_snippet(response)}"
                    code = _json(response).get("error_code") if isinstance(_json(response), dict) else None
                    self.dead_letters.write_all(destination, pending, why, status, code)
                    result.dead_lettered += len(pending)
                    result.errors.append(why)
                    return result
            result.errors.append(reason)
            if retry + 1 >= self.retry.attempts:
                raise DeliveryError(
                    f"{len(pending)} record(s) for {destination} not delivered after {self.retry.attempts} "
                    f"attempts; last error: {reason}"
                )
            self._sleep(self.retry.delay(retry, retry_after, self._rng))
            retry += 1
            result.retries += 1
        return result

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


#: REST Proxy's per-record `error_code` for a Kafka error that a retry cannot fix (DESIGN 3.3).
KAFKA_FINAL_ERROR = 50002


def _kafka_failures(body: Any, sent: int) -> Failures:
    """Failed records of a REST Proxy 200 answer: entries of `offsets` with an `error_code`.

    `50002` is final: Confluent's "Kafka error" (say, a record larger than the broker accepts) fails again on
    every retry. Other 5xx-class codes (500-599, 50000-59999, e.g. `50003` "Kafka retriable error") are transient;
    anything else is final.
    """
    offsets = body.get("offsets") if isinstance(body, dict) else None
    if not isinstance(offsets, list):
        return {}
    failed: Failures = {}
    for pos, entry in enumerate(offsets[:sent]):
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


def _kinesis_failures(body: Any, sent: int) -> Failures:
    """Failed records of a PutRecords answer (`FailedRecordCount`, `Records[i].ErrorCode`)."""
    if not isinstance(body, dict) or not body.get("FailedRecordCount"):
        return {}
    failed: Failures = {}
    for pos, entry in enumerate(body.get("Records", [])[:sent]):
        code = entry.get("ErrorCode") if isinstance(entry, dict) else None
        if code:
            failed[pos] = (code in _KINESIS_TRANSIENT, f"{code}: {entry.get('ErrorMessage', '')}", code)
    return failed


def _kinesis_transient_call(response: requests.Response) -> bool:
    """API Gateway maps every Kinesis 4xx to 400; throughput errors among them are worth a retry."""
    body = _json(response)
    kind = str(body.get("__type", "")) if isinstance(body, dict) else ""
    return any(name in kind for name in _KINESIS_TRANSIENT)
