"""The local workspace's connection hardening (the REST Proxy's connection protocol): a request that does not arrive
within the request timeout is answered 408 and closed, one connection beyond the cap is answered 503, a body over
the limit is 413, and what aiohttp's parser refuses gets Databricks' error body."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from databricks_local.workspace.server import MAX_BODY_BYTES, WorkspaceServer

TOKEN = "dapi-test-token"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[WorkspaceServer]:
    srv = WorkspaceServer(("127.0.0.1", 0), tmp_path, TOKEN, request_timeout=0.5, max_connections=2)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


def exchange(srv: WorkspaceServer, data: bytes, wait: float = 3.0) -> bytes:
    with socket.create_connection(srv.server_address, timeout=wait) as sock:
        sock.sendall(data)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except TimeoutError:
            pass
    return b"".join(chunks)


def test_a_slow_request_is_answered_408_and_closed(server: WorkspaceServer) -> None:
    started = time.monotonic()
    answer = exchange(
        server, b"GET /api/2.0/workspace/list?path=/ HTTP/1.1\r\nHost: x\r\n"
    )  # headers never end
    assert answer.startswith(b"HTTP/1.1 408") and time.monotonic() - started < 2.5


def test_one_connection_beyond_the_cap_is_503(server: WorkspaceServer) -> None:
    held = [socket.create_connection(server.server_address) for _ in range(2)]
    try:
        time.sleep(0.1)
        answer = exchange(server, b"")
        assert answer.startswith(b"HTTP/1.1 503") and b"Retry-After" in answer
    finally:
        for sock in held:
            sock.close()


def test_a_body_over_the_limit_is_413_and_bad_framing_has_databricks_body(server: WorkspaceServer) -> None:
    head = (
        "POST /api/2.0/workspace/import HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {TOKEN}\r\nContent-Length: {MAX_BODY_BYTES + 1}\r\n\r\n"
    ).encode()
    answer = exchange(server, head)
    assert answer.startswith(b"HTTP/1.1 413")
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["error_code"] == "REQUEST_LIMIT_EXCEEDED"
    bad = exchange(server, b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n")
    assert bad.split(b"\r\n", 1)[0].split()[1] == b"400"
    assert json.loads(bad.split(b"\r\n\r\n", 1)[1])["error_code"] == "MALFORMED_REQUEST"
