"""The consumer API of the REST Proxy (Confluent REST Proxy v2, docs/data-contracts.md 3.3) and its metadata
endpoints, against the proxy in-process on a real Tansu broker: instances are real group members (a plain
`confluent-kafka` consumer of the same group shares the partitions), records come back as posted, commits
carry over to a new instance, and every error has Confluent's status and code."""

from __future__ import annotations

import base64
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from confluent_kafka import Consumer, Producer

from local_stack.rest_proxy import JSON_V2, ProxyServer, ensure_topics, make_server
from tests.local_stack.broker import TansuBroker

V2 = "application/vnd.kafka.v2+json"
BINARY = "application/vnd.kafka.binary.v2+json"
#: The first reads of a new group may be empty while the broker forms it (Tansu holds a join ~3 s).
GROUP_FORMS_WITHIN = 30.0


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TansuBroker]:
    with TansuBroker(tmp_path_factory.mktemp("tansu")) as running:
        yield running


def _serve(server: ProxyServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread


@pytest.fixture(scope="module")
def proxy(broker: TansuBroker) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, broker.bootstrap, delivery_timeout_ms=10_000)
    _serve(server)
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    server.gateway.close(5)


def topic_with(broker: TansuBroker, partitions: int = 1) -> str:
    name = f"c{uuid.uuid4().hex[:8]}.pin"
    assert ensure_topics(broker.bootstrap, [name], partitions=partitions) == [name]
    return name


def post(proxy: str, topic: str, values: list[Any], partition: int | None = None) -> list[dict[str, Any]]:
    records = [{"value": v} if partition is None else {"value": v, "partition": partition} for v in values]
    response = requests.post(
        f"{proxy}/topics/{topic}", json={"records": records}, headers={"Content-Type": JSON_V2}, timeout=30
    )
    assert response.status_code == 200, response.text
    return response.json()["offsets"]


def create(proxy: str, group: str, **config: Any) -> str:
    response = requests.post(
        f"{proxy}/consumers/{group}", json=config, headers={"Content-Type": V2}, timeout=30
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["base_uri"] == f"{proxy}/consumers/{group}/instances/{body['instance_id']}"
    return body["base_uri"]


def call(method: str, url: str, body: Any = None, **headers: str) -> requests.Response:
    return requests.request(
        method,
        url,
        json=body,
        headers={"Content-Type": V2, **headers} if body is not None else headers,
        timeout=30,
    )


def poll(
    base: str, count: int, accept: str = JSON_V2, timeout: float = GROUP_FORMS_WITHIN
) -> list[dict[str, Any]]:
    """Read `records` until `count` have come (or the time is up)."""
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        response = call("GET", f"{base}/records?timeout=1000", Accept=accept)
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"] == accept
        got.extend(response.json())
    return got


def test_a_json_instance_reads_every_record_commits_and_a_new_instance_reads_nothing_committed(
    proxy: str, broker: TansuBroker
) -> None:
    topic, group = topic_with(broker), f"g{uuid.uuid4().hex[:6]}"
    values = [{"ind": i, "title": f"pin {i}", "country": "Côte d'Ivoire"} for i in range(20)]
    post(proxy, topic, values)
    base = create(proxy, group, name="first", format="json", **{"auto.offset.reset": "earliest"})
    assert call("POST", f"{base}/subscription", {"topics": [topic]}).status_code == 204
    assert call("GET", f"{base}/subscription").json() == {"topics": [topic]}

    got = poll(base, 20)
    assert [r["value"] for r in got] == values
    assert [(r["topic"], r["partition"], r["offset"], r["key"]) for r in got] == [
        (topic, 0, i, None) for i in range(20)
    ]
    commit = call("POST", f"{base}/offsets")  # no body: every record returned so far
    assert (commit.status_code, commit.json()) == (200, [])
    committed = call("GET", f"{base}/offsets", {"partitions": [{"topic": topic, "partition": 0}]})
    assert committed.json() == {"offsets": [{"topic": topic, "partition": 0, "offset": 20, "metadata": ""}]}
    assert call("DELETE", base).status_code == 204

    post(proxy, topic, [{"ind": 20}])
    second = create(proxy, group, name="second", format="json", **{"auto.offset.reset": "earliest"})
    assert call("POST", f"{second}/subscription", {"topics": [topic]}).status_code == 204
    assert [r["value"] for r in poll(second, 1)] == [{"ind": 20}]  # nothing already committed
    assert poll(second, 1, timeout=2) == []
    assert call("DELETE", second).status_code == 204


def test_a_binary_instance_returns_base64_keys_and_values(proxy: str, broker: TansuBroker) -> None:
    topic = topic_with(broker)
    response = requests.post(
        f"{proxy}/topics/{topic}",
        json={"records": [{"value": {"ind": 1}, "key": "k1"}]},
        headers={"Content-Type": JSON_V2},
        timeout=30,
    )
    assert response.status_code == 200
    base = create(proxy, f"g{uuid.uuid4().hex[:6]}", format="binary", **{"auto.offset.reset": "earliest"})
    call("POST", f"{base}/subscription", {"topics": [topic]})
    (record,) = poll(base, 1, accept=BINARY)
    assert base64.b64decode(record["value"]) == b'{"ind":1}'
    assert base64.b64decode(record["key"]) == b'"k1"'
    call("DELETE", base)


def test_two_instances_and_a_plain_consumer_share_the_partitions_of_one_group(
    proxy: str, broker: TansuBroker
) -> None:
    topic, group = topic_with(broker, partitions=2), f"g{uuid.uuid4().hex[:6]}"
    post(proxy, topic, [{"p": 0, "i": i} for i in range(5)], partition=0)
    post(proxy, topic, [{"p": 1, "i": i} for i in range(5)], partition=1)
    bases = [
        create(proxy, group, name=f"m{i}", format="json", **{"auto.offset.reset": "earliest"}) for i in (0, 1)
    ]
    for base in bases:
        assert call("POST", f"{base}/subscription", {"topics": [topic]}).status_code == 204
    assignments: list[list[dict[str, Any]]] = []
    deadline = time.monotonic() + GROUP_FORMS_WITHIN
    got: dict[str, list[dict[str, Any]]] = {base: [] for base in bases}
    while time.monotonic() < deadline:  # both poll, as group members do, until the group settles
        for base in bases:
            got[base].extend(call("GET", f"{base}/records?timeout=500", Accept=JSON_V2).json())
        assignments = [call("GET", f"{base}/assignments").json()["partitions"] for base in bases]
        if all(len(a) == 1 for a in assignments) and sum(len(v) for v in got.values()) >= 10:
            break
    assert sorted(p["partition"] for a in assignments for p in a) == [0, 1]  # one partition each
    for base, assigned in zip(bases, assignments, strict=True):
        assert {r["partition"] for r in got[base]} <= {assigned[0]["partition"]}
    values = sorted((r["value"]["p"], r["value"]["i"]) for v in got.values() for r in v)
    assert values == [(p, i) for p in (0, 1) for i in range(5)]

    # a plain confluent-kafka consumer joins the same group: the partitions are shared three ways
    plain = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group, "session.timeout.ms": 6000})
    plain.subscribe([topic])
    try:
        deadline = time.monotonic() + GROUP_FORMS_WITHIN
        while time.monotonic() < deadline:
            plain.poll(0.2)
            for base in bases:
                call("GET", f"{base}/records?timeout=200", Accept=JSON_V2)
            mine = {tp.partition for tp in plain.assignment()}
            theirs = [
                {p["partition"] for p in call("GET", f"{b}/assignments").json()["partitions"]} for b in bases
            ]
            if mine and not any(mine & t for t in theirs) and len(mine) + sum(map(len, theirs)) == 2:
                break
        assert mine, "the plain consumer got no partition of the group"
        assert not any(mine & t for t in theirs) and len(mine) + sum(map(len, theirs)) == 2
    finally:
        plain.close()
        for base in bases:
            call("DELETE", base)


def test_positions_move_what_records_returns_next(proxy: str, broker: TansuBroker) -> None:
    topic = topic_with(broker)
    post(proxy, topic, [{"i": i} for i in range(6)])  # one multi-record batch: Tansu's watermark is wrong
    base = create(proxy, f"g{uuid.uuid4().hex[:6]}", format="json", **{"auto.offset.reset": "earliest"})
    partitions = {"partitions": [{"topic": topic, "partition": 0}]}
    assert call("POST", f"{base}/assignments", partitions).status_code == 204
    assert call("GET", f"{base}/assignments").json() == partitions
    assert [r["offset"] for r in poll(base, 6)] == list(range(6))

    offsets = {"offsets": [{"topic": topic, "partition": 0, "offset": 3}]}
    assert call("POST", f"{base}/positions", offsets).status_code == 204
    assert [r["offset"] for r in poll(base, 3)] == [3, 4, 5]
    assert call("POST", f"{base}/positions/beginning", partitions).status_code == 204
    assert [r["offset"] for r in poll(base, 6)] == list(range(6))
    assert call("POST", f"{base}/positions/end", partitions).status_code == 204
    post(proxy, topic, [{"i": 6}, {"i": 7}])
    assert [r["value"]["i"] for r in poll(base, 2)] == [6, 7]
    assert poll(base, 1, timeout=1.5) == []

    # a partition not assigned: Confluent's illegal state
    other = {"offsets": [{"topic": topic, "partition": 5, "offset": 0}]}
    response = call("POST", f"{base}/positions", other)
    assert (response.status_code, response.json()["error_code"]) == (409, 40903)
    call("DELETE", base)


def test_max_bytes_limits_a_read_and_the_rest_comes_next(proxy: str, broker: TansuBroker) -> None:
    topic = topic_with(broker)
    post(proxy, topic, [{"s": "x" * 100, "i": i} for i in range(10)])
    base = create(proxy, f"g{uuid.uuid4().hex[:6]}", format="json", **{"auto.offset.reset": "earliest"})
    call("POST", f"{base}/subscription", {"topics": [topic]})
    got: list[dict[str, Any]] = []
    sizes = []
    deadline = time.monotonic() + GROUP_FORMS_WITHIN
    while len(got) < 10 and time.monotonic() < deadline:
        batch = call("GET", f"{base}/records?timeout=500&max_bytes=300", Accept=JSON_V2).json()
        sizes.append(len(batch))
        got.extend(batch)
    assert [r["value"]["i"] for r in got] == list(range(10))
    assert max(sizes) <= 2  # each value is 118 bytes: at most two fit in 300
    call("DELETE", base)


def test_errors_have_confluents_status_and_code(proxy: str, broker: TansuBroker) -> None:
    topic, group = topic_with(broker), f"g{uuid.uuid4().hex[:6]}"
    base = create(proxy, group, name="only", format="json")

    again = call("POST", f"{proxy}/consumers/{group}", {"name": "only", "format": "json"})
    assert (again.status_code, again.json()["error_code"]) == (409, 40902)

    unknown = call("GET", f"{proxy}/consumers/{group}/instances/nobody/records", Accept=JSON_V2)
    assert (unknown.status_code, unknown.json()) == (
        404,
        {"error_code": 40403, "message": "Consumer instance not found."},
    )
    assert call("DELETE", f"{proxy}/consumers/{group}/instances/nobody").json()["error_code"] == 40403

    not_subscribed = call("GET", f"{base}/records", Accept=JSON_V2)
    assert (not_subscribed.status_code, not_subscribed.json()["error_code"]) == (409, 40903)

    call("POST", f"{base}/subscription", {"topics": [topic]})
    mismatch = call("GET", f"{base}/records", Accept=BINARY)
    assert (mismatch.status_code, mismatch.json()["error_code"]) == (406, 40601)
    default_accept = call("GET", f"{base}/records")  # no Accept: binary, as Confluent picks it
    assert (default_accept.status_code, default_accept.json()["error_code"]) == (406, 40601)
    not_acceptable = call("GET", f"{base}/records", Accept="text/html")
    assert (not_acceptable.status_code, not_acceptable.json()) == (
        406,
        {"error_code": 406, "message": "HTTP 406 Not Acceptable"},
    )
    pattern = call("POST", f"{base}/subscription", {"topic_pattern": "c.*"})
    assert (pattern.status_code, pattern.json()["error_code"]) == (
        409,
        40903,
    )  # a second kind of subscription
    assign = call("POST", f"{base}/assignments", {"partitions": [{"topic": topic, "partition": 0}]})
    assert (assign.status_code, assign.json()["error_code"]) == (409, 40903)

    bad_format = call("POST", f"{proxy}/consumers/{group}", {"format": "xml"})
    assert (bad_format.status_code, bad_format.json()["error_code"]) == (422, 42204)
    bad_type = requests.post(
        f"{proxy}/consumers/{group}",
        data=b'{"format":"json"}',
        headers={"Content-Type": "text/plain"},
        timeout=10,
    )
    assert (bad_type.status_code, bad_type.json()["error_code"]) == (415, 415)
    assert call("DELETE", f"{base}/subscription").status_code == 204
    assert call("GET", f"{base}/subscription").json() == {"topics": []}
    wrong_method = call("PUT", f"{base}/subscription", {"topics": [topic]})
    assert (wrong_method.status_code, wrong_method.headers["Allow"]) == (405, "GET, POST, DELETE")
    assert call("DELETE", base).status_code == 204


def test_an_idle_instance_expires(broker: TansuBroker) -> None:
    server = make_server("127.0.0.1", 0, broker.bootstrap, consumer_instance_timeout_ms=1_500)
    _serve(server)
    proxy = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        group = f"g{uuid.uuid4().hex[:6]}"
        base = create(proxy, group, name="idle", format="json")
        assert call("GET", f"{base}/subscription").status_code == 200
        time.sleep(3.5)  # the timeout, plus the expiry sweep's interval
        response = call("GET", f"{base}/subscription")
        assert (response.status_code, response.json()["error_code"]) == (404, 40403)
        assert len(server.consumers) == 0
        create(proxy, group, name="idle", format="json")  # the name is free again
    finally:
        server.shutdown()
        server.server_close()
        server.gateway.close(0)


def test_brokers_partitions_and_producing_to_a_partition(proxy: str, broker: TansuBroker) -> None:
    topic = topic_with(broker, partitions=2)
    brokers = requests.get(f"{proxy}/brokers", timeout=10)
    assert brokers.status_code == 200 and len(brokers.json()["brokers"]) == 1
    (broker_id,) = brokers.json()["brokers"]
    partitions = requests.get(f"{proxy}/topics/{topic}/partitions", timeout=10).json()
    assert [p["partition"] for p in partitions] == [0, 1]
    assert all(p["leader"] == broker_id for p in partitions)
    one = requests.get(f"{proxy}/topics/{topic}/partitions/1", timeout=10)
    assert one.status_code == 200 and one.json()["partition"] == 1
    missing = requests.get(f"{proxy}/topics/{topic}/partitions/7", timeout=10)
    assert (missing.status_code, missing.json()) == (
        404,
        {"error_code": 40402, "message": "Partition not found."},
    )

    response = requests.post(
        f"{proxy}/topics/{topic}/partitions/1",
        json={"records": [{"value": {"i": 0}}, {"value": {"i": 1}}]},
        headers={"Content-Type": JSON_V2},
        timeout=30,
    )
    assert response.status_code == 200
    assert [(o["partition"], o["offset"]) for o in response.json()["offsets"]] == [(1, 0), (1, 1)]
    outside = requests.post(
        f"{proxy}/topics/{topic}/partitions/2",
        json={"records": [{"value": 1}]},
        headers={"Content-Type": JSON_V2},
        timeout=30,
    )
    assert (outside.status_code, outside.json()["error_code"]) == (404, 40402)


def test_a_record_that_is_not_json_is_a_500_until_the_client_seeks_past_it(
    proxy: str, broker: TansuBroker
) -> None:
    topic = topic_with(broker)
    producer = Producer({"bootstrap.servers": broker.bootstrap})
    for value in (b'{"i": 0}', b"not json", b'{"i": 2}'):
        producer.produce(topic, value)
        producer.flush(10)
    base = create(proxy, f"g{uuid.uuid4().hex[:6]}", format="json")
    call("POST", f"{base}/assignments", {"partitions": [{"topic": topic, "partition": 0}]})
    call("POST", f"{base}/positions/beginning", {"partitions": [{"topic": topic, "partition": 0}]})
    got: list[dict[str, Any]] = []
    failure = None
    deadline = time.monotonic() + GROUP_FORMS_WITHIN
    while time.monotonic() < deadline and failure is None:
        response = call("GET", f"{base}/records?timeout=500", Accept=JSON_V2)
        if response.status_code == 200:
            got.extend(response.json())
        else:
            failure = response
    assert [r["value"] for r in got] == [{"i": 0}]
    assert failure is not None and (failure.status_code, failure.json()["error_code"]) == (500, 50002)
    assert f"{topic}-0 offset 1 is not JSON" in failure.json()["message"]
    again = call("GET", f"{base}/records?timeout=500", Accept=JSON_V2)
    assert again.status_code == 500  # it stays first, as with Confluent's json consumer
    call("POST", f"{base}/positions", {"offsets": [{"topic": topic, "partition": 0, "offset": 2}]})
    assert [r["value"] for r in poll(base, 1)] == [{"i": 2}]
    call("DELETE", base)
