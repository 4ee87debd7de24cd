"""The REST Proxy v2 stand-in (docs/data-contracts.md 3.3): request validation units, then the HTTP contract
against a real Tansu broker (status codes, error bodies, offsets, records read back), broker failure, topic
creation and the CLI."""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

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


@pytest.mark.parametrize(
    "charset",
    ["klingon", "base64", "hex", "zlib", "bz2", "rot13", "idna", "punycode", "unicode_escape", "\x00"],
)
def test_content_type_rejects_an_unknown_charset_and_codecs_that_are_not_charsets(charset: str) -> None:
    # base64/hex/zlib/... pass codecs.lookup but are bytes-to-bytes codecs: they used to reach decode() and 500
    with pytest.raises(ProxyError) as err:
        check_content_type(f"{JSON_V2}; charset={charset}")
    assert err.value.status == 415 and f"unknown charset {charset!r}" in err.value.message


@pytest.mark.parametrize("charset", ["base64", "hex", "zlib", "punycode", "utf-16", "utf-32"])
def test_a_body_that_does_not_decode_in_its_charset_is_400_never_an_exception(charset: str) -> None:
    with pytest.raises(ProxyError) as err:
        parse_produce_body(b'{"records":[{"value":1}]}\xff', charset)
    assert err.value.status == 400 and err.value.message.startswith("Malformed JSON")


@pytest.mark.parametrize("depth", [255, 300, 1021])
def test_a_value_nested_deeper_than_254_levels_is_422_not_500(depth: int) -> None:
    # orjson reads up to 1024 levels but writes only 254: the serialise step raised TypeError (500) before
    body = b'{"records":[{"value":' + b"[" * depth + b"]" * depth + b"}]}"
    with pytest.raises(ProxyError) as err:
        parse_produce_body(body)
    assert (err.value.status, err.value.error_code) == (422, 422)
    assert err.value.message == (
        "JSON nested too deeply: records[0].value is nested more than 254 levels deep; flatten the record"
    )


@pytest.mark.parametrize("depth", [1022, 5000, 100_000])
def test_a_body_nested_deeper_than_1024_levels_is_422(depth: int) -> None:
    body = b'{"records":[{"value":' + b"[" * depth + b"]" * depth + b"}]}"
    with pytest.raises(ProxyError) as err:
        parse_produce_body(body)
    assert (err.value.status, err.value.error_code) == (422, 422)
    assert "the body is nested more than 1024 levels deep" in err.value.message


def test_a_value_254_levels_deep_is_kept() -> None:
    body = b'{"records":[{"value":' + b"[" * 254 + b"]" * 254 + b"}]}"
    assert parse_produce_body(body)[0].value == b"[" * 254 + b"]" * 254


@pytest.mark.parametrize(
    "literal",
    [
        "18446744073709551616",  # 2**64: orjson turned it into 1.8446744073709552e+19
        "-9223372036854775809",  # -2**63 - 1
        "123456789012345678901234567890",
        "9223372036854775807",
        "18446744073709551615",
        "-9223372036854775808",
    ],
)
def test_integers_beyond_64_bits_stay_exact(literal: str) -> None:
    body = f'{{"records":[{{"value":{{"ind":{literal},"f":1.5,"s":"é"}},"key":{literal}}}]}}'.encode()
    (record,) = parse_produce_body(body)
    assert record.value == f'{{"ind":{literal},"f":1.5,"s":"é"}}'.encode()
    assert record.key == literal.encode()
    assert json.loads(record.value)["ind"] == int(literal)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1" * 5000, "Exceeds the limit (4300 digits)"),
        ("[12345678901234567890123, 1e400]", "number 1e400 is out of range"),
        ("[12345678901234567890123, NaN]", "NaN is not JSON"),
        ('["\\ud800", 12345678901234567890123]', "lone surrogate"),
    ],
)
def test_the_exact_integer_parser_is_as_strict_as_orjson(value: str, message: str) -> None:
    with pytest.raises(ProxyError) as err:
        parse_produce_body(f'{{"records":[{{"value":{value}}}]}}'.encode())
    assert err.value.status == 400 and message in err.value.message


def test_a_deep_value_with_a_big_integer_is_422_too() -> None:
    body = b'{"records":[{"value":' + b"[" * 300 + b"123456789012345678901234" + b"]" * 300 + b"}]}"
    with pytest.raises(ProxyError) as err:
        parse_produce_body(body)
    assert err.value.status == 422 and "more than 254 levels" in err.value.message


@pytest.mark.parametrize("name", ["..", ".", "x" * 250, "a/b", "café", "", "a b", "a\x00"])
def test_invalid_topic_names_are_rejected_by_name(name: str) -> None:
    with pytest.raises(ProxyError) as err:
        rest_proxy.check_topic_name(name)
    assert (err.value.status, err.value.error_code) == (404, 40401)
    assert "is not a valid Kafka topic name" in err.value.message


@pytest.mark.parametrize("name", ["a", "x" * 249, "demo.pin", "a-b_c.D9", "..."])
def test_valid_topic_names_pass(name: str) -> None:
    assert rest_proxy.check_topic_name(name) == name


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


TOPIC_WAIT_MS = 1_000
REQUEST_TIMEOUT = 1.5
IDLE_TIMEOUT = 1.0
MAX_CONNECTIONS = 12


@pytest.fixture(scope="module")
def proxy_server(broker: TansuBroker) -> Iterator[rest_proxy.ProxyServer]:
    """The proxy in-process on a free port, sharing the module's broker, with short timeouts and a small cap."""
    server = make_server(
        "127.0.0.1",
        0,
        broker.bootstrap,
        delivery_timeout_ms=10_000,
        metadata_timeout_ms=3_000,
        topic_wait_ms=TOPIC_WAIT_MS,
        request_timeout=REQUEST_TIMEOUT,
        idle_timeout=IDLE_TIMEOUT,
        max_connections=MAX_CONNECTIONS,
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    assert server.gateway.close(5) == 0


@pytest.fixture(scope="module")
def proxy(proxy_server: rest_proxy.ProxyServer) -> int:
    """The in-process proxy's port."""
    return proxy_server.server_address[1]


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


@pytest.mark.parametrize(
    "name", ["bad%20name", "a%2Fb", "a%2fb", "x" * 250, "caf%C3%A9", "%2e%2e", "%2E", "..", "%F0%9F%98%80"]
)
def test_invalid_topic_names_are_a_final_404_40401(client: Client, name: str) -> None:
    # `%2e%2e` (`..` decoded) passed the old pattern and reached the broker: 500/50003 "Invalid topic"
    for method in ("POST", "GET"):
        status, body, _ = client.request(
            method, f"/topics/{name}", records([1]) if method == "POST" else None
        )
        assert (status, body["error_code"]) == (404, 40401)
        assert "is not a valid Kafka topic name" in body["message"]


def test_a_topic_created_while_the_request_waits_is_produced_to(
    client: Client, broker: TansuBroker, proxy_server: rest_proxy.ProxyServer
) -> None:
    """The broker does not know the topic when the request arrives (as after a restart, before it has loaded
    its topics); the proxy looks again and produces once the topic exists, instead of a final 404."""
    name = f"late{uuid.uuid4().hex[:8]}.pin"
    retries_before = proxy_server.gateway.topic_retries
    answered: list[tuple[int, Any]] = []
    poster = threading.Thread(
        target=lambda: answered.append(client.request("POST", f"/topics/{name}", records([{"ind": 1}]))[:2])
    )
    poster.start()
    deadline = time.monotonic() + 10
    while proxy_server.gateway.topic_retries == retries_before:  # the proxy has seen it missing once
        assert time.monotonic() < deadline, "the proxy never looked the topic up"
        time.sleep(0.01)
    ensure_topics(broker.bootstrap, [name])
    poster.join(30)
    ((status, body),) = answered
    assert status == 200 and body["offsets"][0]["offset"] == 0
    assert json.loads(read_back(broker.bootstrap, name, 0, 1)[0].value()) == {"ind": 1}


def test_a_topic_that_stays_unknown_is_404_after_the_topic_wait(client: Client) -> None:
    started = time.monotonic()
    status, body, _ = client.request("POST", f"/topics/never{uuid.uuid4().hex[:8]}", records([1]))
    elapsed = time.monotonic() - started
    assert (status, body) == (404, {"error_code": 40401, "message": "Topic not found."})
    # looked up again until the next wait would pass the topic wait (each wait at most the policy's cap)
    assert TOPIC_WAIT_MS / 1000 - rest_proxy.TOPIC_RETRY.cap <= elapsed < TOPIC_WAIT_MS / 1000 + 5


def test_integers_beyond_64_bits_reach_kafka_exactly(client: Client, topic: str, broker: TansuBroker) -> None:
    big = [2**64, -(2**63) - 1, 10**30 + 7, 2**63 - 1]
    raw = '{"records":[' + ",".join(f'{{"value":{{"ind":{n},"x":0.1}}}}' for n in big) + "]}"
    status, body, _ = client.request("POST", f"/topics/{topic}", raw=raw.encode())
    assert status == 200 and [o["offset"] for o in body["offsets"]] == [0, 1, 2, 3]
    messages = read_back(broker.bootstrap, topic, 0, 4)
    assert [m.value() for m in messages] == [f'{{"ind":{n},"x":0.1}}'.encode() for n in big]
    assert [json.loads(m.value())["ind"] for m in messages] == big


def test_deep_nesting_and_a_non_charset_are_clear_4xx_over_http(client: Client, topic: str) -> None:
    deep = b'{"records":[{"value":' + b"[" * 600 + b"]" * 600 + b"}]}"
    status, body, _ = client.request("POST", f"/topics/{topic}", raw=deep)
    assert (status, body["error_code"]) == (422, 422) and "nested too deeply" in body["message"]
    status, body, _ = client.request(
        "POST", f"/topics/{topic}", records([1]), content_type=f"{JSON_V2}; charset=base64"
    )
    assert (status, body["error_code"]) == (415, 415) and "base64" in body["message"]
    assert client.request("POST", f"/topics/{topic}", records([1]))[1]["offsets"][0]["offset"] == 0


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
    monkeypatch.setattr(rest_proxy.contract, "MAX_BODY_BYTES", 1024)
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


# --- connection handling: framing, timeouts, the connection cap (real sockets) -----------------------------------


def raw_exchange(port: int, request: bytes, timeout: float = 10) -> tuple[int, dict[str, str], Any, float]:
    """Send `request` as it is on a new socket; (status, headers, JSON body, seconds until the answer)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        started = time.monotonic()
        sock.sendall(request)
        return (*_read_response(sock), time.monotonic() - started)


def _read_response(sock: socket.socket) -> tuple[int, dict[str, str], Any]:
    response = http.client.HTTPResponse(sock)
    response.begin()
    payload = response.read()
    return response.status, dict(response.getheaders()), json.loads(payload) if payload else None


def _post_head(topic: str, extra: str) -> bytes:
    return f"POST /topics/{topic} HTTP/1.1\r\nHost: x\r\nContent-Type: {JSON_V2}\r\n{extra}\r\n".encode()


@pytest.mark.parametrize("length", ["-1", "abc", "1e3", "+5", "5, 6", " "])
def test_an_invalid_content_length_is_400_at_once(proxy: int, topic: str, length: str) -> None:
    # -1 used to read until the client closed (or 300 s passed)
    status, headers, body, elapsed = raw_exchange(
        proxy, _post_head(topic, f"Content-Length: {length}\r\n") + b'{"records":[{"value":1}]}'
    )
    assert (status, body["error_code"]) == (400, 400) and "invalid Content-Length" in body["message"]
    assert headers["Connection"] == "close" and elapsed < 1


def test_a_post_without_length_or_chunking_is_411_at_once(proxy: int, topic: str) -> None:
    status, headers, body, elapsed = raw_exchange(proxy, _post_head(topic, "") + b'{"records":[{"value":1}]}')
    assert (status, body["error_code"]) == (411, 411) and "Length Required" in body["message"]
    assert headers["Connection"] == "close" and elapsed < 1


def test_a_body_shorter_than_its_length_is_400_when_the_client_closes(proxy: int, topic: str) -> None:
    with socket.create_connection(("127.0.0.1", proxy), timeout=10) as sock:
        sock.sendall(_post_head(topic, "Content-Length: 100\r\n") + b'{"records":')
        sock.shutdown(socket.SHUT_WR)
        status, _, body = _read_response(sock)
    assert (status, body["error_code"]) == (400, 400) and "ended after 11 of 100 bytes" in body["message"]


@pytest.mark.parametrize(
    ("sent", "part"),
    [
        (b"POST /topics/x HTTP/1.1\r\nHost: x\r\n", "request"),  # headers never finish
        (b"POS", "request"),  # not even the request line
    ],
)
def test_a_request_that_does_not_arrive_in_time_is_408_and_closed(proxy: int, sent: bytes, part: str) -> None:
    status, headers, body, elapsed = raw_exchange(proxy, sent)
    assert (status, body["error_code"]) == (408, 408)
    assert (
        body["message"] == f"HTTP 408 Request Timeout: the {part} did not arrive within {REQUEST_TIMEOUT:g} s"
    )
    assert headers["Connection"] == "close" and REQUEST_TIMEOUT - 0.1 <= elapsed < REQUEST_TIMEOUT + 2


def test_a_trickling_body_cannot_stretch_the_request_past_its_timeout(proxy: int, topic: str) -> None:
    body = json.dumps(records([{"ind": 1}])).encode()
    with socket.create_connection(("127.0.0.1", proxy), timeout=10) as sock:
        started = time.monotonic()
        sock.sendall(_post_head(topic, f"Content-Length: {len(body)}\r\n"))
        with contextlib.suppress(OSError):
            for byte in body:  # one byte every 0.2 s: each read is quick, the whole is too slow
                sock.sendall(bytes([byte]))
                time.sleep(0.2)
                if time.monotonic() - started > REQUEST_TIMEOUT + 1:
                    break
        status, headers, answer = _read_response(sock)
    assert (status, answer["error_code"]) == (408, 408) and "the body did not arrive" in answer["message"]
    assert headers["Connection"] == "close" and time.monotonic() - started < REQUEST_TIMEOUT + 2.5


def test_a_slow_client_does_not_block_a_concurrent_valid_post(
    proxy: int, topic: str, broker: TansuBroker
) -> None:
    with socket.create_connection(("127.0.0.1", proxy), timeout=10) as slow:
        slow.sendall(_post_head(topic, "Content-Length: 1000\r\n") + b'{"records":')  # and nothing more
        client = Client(proxy)
        started = time.monotonic()
        status, body, _ = client.request("POST", f"/topics/{topic}", records([{"ind": 7}]))
        assert status == 200 and body["offsets"][0]["offset"] == 0 and time.monotonic() - started < 1
        client.close()
        status, _, answer = _read_response(slow)
        assert (status, answer["error_code"]) == (408, 408)
    assert [json.loads(m.value()) for m in read_back(broker.bootstrap, topic, 0, 1)] == [{"ind": 7}]


def test_an_idle_keep_alive_connection_is_closed_after_the_idle_timeout(client: Client) -> None:
    assert client.request("GET", "/")[0] == 200
    sock = client.conn.sock
    started = time.monotonic()
    assert sock.recv(1) == b""  # the server closed it
    assert IDLE_TIMEOUT - 0.1 <= time.monotonic() - started < IDLE_TIMEOUT + 2


def test_connections_beyond_the_cap_get_503_with_retry_after(
    proxy: int, proxy_server: rest_proxy.ProxyServer
) -> None:
    refused_before = proxy_server.refused
    held = []
    try:
        for _ in range(MAX_CONNECTIONS):  # each holds a thread: a request that has started and stalls
            sock = socket.create_connection(("127.0.0.1", proxy), timeout=10)
            sock.sendall(b"GET / HTTP/1.1\r\n")
            held.append(sock)
        deadline = time.monotonic() + 5
        while proxy_server.open_connections < MAX_CONNECTIONS:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        status, headers, body, elapsed = raw_exchange(proxy, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (status, body["error_code"]) == (503, 503) and "too many connections" in body["message"]
        assert headers["Retry-After"] == "1" and headers["Connection"] == "close" and elapsed < 1
        assert proxy_server.refused >= refused_before + 1
    finally:
        for sock in held:
            sock.close()
    deadline = time.monotonic() + 5
    while proxy_server.open_connections:  # the held ones are gone: served again
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert raw_exchange(proxy, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")[:3:2] == (200, {})


def test_200_slow_connections_neither_starve_a_valid_post_nor_outlive_the_request_timeout(
    broker: TansuBroker, topic: str
) -> None:
    """Slowloris (issue 18): 200 connections hold partial requests (half stop inside the headers, half inside
    the body); a valid POST meanwhile is served (or refused with 503 and Retry-After, never dropped unanswered),
    and every partial request is answered 408 and closed within the request timeout."""
    timeout = 3.0
    server = make_server("127.0.0.1", 0, broker.bootstrap, request_timeout=timeout, idle_timeout=30)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    slow: list[socket.socket] = []
    try:
        opened = time.monotonic()
        for i in range(200):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            if i % 2:
                sock.sendall(_post_head(topic, "Content-Length: 1000\r\n") + b'{"records":')
            else:
                sock.sendall(f"POST /topics/{topic} HTTP/1.1\r\nHost: x\r\nContent-".encode())
            slow.append(sock)
        deadline = time.monotonic() + 5
        while server.open_connections < 200:
            assert time.monotonic() < deadline, f"only {server.open_connections} connections open"
            time.sleep(0.01)

        client = Client(port)
        started = time.monotonic()
        status, body, response = client.request("POST", f"/topics/{topic}", records([{"ind": 1}]))
        client.close()
        assert time.monotonic() - started < 2
        if status == 503:
            assert response.getheader("Retry-After") == "1"
        else:
            assert status == 200 and body["offsets"][0]["offset"] == 0

        statuses = []
        for sock in slow:
            answer, _, payload = _read_response(sock)
            statuses.append((answer, payload["error_code"]))
            assert sock.recv(1) == b""  # and closed
        closed_after = time.monotonic() - opened
        assert statuses == [(408, 408)] * 200
        assert closed_after < timeout + 3  # the last one opened about 0.3 s after the first
    finally:
        for sock in slow:
            sock.close()
        server.shutdown()
        server.server_close()
        server.gateway.close(5)
    assert [json.loads(m.value()) for m in read_back(broker.bootstrap, topic, 0, 1)] == [{"ind": 1}]


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
    for flag in ("--request-timeout", "--idle-timeout", "--max-connections", "--topic-wait-ms"):
        assert flag in out


def test_both_loopback_services_take_the_same_connection_options(capsys: pytest.CaptureFixture[str]) -> None:
    from databricks_local.workspace import cli as workspace_cli
    from local_stack.rest_proxy import cli as proxy_cli
    from local_stack.rest_proxy.connection import connection_limits

    flags = ["--request-timeout", "2.5", "--idle-timeout", "7", "--max-connections", "9"]
    proxy = proxy_cli.build_parser().parse_args(flags)
    workspace = workspace_cli.build_parser().parse_args(["--state-dir", "/tmp/x", *flags])
    expected = {"request_timeout": 2.5, "idle_timeout": 7.0, "max_connections": 9}
    assert connection_limits(proxy) == connection_limits(workspace) == expected
    for parser, required in (
        (proxy_cli.build_parser(), []),
        (workspace_cli.build_parser(), ["--state-dir", "x"]),
    ):
        for bad in ("0", "-1", "inf"):
            with pytest.raises(SystemExit):
                parser.parse_args([*required, "--idle-timeout", bad])
            assert f"expected a positive number of seconds, got '{bad}'" in capsys.readouterr().err


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


# --- why the producer is not idempotent (issue 11 item 6), against the stack's S3-backed Tansu -------------------


def _block_next_batch(handle: Any, topic: str, offset: int) -> None:
    """Make Tansu's next batch write of `topic` fail: its object (written with If-None-Match) already exists."""
    s3 = handle.s3()
    bucket = handle.config.tansu_bucket
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="clusters/")
    listing = [o for page in pages for o in page.get("Contents", [])]  # past 1,000 keys on a well-used stack
    marker = f"/topics/{topic}/partitions/0000000000/records/"
    (prefix,) = {o["Key"].split(marker)[0] for o in listing if marker in o["Key"]}
    s3.put_object(Bucket=bucket, Key=f"{prefix}{marker}{offset:020d}.batch", Body=b"not a batch")


@pytest.mark.integration
def test_a_failed_tansu_batch_write_fences_an_idempotent_producer_but_not_the_proxy(
    stack_handle: tuple[Any, Any],
) -> None:
    """The reason the proxy keeps `acks=all` without `enable.idempotence`: Tansu 0.6.0 counts a producer's
    sequence before it writes the batch, so after one failed batch write every later record of that idempotent
    producer fails with PRODUCER_FENCED (the proxy would fail every request until restarted). The proxy's own
    producer loses only the failed request and goes on."""
    handle, info = stack_handle
    idempotent_topic, proxy_topic = (f"fence{uuid.uuid4().hex[:8]}.{d}" for d in ("pin", "geo"))
    ensure_topics(info.bootstrap_servers, [idempotent_topic, proxy_topic])

    producer = Producer(
        {"bootstrap.servers": info.bootstrap_servers, "enable.idempotence": True, "message.timeout.ms": 8000}
    )

    def send(value: int) -> str | None:
        reports: list[KafkaError | None] = []
        producer.produce(
            idempotent_topic, json.dumps(value).encode(), on_delivery=lambda e, _m: reports.append(e)
        )
        producer.flush(15)
        (error,) = reports
        return None if error is None else error.name()

    assert [send(0), send(1)] == [None, None]
    _block_next_batch(handle, idempotent_topic, 2)
    assert send(2) is not None  # the failed write
    assert [send(3), send(4)] == ["PRODUCER_FENCED", "PRODUCER_FENCED"]  # and every record after it

    server = make_server("127.0.0.1", 0, info.bootstrap_servers, delivery_timeout_ms=8_000)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    client = Client(server.server_address[1])
    try:
        status, body, _ = client.request("POST", f"/topics/{proxy_topic}", records([0, 1]))
        assert status == 200 and [o["offset"] for o in body["offsets"]] == [0, 1]
        _block_next_batch(handle, proxy_topic, 2)
        status, body, _ = client.request("POST", f"/topics/{proxy_topic}", records([2]))
        assert status == 500 and body["offsets"][0]["error_code"] is not None
        for value in (3, 4):  # goes on (offset 2 is a gap, as Tansu moved its watermark first)
            status, body, _ = client.request("POST", f"/topics/{proxy_topic}", records([value]))
            assert status == 200 and body["offsets"][0]["offset"] == value
    finally:
        client.close()
        server.shutdown()
        server.server_close()
        server.gateway.close(5)


def test_ensure_topics_gives_up_on_an_unreachable_broker_with_a_clear_error() -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(
        RuntimeError, match=rf"Kafka broker 127\.0\.0\.1:{port} did not create topics \['x\.pin'\]"
    ):
        ensure_topics(f"127.0.0.1:{port}", ["x.pin"], timeout=3.0)
    assert time.monotonic() - started < 15.0
