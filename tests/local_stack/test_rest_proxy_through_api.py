"""The course's own checks through the local API Gateway (issue 18), on the real local stack: a course-style
consumer check of a topic through the REST Proxy's consumer API (`/{proxy+}`), the stream read side
(`.../sharditerator`, `.../records`) reading back what was put, and the keyless option on an isolated stack
of its own (`PIPELINE_API_KEY_REQUIRED=false`), next to the default, which refuses a request without a key."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from local_stack.config import StackConfig
from local_stack.rest_proxy import JSON_V2, ensure_topics
from local_stack.supervisor import Stack, StackInfo
from tests.conftest import stack_prerequisite_missing
from tests.support.net import free_port
from tests.support.requirements import missing

pytestmark = pytest.mark.integration

V2 = "application/vnd.kafka.v2+json"
BINARY = "application/vnd.kafka.binary.v2+json"
GROUP_FORMS_WITHIN = 40.0


class Api:
    """The stage's invoke URL with the stack's API key, as a course script calls it."""

    def __init__(self, stack: StackInfo) -> None:
        assert stack.invoke_url and stack.api_key
        self.url = stack.invoke_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["x-api-key"] = stack.api_key

    def __call__(self, method: str, path_or_url: str, body: Any = None, **headers: str) -> requests.Response:
        url = path_or_url if path_or_url.startswith("http") else f"{self.url}{path_or_url}"
        if body is not None:
            headers.setdefault("Content-Type", V2)
        return self.session.request(
            method, url, data=None if body is None else json.dumps(body), headers=headers, timeout=60
        )


@pytest.fixture(scope="module")
def api(stack: StackInfo) -> Api:
    return Api(stack)


def _topic(stack: StackInfo, partitions: int = 1) -> str:
    name = f"course{uuid.uuid4().hex[:8]}.pin"  # outside the user's prefix: the sink leaves it alone
    assert ensure_topics(stack.bootstrap_servers, [name], partitions=partitions) == [name]
    return name


def _poll(api: Api, base: str, count: int, accept: str = JSON_V2) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + GROUP_FORMS_WITHIN
    while len(got) < count and time.monotonic() < deadline:
        response = api("GET", f"{base}/records?timeout=1000", Accept=accept)
        assert response.status_code == 200, response.text
        got.extend(response.json())
    return got


def test_a_course_style_consumer_check_through_the_api_gateway(api: Api, stack: StackInfo) -> None:
    topic, group = _topic(stack), f"students{uuid.uuid4().hex[:6]}"
    posted = [{"index": i, "title": f"pin {i}", "category": "travel"} for i in range(25)]
    response = api(
        "POST", f"/topics/{topic}", {"records": [{"value": v} for v in posted]}, **{"Content-Type": JSON_V2}
    )
    assert response.status_code == 200, response.text

    created = api(
        "POST", f"/consumers/{group}", {"name": "checker", "format": "json", "auto.offset.reset": "earliest"}
    )
    assert created.status_code == 200, created.text
    base = created.json()["base_uri"]
    assert base == f"{api.url}/consumers/{group}/instances/checker"  # the gateway's URL, not the proxy's
    assert api("POST", f"{base}/subscription", {"topics": [topic]}).status_code == 204
    got = _poll(api, base, len(posted))
    assert [r["value"] for r in got] == posted
    assert api("POST", f"{base}/offsets").status_code == 200
    assert api("DELETE", base).status_code == 204

    second = api(
        "POST", f"/consumers/{group}", {"name": "again", "format": "json", "auto.offset.reset": "earliest"}
    )
    again = second.json()["base_uri"]
    api("POST", f"{again}/subscription", {"topics": [topic]})
    deadline = time.monotonic() + 8  # long enough for the group to form: nothing committed comes back
    leftovers: list[Any] = []
    while time.monotonic() < deadline:
        leftovers.extend(api("GET", f"{again}/records?timeout=1000", Accept=JSON_V2).json())
    assert leftovers == []
    assert api("DELETE", again).status_code == 204

    unknown = api("GET", f"/consumers/{group}/instances/checker/records", Accept=JSON_V2)
    assert (unknown.status_code, unknown.json()) == (
        404,
        {"error_code": 40403, "message": "Consumer instance not found."},
    )


def test_binary_format_name_in_use_accept_and_brokers_through_the_api(api: Api, stack: StackInfo) -> None:
    topic, group = _topic(stack), f"students{uuid.uuid4().hex[:6]}"
    api("POST", f"/topics/{topic}", {"records": [{"value": {"ind": 7}}]}, **{"Content-Type": JSON_V2})
    base = api(
        "POST", f"/consumers/{group}", {"name": "bin", "format": "binary", "auto.offset.reset": "earliest"}
    ).json()["base_uri"]
    taken = api("POST", f"/consumers/{group}", {"name": "bin", "format": "binary"})
    assert (taken.status_code, taken.json()["error_code"]) == (409, 40902)
    api("POST", f"{base}/subscription", {"topics": [topic]})
    wrong = api("GET", f"{base}/records", Accept=JSON_V2)
    assert (wrong.status_code, wrong.json()["error_code"]) == (406, 40601)
    (record,) = _poll(api, base, 1, accept=BINARY)
    assert json.loads(base64.b64decode(record["value"])) == {"ind": 7}
    api("DELETE", base)
    brokers = api("GET", "/brokers")
    assert brokers.status_code == 200 and len(brokers.json()["brokers"]) == 1


def test_two_instances_share_the_partitions_of_a_two_partition_topic_through_the_api(
    api: Api, stack: StackInfo
) -> None:
    topic, group = _topic(stack, partitions=2), f"students{uuid.uuid4().hex[:6]}"
    for partition in (0, 1):
        records = [{"value": {"p": partition, "i": i}, "partition": partition} for i in range(4)]
        assert (
            api("POST", f"/topics/{topic}", {"records": records}, **{"Content-Type": JSON_V2}).status_code
            == 200
        )
    bases = [
        api(
            "POST",
            f"/consumers/{group}",
            {"name": f"m{i}", "format": "json", "auto.offset.reset": "earliest"},
        ).json()["base_uri"]
        for i in (0, 1)
    ]
    for base in bases:
        api("POST", f"{base}/subscription", {"topics": [topic]})
    got: dict[str, list[dict[str, Any]]] = {b: [] for b in bases}
    assigned: list[set[int]] = []
    deadline = time.monotonic() + GROUP_FORMS_WITHIN
    while time.monotonic() < deadline:
        for base in bases:
            got[base].extend(api("GET", f"{base}/records?timeout=500", Accept=JSON_V2).json())
        assigned = [
            {p["partition"] for p in api("GET", f"{b}/assignments").json()["partitions"]} for b in bases
        ]
        if [len(a) for a in assigned] == [1, 1] and sum(map(len, got.values())) >= 8:
            break
    assert sorted(p for a in assigned for p in a) == [0, 1]
    assert sorted((r["value"]["p"], r["value"]["i"]) for v in got.values() for r in v) == [
        (p, i) for p in (0, 1) for i in range(4)
    ]
    for base in bases:
        api("DELETE", base)


def test_records_put_to_a_stream_are_read_back_from_every_shard(api: Api) -> None:
    stream = f"streaming-readback-{uuid.uuid4().hex[:8]}"
    headers = {"Content-Type": "application/json"}
    assert api("POST", f"/streams/{stream}", {"ShardCount": 2}, **headers).status_code == 200
    try:
        deadline = time.monotonic() + 60
        while api("GET", f"/streams/{stream}").json()["StreamDescription"]["StreamStatus"] != "ACTIVE":
            assert time.monotonic() < deadline, "the stream never became ACTIVE"
            time.sleep(0.5)
        rows = [{"ind": i, "country": "Côte d'Ivoire", "latitude": -12.5 + i} for i in range(30)]
        put = api(
            "PUT",
            f"/streams/{stream}/records",
            {"StreamName": stream, "Records": [{"Data": r, "PartitionKey": f"k{r['ind']}"} for r in rows]},
            **headers,
        )
        assert put.status_code == 200 and put.json()["FailedRecordCount"] == 0
        one = api(
            "PUT",
            f"/streams/{stream}/record",
            {"StreamName": stream, "Data": {"ind": 30}, "PartitionKey": "x"},
            **headers,
        )
        assert one.status_code == 200
        rows.append({"ind": 30})

        shards = [
            s["ShardId"] for s in api("GET", f"/streams/{stream}").json()["StreamDescription"]["Shards"]
        ]
        assert len(shards) == 2
        read: list[dict[str, Any]] = []
        per_shard = {}
        for index, shard in enumerate(shards):
            query = {"ShardId": shard, "ShardIteratorType": "TRIM_HORIZON"}
            iterator = api(
                "GET", f"/streams/{stream}/sharditerator?" + "&".join(f"{k}={v}" for k, v in query.items())
            )
            assert iterator.status_code == 200, iterator.text
            token = iterator.json()["ShardIterator"]
            # the iterator as a header on one shard, as a query parameter on the other
            where = {"Shard-Iterator": token} if index == 0 else {}
            url = f"/streams/{stream}/records?Limit=1000" + (
                "" if index == 0 else f"&ShardIterator={requests.utils.quote(token, safe='')}"
            )
            records = api("GET", url, **where)
            assert records.status_code == 200, records.text
            data = [json.loads(base64.b64decode(r["Data"])) for r in records.json()["Records"]]
            per_shard[shard] = data
            read.extend(data)
        assert sorted(read, key=lambda r: r["ind"]) == rows  # every record, as it was put
        assert all(per_shard.values()), "each shard holds some of the records"

        limited = api("GET", f"/streams/{stream}/sharditerator?ShardId={shards[0]}")
        two = api(
            "GET",
            f"/streams/{stream}/records?Limit=2&ShardIterator={requests.utils.quote(limited.json()['ShardIterator'], safe='')}",
        )
        assert len(two.json()["Records"]) == 2
        at = api(
            "GET",
            f"/streams/{stream}/sharditerator?ShardId={shards[0]}&ShardIteratorType=AT_TIMESTAMP&Timestamp={int(time.time()) - 3600}",
        )
        assert at.status_code == 200 and at.json()["ShardIterator"]
        injected = api(
            "GET", f"/streams/{stream}/records?Limit=1,%22ShardIterator%22:%22x%22&ShardIterator=y"
        )
        assert injected.status_code >= 400  # not a number: refused, never read as extra fields
    finally:
        api("DELETE", f"/streams/{stream}")


def test_the_default_api_refuses_a_post_without_a_key(stack: StackInfo) -> None:
    assert stack.invoke_url
    response = requests.post(
        f"{stack.invoke_url}/topics/{stack.user_id}.pin",
        data=b'{"records":[{"value":{"ind":1}}]}',
        headers={"Content-Type": JSON_V2},
        timeout=60,
    )
    assert (response.status_code, response.json()) == (403, {"message": "Forbidden"})


@pytest.fixture(scope="module")
def keyless_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackInfo]:
    """An isolated stack (own state dir and free ports) brought up with PIPELINE_API_KEY_REQUIRED=false."""
    state: Path = tmp_path_factory.mktemp("keyless")
    config = StackConfig.from_env(
        {"PIPELINE_API_KEY_REQUIRED": "false", "USER_ID": "keyless"},
        state_dir=state,
        localstack_port=free_port(),
        tansu_port=free_port(),
        rest_proxy_port=free_port(),
        databricks_port=free_port(),
    )
    reason = stack_prerequisite_missing(config)
    if reason:
        missing(f"local stack unavailable: {reason}")
    assert config.api_key_required is False
    handle = Stack(config, say=lambda _line: None)
    try:
        yield handle.up()
    finally:
        handle.down()


def test_with_the_key_not_required_an_unmodified_course_post_is_accepted(keyless_stack: StackInfo) -> None:
    assert keyless_stack.invoke_url
    response = requests.post(
        f"{keyless_stack.invoke_url}/topics/keyless.pin",
        data=json.dumps({"records": [{"value": {"index": 1, "title": "no key"}}]}),
        headers={"Content-Type": JSON_V2},  # and no x-api-key
        timeout=60,
    )
    assert response.status_code == 200, response.text
    assert response.json()["offsets"][0]["error_code"] is None
    streams = requests.get(f"{keyless_stack.invoke_url}/streams", timeout=60)
    assert streams.status_code == 200 and "streaming-keyless-pin" in streams.json()["StreamNames"]
