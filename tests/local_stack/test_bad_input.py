"""Bad input at the batch API (issue 11, "Bad input"): one case per row, sent through the API Gateway of the real
local stack and directly at its REST Proxy (docs/data-contracts.md 3.3), each answered with an exact status and
error body, each followed by a valid post that must still succeed with the next offset, so a rejected request is
shown to have produced nothing.

The posts go to a topic made for this module (outside the user's `<user_id>.` prefix, so the S3 sink does not
copy the large cases into the lake). Paths are sent as written (http.client does not resolve `..`). What
LocalStack's API Gateway does differently from AWS is asserted as it is: it does not enforce API Gateway's 10 MB
payload limit (a 20 MB body reaches the proxy), and it resolves `..` path segments before forwarding.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest

from local_stack.rest_proxy import JSON_V2, ensure_topics
from local_stack.supervisor import StackInfo

pytestmark = pytest.mark.integration

VALID = json.dumps({"records": [{"value": {"ind": 1, "title": "ok"}}]}).encode()
INVALID_NAME = (
    " is not a valid Kafka topic name (1 to 249 characters of a-z, A-Z, 0-9, '.', '_', '-'; not '.' or '..')"
)


def _records(count: int, size: int = 0) -> bytes:
    return json.dumps({"records": [{"value": {"ind": i, "s": "x" * size}} for i in range(count)]}).encode()


@dataclass(frozen=True)
class Case:
    """One row: what is sent (`{topic}` in `path` is the module's topic) and what each target answers."""

    name: str
    expect: dict[str, tuple[int, dict[str, Any] | None]]  # target -> (status, exact JSON body or None)
    method: str = "POST"
    path: str = "/topics/{topic}"
    body: bytes | None = VALID
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": JSON_V2})
    api_key: str | None = "valid"  # "valid", a literal key, or None for no key header
    produced: int = 0  # records a target that answers 200 produces
    prefix: bool = False  # the message is checked as a prefix (the rest is the parser's own position text)


def both(status: int, body: dict[str, Any] | None) -> dict[str, tuple[int, dict[str, Any] | None]]:
    return {"api": (status, body), "direct": (status, body)}


def error(code: int, message: str) -> dict[str, Any]:
    return {"error_code": code, "message": message}


FORBIDDEN = {"api": (403, {"message": "Forbidden"})}
NOT_ALLOWED = both(405, error(405, "HTTP 405 Method Not Allowed"))

CASES = [
    Case("no API key", FORBIDDEN, api_key=None),
    Case("wrong API key", FORBIDDEN, api_key="not-the-key"),
    Case(
        "wrong Content-Type",
        both(
            415,
            error(
                415,
                f"HTTP 415 Unsupported Media Type: Content-Type is 'application/json'; use {JSON_V2}",
            ),
        ),
        headers={"Content-Type": "application/json"},
    ),
    Case(
        "missing Content-Type",
        both(415, error(415, f"HTTP 415 Unsupported Media Type: Content-Type is missing; use {JSON_V2}")),
        headers={},
    ),
    Case(
        "charset that is no text encoding",
        both(415, error(415, "HTTP 415 Unsupported Media Type: unknown charset 'base64'")),
        headers={"Content-Type": f"{JSON_V2}; charset=base64"},
    ),
    Case(
        "malformed JSON",
        both(400, error(400, "Malformed JSON: unexpected end of data: line 1 column 14 (char 13)")),
        body=b'{"records": [',
    ),
    Case("empty body", both(422, error(422, "Request body is empty")), body=b""),
    Case("records empty", both(422, error(422, "records may not be empty")), body=b'{"records": []}'),
    Case(
        "records not a list",
        both(422, error(422, "records must be an array")),
        body=b'{"records": {"value": 1}}',
    ),
    Case(
        "record without value",
        both(422, error(422, "records[0]: value may not be null")),
        body=b'{"records": [{"key": "k"}]}',
    ),
    Case("2 MB body", both(200, None), body=_records(20, 100_000), produced=20),
    # API Gateway refuses more than 10 MB; LocalStack does not, so the proxy (64 MiB limit) takes it
    Case("20 MB body", both(200, None), body=_records(200, 100_000), produced=200),
    Case("50,000 records", both(200, None), body=_records(50_000), produced=50_000),
    Case(
        "deep nesting",
        both(
            422,
            error(
                422,
                "JSON nested too deeply: records[0].value is nested more than 254 levels deep; flatten the record",
            ),
        ),
        body=b'{"records":[{"value":' + b"[" * 600 + b"]" * 600 + b"}]}",
    ),
    Case(
        "deeper than the parser reads",
        both(
            422,
            error(
                422,
                "JSON nested too deeply: the body is nested more than 1024 levels deep; flatten the record",
            ),
        ),
        body=b'{"records":[{"value":' + b"[" * 5000 + b"]" * 5000 + b"}]}",
    ),
    Case(
        "non-UTF-8 bytes",
        both(400, error(400, "Malformed JSON: str is not valid UTF-8")),
        body=b'{"records":[{"value":"caf\xe9 \xff\xfe"}]}',
        prefix=True,
    ),
    Case(
        "unknown topic",
        both(404, error(40401, "Topic not found.")),
        path="/topics/{topic}-missing",
    ),
    Case("%2e%2e", both(404, error(40401, "Topic not found: '..'" + INVALID_NAME)), path="/topics/%2e%2e"),
    Case(
        "path traversal ..",
        # LocalStack resolves the dot segment: the proxy sees POST /topics
        {
            "api": (405, error(405, "HTTP 405 Method Not Allowed")),
            "direct": (404, error(40401, "Topic not found: '..'" + INVALID_NAME)),
        },
        path="/topics/..",
    ),
    Case(
        "path traversal back to a topic",
        # LocalStack resolves /topics/../topics/<topic> to /topics/<topic>; the proxy itself has no such path
        {"api": (200, None), "direct": (404, error(404, "HTTP 404 Not Found"))},
        path="/topics/../topics/{topic}",
        produced=1,
    ),
    Case(
        "encoded slash",
        both(404, error(40401, "Topic not found: 'a/b'" + INVALID_NAME)),
        path="/topics/a%2fb",
    ),
    Case(
        "topic name of 250 characters",
        both(404, error(40401, f"Topic not found: '{'x' * 60}... (250 characters)'" + INVALID_NAME)),
        path="/topics/" + "x" * 250,
    ),
    Case(
        "unicode topic name",
        both(404, error(40401, "Topic not found: 'caf\u00e9'" + INVALID_NAME)),
        path="/topics/caf%C3%A9",
    ),
    Case("PUT", NOT_ALLOWED, method="PUT"),
    Case("DELETE", NOT_ALLOWED, method="DELETE", body=None),
    Case("PATCH", NOT_ALLOWED, method="PATCH"),
]


@dataclass
class Target:
    """Where the requests go: the API Gateway stage (with its key) or the proxy itself."""

    name: str
    port: int
    prefix: str
    api_key: str | None


@dataclass
class Ledger:
    """The offset the next record produced to the module's topic gets (both targets write that one topic)."""

    next_offset: int | None = None


@pytest.fixture(scope="module")
def topic(stack: StackInfo) -> str:
    name = f"badinput{uuid.uuid4().hex[:8]}.pin"
    assert ensure_topics(stack.bootstrap_servers, [name]) == [name]
    return name


@pytest.fixture(scope="module")
def ledger() -> Ledger:
    return Ledger()


@pytest.fixture(scope="module")
def targets(stack: StackInfo) -> Iterator[dict[str, Target]]:
    assert stack.invoke_url and stack.api_key, "the stack has no invoke URL or API key"
    api, direct = urlsplit(stack.invoke_url), urlsplit(stack.rest_proxy_url)
    yield {
        "api": Target("api", api.port or 80, api.path.rstrip("/"), stack.api_key),
        "direct": Target("direct", direct.port or 80, "", None),
    }


def send(
    target: Target, method: str, path: str, body: bytes | None, headers: dict[str, str]
) -> tuple[int, dict[str, str], Any]:
    conn = http.client.HTTPConnection("127.0.0.1", target.port, timeout=60)
    try:
        conn.request(method, target.prefix + path, body=body, headers=headers)
        response = conn.getresponse()
        payload = response.read()
        return response.status, dict(response.getheaders()), json.loads(payload) if payload else None
    finally:
        conn.close()


def post_valid(target: Target, topic: str, ledger: Ledger, produced_since: int = 0) -> None:
    """A valid post after a case: 200, and its offset shows the case produced exactly `produced_since`."""
    headers = {"Content-Type": JSON_V2, **({"x-api-key": target.api_key} if target.api_key else {})}
    status, _, body = send(target, "POST", f"/topics/{topic}", VALID, headers)
    assert status == 200, body
    ((entry),) = body["offsets"]
    assert entry["error_code"] is None
    if ledger.next_offset is not None:
        assert entry["offset"] == ledger.next_offset + produced_since, "a rejected request produced records"
    ledger.next_offset = entry["offset"] + 1


ROWS = [pytest.param(case, name, id=f"{case.name}-{name}") for case in CASES for name in case.expect]


@pytest.mark.parametrize(("case", "target_name"), ROWS)
def test_bad_input_gets_its_exact_answer_and_the_next_valid_post_succeeds(
    case: Case, target_name: str, targets: dict[str, Target], topic: str, ledger: Ledger
) -> None:
    target = targets[target_name]
    if ledger.next_offset is None:
        post_valid(target, topic, ledger)
    headers = dict(case.headers)
    if target_name == "api" and case.api_key is not None:
        headers["x-api-key"] = target.api_key if case.api_key == "valid" else case.api_key
    started = time.monotonic()
    status, response_headers, body = send(
        target, case.method, case.path.format(topic=topic), case.body, headers
    )
    expected_status, expected_body = case.expect[target_name]
    assert status == expected_status, body
    if expected_body is None:  # accepted: one offset per record, in order
        offsets = [o["offset"] for o in body["offsets"]]
        assert {o["error_code"] for o in body["offsets"]} == {None}
        assert offsets == list(range(ledger.next_offset, ledger.next_offset + case.produced))
    elif case.prefix:
        assert body["error_code"] == expected_body["error_code"]
        assert body["message"].startswith(expected_body["message"]), body["message"]
    else:
        assert body == expected_body
    if case.method != "POST":
        assert response_headers["Allow"] == "GET, POST"
    assert time.monotonic() - started < 30
    post_valid(target, topic, ledger, case.produced if status == 200 else 0)


def _raw(port: int, request: bytes, timeout: float = 20) -> tuple[int, dict[str, str], Any, float]:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        started = time.monotonic()
        sock.sendall(request)
        response = http.client.HTTPResponse(sock)
        response.begin()
        payload = response.read()
        return response.status, dict(response.getheaders()), json.loads(payload), time.monotonic() - started


@pytest.mark.parametrize(
    ("length_header", "status", "message"),
    [
        ("Content-Length: -1\r\n", 400, "HTTP 400 Bad Request: invalid Content-Length '-1'"),
        ("Content-Length: ten\r\n", 400, "HTTP 400 Bad Request: invalid Content-Length 'ten'"),
        ("", 411, "HTTP 411 Length Required: send Content-Length or Transfer-Encoding: chunked"),
    ],
    ids=["length -1", "length not a number", "no length"],
)
def test_a_body_of_unknown_length_is_refused_at_once_directly(
    length_header: str, status: int, message: str, targets: dict[str, Target], topic: str, ledger: Ledger
) -> None:
    target = targets["direct"]
    if ledger.next_offset is None:
        post_valid(target, topic, ledger)
    request = f"POST /topics/{topic} HTTP/1.1\r\nHost: x\r\nContent-Type: {JSON_V2}\r\n{length_header}\r\n"
    got, headers, body, elapsed = _raw(target.port, request.encode() + VALID)
    assert (got, body) == (status, error(status, message))
    assert headers["Connection"] == "close" and elapsed < 2  # no wait for the client to close
    post_valid(target, topic, ledger)


def test_a_slow_client_gets_408_and_does_not_block_a_valid_post_directly(
    targets: dict[str, Target], topic: str, ledger: Ledger
) -> None:
    target = targets["direct"]
    if ledger.next_offset is None:
        post_valid(target, topic, ledger)
    with socket.create_connection(("127.0.0.1", target.port), timeout=30) as slow:
        started = time.monotonic()
        head = f"POST /topics/{topic} HTTP/1.1\r\nHost: x\r\nContent-Type: {JSON_V2}\r\nContent-Length: 500\r\n\r\n"
        slow.sendall(head.encode() + b'{"records": [')  # and then nothing
        post_valid(target, topic, ledger)  # served meanwhile
        assert time.monotonic() - started < 2
        response = http.client.HTTPResponse(slow)
        response.begin()
        body = json.loads(response.read())
        waited = time.monotonic() - started
    assert (response.status, body["error_code"]) == (408, 408)
    assert body["message"].startswith("HTTP 408 Request Timeout: the body did not arrive within")
    assert 1 < waited < 15  # the proxy's request timeout (10 s by default)
    post_valid(target, topic, ledger)
