"""The REST Proxy v2 stand-in (docs/data-contracts.md 3.3): request validation units, then the HTTP contract
against a real Tansu broker (status codes, error bodies, offsets, records read back), broker failure, topic
creation and the CLI."""

from __future__ import annotations

import http.client
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaError, TopicPartition

from local_stack import rest_proxy
from local_stack.rest_proxy import (
    JSON_V2,
    KAFKA_ERROR,
    KAFKA_RETRIABLE_ERROR,
    ProduceRecord,
    ProxyError,
    check_content_type,
    ensure_topics,
    error_code_for,
    make_server,
    parse_produce_body,
)
from tests.local_stack.broker import TansuBroker
from tests.support.net import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
RESPONSE_TYPE = "application/vnd.kafka.v2+json"


# --- unit tests of the request validation ------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [JSON_V2, f"{JSON_V2}; charset=utf-8", f"{JSON_V2};charset=UTF-8", "Application/VND.Kafka.JSON.v2+JSON"],
)
def test_content_type_accepts_json_v2_with_parameters(header: str) -> None:
    assert check_content_type(header) == "utf-8"


def test_content_type_returns_the_declared_charset() -> None:
    assert check_content_type(f'{JSON_V2}; charset="iso-8859-1"') == "iso-8859-1"


@pytest.mark.parametrize(
    "header",
    [None, "", "application/json", "application/vnd.kafka.binary.v2+json", "text/plain", f"{JSON_V2}x"],
)
def test_content_type_rejects_others_with_415(header: str | None) -> None:
    with pytest.raises(ProxyError) as err:
        check_content_type(header)
    assert (err.value.status, err.value.error_code) == (415, 415)
    assert JSON_V2 in err.value.message


def test_content_type_rejects_an_unknown_charset() -> None:
    with pytest.raises(ProxyError) as err:
        check_content_type(f"{JSON_V2}; charset=klingon")
    assert err.value.status == 415 and "klingon" in err.value.message


def test_body_records_become_compact_json_bytes_with_key_and_partition() -> None:
    body = json.dumps(
        {
            "records": [
                {"value": {"ind": 1, "title": "Café", "tags": ["a", "b"]}},
                {"value": {"ind": 2}, "key": "k-2", "partition": 0},
                {"value": [1, 2.5, None, True], "key": {"id": 3}},
            ],
            "value_schema_id": None,
        },
        indent=2,
    ).encode()
    assert parse_produce_body(body) == [
        ProduceRecord(value='{"ind":1,"title":"Café","tags":["a","b"]}'.encode()),
        ProduceRecord(value=b'{"ind":2}', key=b'"k-2"', partition=0),
        ProduceRecord(value=b"[1,2.5,null,true]", key=b'{"id":3}'),
    ]


def test_body_in_a_declared_charset_is_decoded() -> None:
    body = '{"records":[{"value":{"name":"Zoë"}}]}'.encode("iso-8859-1")
    assert parse_produce_body(body, "iso-8859-1")[0].value == '{"name":"Zoë"}'.encode()


@pytest.mark.parametrize(
    "body",
    [b'{"records":[{"value":', b"not json", b'{"records":[{"value":NaN}]}', b"\xff\xfe{", b"{'records': []}"],
)
def test_malformed_json_is_400(body: bytes) -> None:
    with pytest.raises(ProxyError) as err:
        parse_produce_body(body)
    assert (err.value.status, err.value.error_code) == (400, 400)
    assert err.value.message.startswith("Malformed JSON")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "Request body is empty"),
        (b"  ", "Request body is empty"),
        (b"[]", "must be a JSON object"),
        (b"{}", "records may not be null"),
        (b'{"records":null}', "records may not be null"),
        (b'{"records":{"value":1}}', "records must be an array"),
        (b'{"records":[]}', "records may not be empty"),
        (b'{"records":[{"value":1}],"extra":1}', "Unrecognized field: extra"),
        (b'{"records":[1]}', "records[0] must be an object"),
        (b'{"records":[{"value":1},{"key":"k"}]}', "records[1]: value may not be null"),
        (b'{"records":[{"value":null}]}', "records[0]: value may not be null"),
        (b'{"records":[{"value":1,"valeu":2}]}', "records[0]: Unrecognized field: valeu"),
        (b'{"records":[{"value":1,"partition":-1}]}', "partition must be a non-negative integer"),
        (b'{"records":[{"value":1,"partition":"0"}]}', "partition must be a non-negative integer"),
        (b'{"records":[{"value":1,"partition":true}]}', "partition must be a non-negative integer"),
        (b'{"records":[{"value":1,"partition":1.5}]}', "partition must be a non-negative integer"),
    ],
)
def test_wrong_shape_is_422_like_confluent(body: bytes, message: str) -> None:
    with pytest.raises(ProxyError) as err:
        parse_produce_body(body)
    assert (err.value.status, err.value.error_code) == (422, 422)
    assert message in err.value.message


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (KafkaError._MSG_TIMED_OUT, KAFKA_RETRIABLE_ERROR),
        (KafkaError._TRANSPORT, KAFKA_RETRIABLE_ERROR),
        (KafkaError.NOT_LEADER_FOR_PARTITION, KAFKA_RETRIABLE_ERROR),
        (KafkaError.MSG_SIZE_TOO_LARGE, KAFKA_ERROR),
        (KafkaError.TOPIC_AUTHORIZATION_FAILED, KAFKA_ERROR),
        (KafkaError.INVALID_RECORD, KAFKA_ERROR),
    ],
)
def test_error_codes_follow_confluent_retriable_split(code: int, expected: int) -> None:
    assert error_code_for(KafkaError(code)) == expected


class _Reported:
    """Stands in for a delivered `confluent_kafka.Message` (only partition and offset are read)."""

    def __init__(self, partition: int, offset: int) -> None:
        self._partition, self._offset = partition, offset

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset


def test_delivery_keeps_request_order_and_fails_unreported_records() -> None:
    delivery = rest_proxy._Delivery(3)
    delivery.report(2, None, _Reported(0, 7))
    delivery.report(0, KafkaError(KafkaError.MSG_SIZE_TOO_LARGE), _Reported(-1, -1))
    delivery.all_queued(3)
    offsets = delivery.wait(0.01)
    assert offsets[0]["partition"] is None and offsets[0]["error_code"] == KAFKA_ERROR
    assert offsets[1] == {
        "partition": None,
        "offset": None,
        "error_code": KAFKA_RETRIABLE_ERROR,
        "error": offsets[1]["error"],
    }
    assert "No delivery report" in offsets[1]["error"]
    assert offsets[2] == {"partition": 0, "offset": 7, "error_code": None, "error": None}


def test_delivery_completes_when_reports_arrive_before_all_queued() -> None:
    delivery = rest_proxy._Delivery(2)
    delivery.report(0, None, _Reported(0, 0))
    delivery.report(1, None, _Reported(0, 1))
    delivery.all_queued(2)
    started = time.monotonic()
    assert [o["offset"] for o in delivery.wait(5)] == [0, 1]
    assert time.monotonic() - started < 1


def test_throttle_lets_a_repeated_librdkafka_message_through_once_per_interval() -> None:
    throttle = rest_proxy._Throttle(interval=60)

    def record(message: str) -> logging.LogRecord:
        return logging.LogRecord("rest_proxy.librdkafka", logging.ERROR, __file__, 1, message, None, None)

    assert throttle.filter(record("Connect to 127.0.0.1:9092 failed (after 0ms)"))
    assert not throttle.filter(record("Connect to 127.0.0.1:9092 failed (after 13ms)"))
    assert throttle.filter(record("Broker transport failure"))


# --- the HTTP contract against a real broker -----------------------------------------------------------------


class Client:
    """A keep-alive HTTP/1.1 client for the proxy under test."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        content_type: str | None = JSON_V2,
        raw: bytes | None = None,
    ) -> tuple[int, Any, http.client.HTTPResponse]:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        headers = {"Content-Type": content_type} if content_type and data is not None else {}
        self.conn.request(method, path, body=data, headers=headers)
        response = self.conn.getresponse()
        payload = response.read()
        return response.status, (json.loads(payload) if payload else None), response

    def close(self) -> None:
        self.conn.close()


def records(values: list[Any]) -> dict[str, Any]:
    return {"records": [{"value": value} for value in values]}


def read_back(bootstrap: str, topic: str, partition: int, count: int, timeout: float = 15) -> list[Any]:
    """Read `count` records of one partition from offset 0 with `assign()` (no group join)."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"test-{uuid.uuid4().hex}", "enable.auto.commit": False}
    )
    consumer.assign([TopicPartition(topic, partition, 0)])
    messages: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        while len(messages) < count and time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is not None and message.error() is None:
                messages.append(message)
        # anything beyond `count` would be a duplicate
        extra = consumer.poll(0.5)
        assert extra is None or extra.error() is not None, "more records than were posted"
    finally:
        consumer.close()
    return messages


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TansuBroker]:
    with TansuBroker(tmp_path_factory.mktemp("tansu")) as running:
        yield running


@pytest.fixture(scope="module")
def proxy(broker: TansuBroker) -> Iterator[int]:
    """The proxy in-process on a free port, sharing the module's broker; yields its port."""
    server = make_server(
        "127.0.0.1", 0, broker.bootstrap, delivery_timeout_ms=10_000, metadata_timeout_ms=3_000
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()
    assert server.gateway.close(5) == 0


@pytest.fixture
def client(proxy: int) -> Iterator[Client]:
    c = Client(proxy)
    yield c
    c.close()


@pytest.fixture
def topic(broker: TansuBroker) -> str:
    name = f"t{uuid.uuid4().hex[:8]}.pin"
    assert ensure_topics(broker.bootstrap, [name]) == [name]
    return name


def test_health_is_200_empty_object(client: Client) -> None:
    status, body, response = client.request("GET", "/")
    assert (status, body) == (200, {})
    assert response.getheader("Content-Type") == RESPONSE_TYPE


def test_post_returns_one_offset_per_record_in_order_and_records_read_back(
    client: Client, topic: str, broker: TansuBroker
) -> None:
    values = [{"ind": i, "title": f"pin {i}", "country": "Côte d'Ivoire"} for i in range(5)]
    status, body, response = client.request("POST", f"/topics/{topic}", records(values))
    assert status == 200 and response.getheader("Content-Type") == RESPONSE_TYPE
    assert body["key_schema_id"] is None and body["value_schema_id"] is None
    assert body["offsets"] == [
        {"partition": 0, "offset": i, "error_code": None, "error": None} for i in range(5)
    ]
    status, body, _ = client.request("POST", f"/topics/{topic}", records([{"ind": 5}]))
    assert body["offsets"] == [{"partition": 0, "offset": 5, "error_code": None, "error": None}]

    messages = read_back(broker.bootstrap, topic, 0, 6)
    assert [m.offset() for m in messages] == list(range(6))
    assert [json.loads(m.value()) for m in messages] == [*values, {"ind": 5}]
    assert all(m.key() is None for m in messages)


def test_500_records_per_request(client: Client, topic: str, broker: TansuBroker) -> None:
    values = [{"ind": i, "description": "x" * 200, "follower_count": f"{i}k"} for i in range(500)]
    for batch in range(2):
        status, body, _ = client.request("POST", f"/topics/{topic}", records(values))
        assert status == 200
        assert [o["offset"] for o in body["offsets"]] == list(range(batch * 500, batch * 500 + 500))
        assert {o["error_code"] for o in body["offsets"]} == {None}
    messages = read_back(broker.bootstrap, topic, 0, 1000)
    assert len(messages) == 1000
    assert [json.loads(m.value()) for m in messages] == values + values


def test_a_partial_failure_is_200_with_an_error_entry_for_the_failed_record(
    client: Client, topic: str, broker: TansuBroker
) -> None:
    too_large = "x" * 2_000_000  # over the producer's message.max.bytes (1 MB)
    status, body, _ = client.request("POST", f"/topics/{topic}", records([{"ind": 1}, too_large, {"ind": 3}]))
    assert status == 200
    first, failed, last = body["offsets"]
    assert (first["offset"], first["error_code"], last["offset"], last["error_code"]) == (0, None, 1, None)
    assert failed["partition"] is None and failed["offset"] is None
    assert failed["error_code"] == KAFKA_ERROR and "too large" in failed["error"].lower()
    assert [json.loads(m.value()) for m in read_back(broker.bootstrap, topic, 0, 2)] == [
        {"ind": 1},
        {"ind": 3},
    ]


def test_charset_parameter_is_accepted(client: Client, topic: str, broker: TansuBroker) -> None:
    status, body, _ = client.request(
        "POST", f"/topics/{topic}", records([{"ind": 1}]), content_type=f"{JSON_V2}; charset=utf-8"
    )
    assert status == 200 and body["offsets"][0]["offset"] == 0
    assert json.loads(read_back(broker.bootstrap, topic, 0, 1)[0].value()) == {"ind": 1}


def test_key_and_partition_are_honoured(client: Client, broker: TansuBroker) -> None:
    name = f"t{uuid.uuid4().hex[:8]}.geo"
    ensure_topics(broker.bootstrap, [name], partitions=3)
    body = {
        "records": [{"value": {"ind": 1}, "key": "u1", "partition": 2}, {"value": {"ind": 2}, "partition": 1}]
    }
    status, response, _ = client.request("POST", f"/topics/{name}", body)
    assert status == 200
    assert [(o["partition"], o["offset"]) for o in response["offsets"]] == [(2, 0), (1, 0)]
    (message,) = read_back(broker.bootstrap, name, 2, 1)
    assert (message.key(), json.loads(message.value())) == (b'"u1"', {"ind": 1})

    status, error, _ = client.request("POST", f"/topics/{name}", {"records": [{"value": 1, "partition": 3}]})
    assert status == 404 and error["error_code"] == 40402 and "partition 3" in error["message"]


def test_unknown_topic_is_404_40401_and_not_created(client: Client, broker: TansuBroker) -> None:
    name = f"missing{uuid.uuid4().hex[:8]}"
    status, body, response = client.request("POST", f"/topics/{name}", records([{"ind": 1}]))
    assert (status, body) == (404, {"error_code": 40401, "message": "Topic not found."})
    assert response.getheader("Content-Type") == RESPONSE_TYPE
    assert client.request("GET", f"/topics/{name}")[:2] == (
        404,
        {"error_code": 40401, "message": "Topic not found."},
    )
    status, topics, _ = client.request("GET", "/topics")
    assert status == 200 and name not in topics


@pytest.mark.parametrize("name", ["bad%20name", "a%2Fb", "x" * 250, "caf%C3%A9"])
def test_invalid_topic_names_are_404_40401(client: Client, name: str) -> None:
    assert client.request("POST", f"/topics/{name}", records([1]))[:2] == (
        404,
        {"error_code": 40401, "message": "Topic not found."},
    )


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", None])
def test_wrong_or_missing_content_type_is_415(client: Client, topic: str, content_type: str | None) -> None:
    status, body, _ = client.request(
        "POST", f"/topics/{topic}", records([{"ind": 1}]), content_type=content_type
    )
    assert status == 415 and body["error_code"] == 415 and JSON_V2 in body["message"]


def test_post_malformed_json_is_400(client: Client, topic: str) -> None:
    status, body, _ = client.request("POST", f"/topics/{topic}", raw=b'{"records": [{"value": {"ind": 1}')
    assert status == 400 and body["error_code"] == 400 and "Malformed JSON" in body["message"]


@pytest.mark.parametrize(
    "raw", [b"{}", b'{"records": []}', b'{"records": [{"key": "k"}]}', b'{"records": [{"value": null}]}', b""]
)
def test_missing_or_empty_records_or_value_is_422(client: Client, topic: str, raw: bytes) -> None:
    status, body, _ = client.request("POST", f"/topics/{topic}", raw=raw)
    assert status == 422 and body["error_code"] == 422 and body["message"]


def test_nothing_is_produced_by_rejected_requests(client: Client, topic: str, broker: TansuBroker) -> None:
    client.request("POST", f"/topics/{topic}", raw=b'{"records": [{"value": 1}, {"key": 2}]}')
    client.request("POST", f"/topics/{topic}", records([1]), content_type="application/json")
    status, body, _ = client.request("POST", f"/topics/{topic}", records(["only"]))
    assert status == 200 and body["offsets"][0]["offset"] == 0


def test_body_over_the_limit_is_413_and_closes_the_connection(
    client: Client, topic: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rest_proxy, "MAX_BODY_BYTES", 1024)
    status, body, response = client.request("POST", f"/topics/{topic}", records(["x" * 2000]))
    assert status == 413 and body["error_code"] == 413 and "fewer records" in body["message"]
    assert response.getheader("Connection") == "close"


def test_topics_list_and_metadata(client: Client, topic: str) -> None:
    status, topics, _ = client.request("GET", "/topics")
    assert status == 200 and topic in topics and topics == sorted(topics)
    status, meta, _ = client.request("GET", f"/topics/{topic}")
    assert status == 200 and meta["name"] == topic and meta["configs"] == {}
    (partition,) = meta["partitions"]
    assert partition["partition"] == 0 and partition["replicas"][0]["leader"] is True


@pytest.mark.parametrize("path", ["/nope", "/topics/a/b/c", "/v3/clusters"])
def test_unknown_path_is_404_json(client: Client, path: str) -> None:
    status, body, response = client.request("GET", path)
    assert (status, body) == (404, {"error_code": 404, "message": "HTTP 404 Not Found"})
    assert response.getheader("Content-Type") == RESPONSE_TYPE


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [("DELETE", "/topics/x", "GET, POST"), ("POST", "/topics", "GET"), ("PUT", "/", "GET")],
)
def test_wrong_method_is_405_with_allow(client: Client, method: str, path: str, allow: str) -> None:
    status, body, response = client.request(method, path)
    assert (status, body) == (405, {"error_code": 405, "message": "HTTP 405 Method Not Allowed"})
    assert response.getheader("Allow") == allow


def test_unknown_method_is_405_json(proxy: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", proxy, timeout=10)
    conn.request("BREW", "/topics")
    response = conn.getresponse()
    assert response.status == 405 and json.loads(response.read())["error_code"] == 405
    conn.close()


def test_keep_alive_serves_many_requests_on_one_connection(client: Client, topic: str) -> None:
    for i in range(5):
        status, body, response = client.request("POST", f"/topics/{topic}", records([{"i": i}]))
        assert status == 200 and body["offsets"][0]["offset"] == i
        assert response.getheader("Connection") != "close"
    sock = client.conn.sock
    assert client.request("GET", "/")[0] == 200 and client.conn.sock is sock  # same socket throughout


def test_chunked_request_body_is_accepted(proxy: int, topic: str) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", proxy, timeout=10)
    body = json.dumps(records([{"ind": i} for i in range(3)])).encode()
    conn.request(
        "POST", f"/topics/{topic}", body=iter([body[:10], body[10:]]), headers={"Content-Type": JSON_V2}
    )
    response = conn.getresponse()
    assert response.status == 200
    assert [o["offset"] for o in json.loads(response.read())["offsets"]] == [0, 1, 2]
    conn.close()


def test_concurrent_clients_get_distinct_offsets(proxy: int, topic: str, broker: TansuBroker) -> None:
    results: list[list[int]] = []
    errors: list[BaseException] = []

    def post(worker: int) -> None:
        c = Client(proxy)
        try:
            for batch in range(3):
                values = [{"w": worker, "b": batch, "i": i} for i in range(100)]
                status, body, _ = c.request("POST", f"/topics/{topic}", records(values))
                assert status == 200
                results.append([o["offset"] for o in body["offsets"]])
        except BaseException as exc:
            errors.append(exc)
        finally:
            c.close()

    threads = [threading.Thread(target=post, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    offsets = [o for batch in results for o in batch]
    assert sorted(offsets) == list(range(1200))
    assert all(batch == sorted(batch) for batch in results)  # in request order within a request
    messages = read_back(broker.bootstrap, topic, 0, 1200)
    assert len({(v["w"], v["b"], v["i"]) for v in (json.loads(m.value()) for m in messages)}) == 1200


# --- broker failures ---------------------------------------------------------------------------------------------


def test_broker_down_fails_every_record_with_500_and_error_entries(tmp_path: Path) -> None:
    broker = TansuBroker(tmp_path).start()
    server = make_server(
        "127.0.0.1", 0, broker.bootstrap, delivery_timeout_ms=1_500, metadata_timeout_ms=1_000
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    client = Client(server.server_address[1])
    try:
        ensure_topics(broker.bootstrap, ["down.pin", "down.geo"])
        assert client.request("POST", "/topics/down.pin", records([{"ind": 0}]))[0] == 200
        broker.kill()  # by PID

        status, body, _ = client.request("POST", "/topics/down.pin", records([{"ind": 1}, {"ind": 2}]))
        assert status == 500 and body["error_code"] == KAFKA_RETRIABLE_ERROR
        assert body["message"].startswith("Retriable Kafka error")
        assert len(body["offsets"]) == 2
        for entry in body["offsets"]:
            assert entry["partition"] is None and entry["offset"] is None
            assert entry["error_code"] in (KAFKA_ERROR, KAFKA_RETRIABLE_ERROR) and entry["error"]

        # a topic the proxy has not looked up yet: the metadata lookup itself fails
        status, body, _ = client.request("POST", "/topics/down.geo", records([{"ind": 1}]))
        assert (
            status == 500
            and body["error_code"] == KAFKA_RETRIABLE_ERROR
            and broker.bootstrap in body["message"]
        )
        assert client.request("GET", "/")[:2] == (200, {})  # still healthy itself
    finally:
        client.close()
        broker.stop()
        server.shutdown()
        server.server_close()
        server.gateway.close(0)


def test_ensure_topics_is_idempotent_and_sets_partitions(broker: TansuBroker) -> None:
    names = [f"e{uuid.uuid4().hex[:6]}.{d}" for d in ("pin", "geo", "user")]
    assert ensure_topics(broker.bootstrap, names, partitions=2) == names
    assert ensure_topics(broker.bootstrap, [*names, names[0]]) == []
    server = make_server("127.0.0.1", 0, broker.bootstrap)
    try:
        assert [server.gateway.partition_count(n) for n in names] == [2, 2, 2]
    finally:
        server.server_close()
        server.gateway.close(0)


def test_ensure_topics_without_a_broker_raises_a_clear_error() -> None:
    bootstrap = f"127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(RuntimeError, match=bootstrap):
        ensure_topics(bootstrap, ["x.pin"], timeout=2)
    assert time.monotonic() - started < 15


# --- the CLI the supervisor runs ---------------------------------------------------------------------------------


def _cli(*args: str, **kwargs: Any) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "local_stack.rest_proxy", *args],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def test_cli_help_explains_the_api() -> None:
    out, _ = _cli("--help").communicate(timeout=30)
    assert "--bootstrap-servers" in out and "POST /topics/<topic>" in out and JSON_V2 in out


def _wait_for_cli(process: subprocess.Popen[str], port: int) -> Client:
    """A client of the CLI's proxy once `GET /` answers 200 `{}` (what the supervisor's health check expects)."""
    deadline = time.monotonic() + 20
    while True:
        client = Client(port)
        try:
            assert client.request("GET", "/")[:2] == (200, {})
            return client
        except OSError:
            client.close()
            assert process.poll() is None and time.monotonic() < deadline, "proxy did not come up"
            time.sleep(0.1)


def test_cli_serves_health_and_stops_cleanly_on_sigterm(broker: TansuBroker, topic: str) -> None:
    port = free_port()
    process = _cli("--host", "127.0.0.1", "--port", str(port), "--bootstrap-servers", broker.bootstrap)
    try:
        client = _wait_for_cli(process, port)
        assert client.request("POST", f"/topics/{topic}", records([{"ind": 1}]))[0] == 200
        client.close()
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=20)
        assert process.returncode == 0
        assert "SIGTERM" in err and "stopped" in err
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_sigterm_answers_the_request_in_flight_before_exiting(tmp_path: Path) -> None:
    broker = TansuBroker(tmp_path).start()
    port = free_port()
    process = _cli(
        "--port", str(port), "--bootstrap-servers", broker.bootstrap, "--delivery-timeout-ms", "2000"
    )
    try:
        ensure_topics(broker.bootstrap, ["drain.pin"])
        client = _wait_for_cli(process, port)
        assert client.request("POST", "/topics/drain.pin", records([0]))[0] == 200
        broker.kill()  # the next request waits the whole delivery timeout
        answered: list[tuple[int, Any]] = []
        in_flight = threading.Thread(
            target=lambda: answered.append(client.request("POST", "/topics/drain.pin", records([1, 2]))[:2])
        )
        in_flight.start()
        time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        in_flight.join(20)
        ((status, body),) = answered
        assert status == 500 and [o["error_code"] for o in body["offsets"]] == [KAFKA_RETRIABLE_ERROR] * 2
        process.communicate(timeout=20)
        assert process.returncode == 0
        client.close()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        broker.stop()


def test_cli_reports_a_port_in_use(proxy: int) -> None:
    process = _cli("--port", str(proxy), "--bootstrap-servers", "127.0.0.1:1")
    _, err = process.communicate(timeout=30)
    assert process.returncode == 2
    assert f"cannot listen on 127.0.0.1:{proxy}" in err and "Traceback" not in err
