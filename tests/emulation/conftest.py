"""Fixtures of the emulation tests: a seeded SQLite source database and a scriptable fake API on 127.0.0.1.

The fake stands in for the API Gateway + REST Proxy / Kinesis only in unit tests of our own client logic
(retries, dead letters, checkpoints); the integration tests use the real local stack.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from emulation.config import Config
from emulation.names import PipelineNames
from emulation.source_db import seed_database

API_KEY = "test-key-123"
KAFKA_JSON = "application/vnd.kafka.json.v2+json"


@dataclass
class Scripted:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class FakeApi:
    """Accepts `POST /topics/<topic>`, `PUT /streams/<stream>/records` (PutRecords) and `PUT /streams/<stream>/record`
    (PutRecord, the course's call) for the topics/streams of `user_id`, answering as the real API does
    (docs/data-contracts.md 3.3, 3.5): a topic request whose every record failed gets a 500 that still carries the
    per-record `offsets` (as local_stack/rest_proxy/ does); a failed PutRecord is a 400 with the Kinesis
    `__type`, as API Gateway maps it.

    `script(...)` queues whole-request answers returned before normal handling; `record_errors` maps a value
    predicate to a per-record error (`error_code` for topics, `ErrorCode` for streams), each used `times` times.
    `reject_requests(...)` answers a whole stream request with an error when any of its records matches (as Kinesis
    fails a whole PutRecords for one record over its size limit). `bodies` keeps every parsed request body that
    got past the key check, with its path.
    """

    def __init__(self, user_id: str = "testuser") -> None:
        names = PipelineNames(user_id)
        self.topics = set(names.topics.values())
        self.streams = set(names.streams.values())
        self.values: dict[str, list[dict]] = defaultdict(list)
        self.requests: list[tuple[str, str, int]] = []  # (method, path, records)
        self.bodies: list[tuple[str, Any]] = []  # (path, parsed body)
        self.scripted: deque[Scripted] = deque()
        self.record_errors: list[list[Any]] = []  # [predicate, error, times_left]
        self.request_errors: list[tuple[Callable[[dict], bool], int, Any]] = []  # (predicate, status, body)
        self.lock = threading.Lock()
        self.request_hook: Callable[[int], None] | None = None
        self.connections: set[tuple[str, int]] = set()  # client addresses seen: one per TCP connection
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                fake._handle(self)

            do_PUT = do_POST

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/local"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def script(
        self, status: int, body: Any = None, headers: dict[str, str] | None = None, times: int = 1
    ) -> None:
        for _ in range(times):
            self.scripted.append(
                Scripted(status, body if body is not None else {"message": "x"}, headers or {})
            )

    def fail_records(self, predicate: Callable[[dict], bool], error: Any, times: int = 10**9) -> None:
        self.record_errors.append([predicate, error, times])

    def reject_requests(self, predicate: Callable[[dict], bool], status: int, body: Any) -> None:
        self.request_errors.append((predicate, status, body))

    def _request_error(self, values: list[dict]) -> tuple[int, Any] | None:
        for predicate, status, body in self.request_errors:
            if any(predicate(v) for v in values):
                return status, body
        return None

    def _send(
        self, h: BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(body).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        raw = h.rfile.read(int(h.headers.get("Content-Length", 0)))
        path = h.path.removeprefix("/local")
        with self.lock:
            self.connections.add(h.client_address)
            if self.request_hook is not None:
                self.request_hook(len(self.requests))
            if h.headers.get("x-api-key") != API_KEY:
                self.requests.append((h.command, path, 0))
                return self._send(h, 403, {"message": "Forbidden"})
            if self.scripted:
                s = self.scripted.popleft()
                self.requests.append((h.command, path, 0))
                return self._send(h, s.status, s.body, s.headers)
            body = json.loads(raw)
            self.bodies.append((path, body))
            if h.command == "POST" and path.startswith("/topics/"):
                topic = path.removeprefix("/topics/")
                if h.headers.get("Content-Type") != KAFKA_JSON:
                    return self._send(
                        h, 415, {"error_code": 415, "message": "HTTP 415 Unsupported Media Type"}
                    )
                if topic not in self.topics:
                    return self._send(h, 404, {"error_code": 40401, "message": "Topic not found."})
                values = [r["value"] for r in body["records"]]
                self.requests.append((h.command, path, len(values)))
                offsets = []
                for v in values:
                    err = self._record_error(v)
                    if err is None:
                        self.values[topic].append(v)
                        offsets.append(
                            {"partition": 0, "offset": len(self.values[topic]) - 1, "error_code": None}
                        )
                    else:
                        offsets.append(
                            {"partition": None, "offset": None, "error_code": err, "error": "boom"}
                        )
                answer = {"offsets": offsets, "key_schema_id": None, "value_schema_id": None}
                codes = [o["error_code"] for o in offsets]
                if offsets and all(
                    codes
                ):  # every record failed: 500, offsets included (local_stack/rest_proxy/http_api.py)
                    code = 50003 if 50003 in codes else 50002
                    return self._send(h, 500, {"error_code": code, "message": "Kafka error: boom", **answer})
                return self._send(h, 200, answer)
            if h.command == "PUT" and path.startswith("/streams/") and path.endswith("/records"):
                stream = path.removeprefix("/streams/").removesuffix("/records")
                if stream not in self.streams:
                    return self._send(h, 400, {"__type": "ResourceNotFoundException", "message": "no stream"})
                records = body["Records"]
                self.requests.append((h.command, path, len(records)))
                if (rejected := self._request_error([r["Data"] for r in records])) is not None:
                    return self._send(h, *rejected)
                out, failed = [], 0
                for r in records:
                    assert isinstance(r["Data"], dict) and isinstance(r["PartitionKey"], str)
                    err = self._record_error(r["Data"])
                    if err is None:
                        self.values[stream].append(r["Data"])
                        out.append({"SequenceNumber": str(len(self.values[stream])), "ShardId": "shardId-0"})
                    else:
                        failed += 1
                        out.append({"ErrorCode": err, "ErrorMessage": "boom"})
                return self._send(h, 200, {"FailedRecordCount": failed, "Records": out})
            if h.command == "PUT" and path.startswith("/streams/") and path.endswith("/record"):
                stream = path.removeprefix("/streams/").removesuffix("/record")
                if stream not in self.streams:
                    return self._send(h, 400, {"__type": "ResourceNotFoundException", "message": "no stream"})
                self.requests.append((h.command, path, 1))
                assert set(body) == {"StreamName", "Data", "PartitionKey"} and isinstance(body["Data"], dict)
                if (rejected := self._request_error([body["Data"]])) is not None:
                    return self._send(h, *rejected)
                err = self._record_error(body["Data"])
                if err is not None:
                    return self._send(h, 400, {"__type": err, "message": "boom"})
                self.values[stream].append(body["Data"])
                return self._send(
                    h, 200, {"SequenceNumber": str(len(self.values[stream])), "ShardId": "shardId-0"}
                )
            return self._send(h, 404, {"error_code": 404, "message": "HTTP 404 Not Found"})

    def _record_error(self, value: dict) -> Any:
        for entry in self.record_errors:
            predicate, error, left = entry
            if left > 0 and predicate(value):
                entry[2] -= 1
                return error
        return None


@pytest.fixture
def fake_api() -> Iterator[FakeApi]:
    api = FakeApi()
    yield api
    api.close()


@pytest.fixture(scope="session")
def source_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, int]:
    """A SQLite source database with 1,200 rows per table (seed 7). Read-only for the tests."""
    path = tmp_path_factory.mktemp("source") / "source.db"
    url = f"sqlite:///{path}"
    counts = seed_database(url, rows=1200, seed=7)
    return url, counts["pinterest_data"]


@pytest.fixture
def make_config(fake_api: FakeApi, source_db: tuple[str, int], tmp_path: Path) -> Callable[..., Config]:
    def make(**overrides: Any) -> Config:
        values: dict[str, Any] = {
            "user_id": "testuser",
            "api_url": fake_api.url,
            "api_key": API_KEY,
            "db_url": source_db[0],
            "target": "local",
            "state_dir": tmp_path / "state",
        }
        values.update(overrides)
        return Config(**values)

    return make
