"""The applied `terraform/envs/local` on the running local stack (the `stack` fixture applies it).

Checks the outputs the emulator and supervisor read, the bucket's security settings, the three streams, the
API's routes and API-key enforcement, a record's round trip through the Kinesis integration (on a stream of
its own, created and deleted through the API, so the pipeline's streams are untouched), that partition keys
and stream names with JSON-special characters survive the mapping templates, and that `/{proxy+}` reaches the
REST Proxy.
"""

from __future__ import annotations

import http.client
import json
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from emulation.names import DATASETS, PipelineNames
from local_stack.aws import localstack_client
from tests.support.net import wait_until

pytestmark = pytest.mark.integration

TIMEOUT = 15


@pytest.fixture(scope="module")
def outputs(stack: Any) -> dict[str, Any]:
    return stack.outputs


@pytest.fixture(scope="module")
def aws(stack: Any, outputs: dict[str, Any]):
    """boto3 clients against the stack's LocalStack."""
    return lambda service: localstack_client(
        service, endpoint_url=stack.localstack_url, region=outputs["region"]
    )


@pytest.fixture(scope="module")
def api(outputs: dict[str, Any]) -> requests.Session:
    session = requests.Session()
    session.headers["x-api-key"] = outputs["api_key"]
    return session


def test_outputs_follow_the_names_contract(stack: Any, outputs: dict[str, Any]) -> None:
    names = PipelineNames(stack.user_id)
    assert outputs["invoke_url"] == (
        f"{stack.localstack_url.rstrip('/')}/_aws/execute-api/{outputs['api_id']}/{outputs['stage_name']}"
    )
    assert outputs["bucket_name"] == names.bucket
    assert outputs["stream_names"] == names.streams
    assert outputs["topics"] == names.topics
    assert outputs["region"] == "us-east-1"
    assert isinstance(outputs["api_key"], str) and len(outputs["api_key"]) >= 20


def test_bucket_is_private_encrypted_and_tls_only(aws, outputs: dict[str, Any]) -> None:
    s3, bucket = aws("s3"), outputs["bucket_name"]
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    key = rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"]
    assert aws("kms").describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Enabled"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert block == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    ownership = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
    assert ownership == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in policy["Statement"]
    )


def test_streams_exist_encrypted_and_on_demand(aws, outputs: dict[str, Any]) -> None:
    kinesis = aws("kinesis")
    assert set(outputs["stream_names"]) == set(DATASETS)
    for name in outputs["stream_names"].values():
        summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        assert summary["StreamStatus"] == "ACTIVE"
        assert summary["EncryptionType"] == "KMS"
        assert summary["StreamModeDetails"]["StreamMode"] == "ON_DEMAND"


def test_api_has_the_routes_and_every_method_needs_a_key(aws, outputs: dict[str, Any]) -> None:
    resources = aws("apigateway").get_resources(restApiId=outputs["api_id"], embed=["methods"])["items"]
    methods = {r["path"]: r.get("resourceMethods", {}) for r in resources}
    assert {path: set(m) for path, m in methods.items() if m} == {
        "/{proxy+}": {"ANY"},
        "/streams": {"GET"},
        "/streams/{stream-name}": {"GET", "POST", "DELETE"},
        "/streams/{stream-name}/record": {"PUT"},
        "/streams/{stream-name}/records": {"PUT", "GET"},
        "/streams/{stream-name}/sharditerator": {"GET"},
    }
    assert all(m["apiKeyRequired"] for per_path in methods.values() for m in per_path.values())


@pytest.mark.parametrize("key", [None, "not-the-key"])
def test_requests_without_the_right_key_are_forbidden(outputs: dict[str, Any], key: str | None) -> None:
    headers = {"Content-Type": "application/json"} | ({"x-api-key": key} if key else {})
    stream = outputs["stream_names"]["pin"]
    for method, path in [("GET", "/streams"), ("PUT", f"/streams/{stream}/record"), ("POST", "/topics/x")]:
        response = requests.request(
            method, outputs["invoke_url"] + path, headers=headers, data="{}", timeout=TIMEOUT
        )
        assert response.status_code == 403, (method, path, response.text)


def _read_all(kinesis, stream: str) -> list[dict[str, Any]]:
    records = []
    for shard in kinesis.list_shards(StreamName=stream)["Shards"]:
        iterator = kinesis.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records += kinesis.get_records(ShardIterator=iterator, Limit=1000)["Records"]
    return records


def test_records_round_trip_through_the_kinesis_integration(
    aws, outputs: dict[str, Any], api: requests.Session
) -> None:
    kinesis, base = aws("kinesis"), outputs["invoke_url"]
    stream = f"tf-test-{uuid.uuid4().hex[:10]}"
    created = api.post(f"{base}/streams/{stream}", json={}, timeout=TIMEOUT)
    assert created.status_code == 200, created.text
    try:
        status = wait_until(
            lambda: api.get(f"{base}/streams/{stream}", timeout=TIMEOUT).json(),
            lambda body: body.get("StreamDescription", {}).get("StreamStatus") == "ACTIVE",
            timeout=60,
        )
        assert status["StreamDescription"]["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
        assert stream in api.get(f"{base}/streams", timeout=TIMEOUT).json()["StreamNames"]

        one = {"index": 7, "title": 'a "quoted" title', "follower_count": "12k", "tags": ["x", "y"]}
        put = api.put(
            f"{base}/streams/{stream}/record",
            json={"StreamName": stream, "Data": one, "PartitionKey": "pk-one"},
            timeout=TIMEOUT,
        )
        assert put.status_code == 200, put.text
        assert put.json()["SequenceNumber"]

        many = [{"ind": i, "country": "Côte d'Ivoire"} for i in range(3)]
        batch = api.put(
            f"{base}/streams/{stream}/records",
            json={
                "StreamName": stream,
                "Records": [{"Data": d, "PartitionKey": f"pk-{i}"} for i, d in enumerate(many)],
            },
            timeout=TIMEOUT,
        )
        assert batch.status_code == 200, batch.text
        assert batch.json()["FailedRecordCount"] == 0 and len(batch.json()["Records"]) == 3

        got = {r["PartitionKey"]: json.loads(r["Data"]) for r in _read_all(kinesis, stream)}
        assert got == {"pk-one": one} | {f"pk-{i}": d for i, d in enumerate(many)}
    finally:
        deleted = api.delete(f"{base}/streams/{stream}", timeout=TIMEOUT)
        assert deleted.status_code == 200, deleted.text


# Partition keys the mapping templates must pass through exactly: JSON's special characters, a key ending in
# a backslash, single quotes (which $util.escapeJavaScript would turn into invalid JSON), non-ASCII (an emoji
# needs a surrogate pair), control characters, '/', whitespace only, VTL syntax (which must stay data) and an
# attempt to inject a field into the Kinesis request.
TRICKY_KEYS = [
    'say "hi"',
    "back\\slash\\",
    "it's",
    "\\'\"",
    "ünïcødé-日本-😀",
    "tab\there\nnewline",
    "a/b",
    "$input.body #set($x = 1) ${x}",
    " ",
    'x", "StreamName": "injected',
]


@pytest.fixture
def scratch_stream(aws) -> Iterator[str]:
    """An on-demand stream of this test's own (created with boto3, deleted afterwards)."""
    kinesis, stream = aws("kinesis"), f"tf-test-{uuid.uuid4().hex[:10]}"
    kinesis.create_stream(StreamName=stream, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    try:
        kinesis.get_waiter("stream_exists").wait(
            StreamName=stream, WaiterConfig={"Delay": 0.5, "MaxAttempts": 120}
        )
        yield stream
    finally:
        kinesis.delete_stream(StreamName=stream, EnforceConsumerDeletion=True)


def _by_sequence_number(kinesis, stream: str) -> dict[str, dict[str, Any]]:
    return {r["SequenceNumber"]: r for r in _read_all(kinesis, stream)}


def test_partition_keys_round_trip_through_put_record(
    aws, outputs: dict[str, Any], api: requests.Session, scratch_stream: str
) -> None:
    url = f"{outputs['invoke_url']}/streams/{scratch_stream}/record"
    sent = {}
    for index, key in enumerate(TRICKY_KEYS):
        data = {"ind": index, "key": key}
        response = api.put(
            url, json={"StreamName": scratch_stream, "Data": data, "PartitionKey": key}, timeout=TIMEOUT
        )
        assert response.status_code == 200, (key, response.text)
        sent[response.json()["SequenceNumber"]] = (key, data)

    stored = _by_sequence_number(aws("kinesis"), scratch_stream)
    assert set(stored) == set(sent)
    for sequence_number, (key, data) in sent.items():
        assert stored[sequence_number]["PartitionKey"] == key
        assert json.loads(stored[sequence_number]["Data"]) == data


def test_partition_keys_round_trip_through_put_records(
    aws, outputs: dict[str, Any], api: requests.Session, scratch_stream: str
) -> None:
    records = [{"Data": {"ind": i, "key": key}, "PartitionKey": key} for i, key in enumerate(TRICKY_KEYS)]
    response = api.put(
        f"{outputs['invoke_url']}/streams/{scratch_stream}/records",
        json={"StreamName": scratch_stream, "Records": records},
        timeout=TIMEOUT,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["FailedRecordCount"] == 0 and len(body["Records"]) == len(records)

    stored = _by_sequence_number(aws("kinesis"), scratch_stream)
    # PutRecords answers in request order: entry i is record i.
    for sent, result in zip(records, body["Records"], strict=True):
        got = stored[result["SequenceNumber"]]
        assert got["PartitionKey"] == sent["PartitionKey"]
        assert json.loads(got["Data"]) == sent["Data"]
    assert len(stored) == len(records)


def test_stream_name_is_escaped_into_the_kinesis_request(outputs: dict[str, Any]) -> None:
    # A raw double quote and backslash in the path (LocalStack passes path parameters through undecoded):
    # Kinesis must receive them as the stream name and refuse that name, not get a body that is not JSON.
    name = 'bad"na\\me'
    url = urlsplit(outputs["invoke_url"])
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=TIMEOUT)
    body = json.dumps({"Data": {"ind": 1}, "PartitionKey": "k"}).encode()
    try:
        connection.request(
            "PUT",
            f"{url.path}/streams/{name}/record",
            body=body,
            headers={"x-api-key": outputs["api_key"], "Content-Type": "application/json"},
        )
        response = connection.getresponse()
        status, text = response.status, response.read().decode()
    finally:
        connection.close()
    assert status == 400, text
    error = json.loads(text)
    assert error["__type"] == "InvalidArgumentException", error
    assert name in error["message"], error


def test_unknown_stream_is_a_400_with_the_kinesis_error(
    outputs: dict[str, Any], api: requests.Session
) -> None:
    response = api.get(f"{outputs['invoke_url']}/streams/tf-test-no-such-stream", timeout=TIMEOUT)
    assert response.status_code == 400
    assert "ResourceNotFoundException" in response.text


def test_proxy_route_reaches_the_rest_proxy(outputs: dict[str, Any], api: requests.Session) -> None:
    # A wrong Content-Type is refused by the REST Proxy itself (docs/data-contracts.md 3.3: 415, error body).
    response = api.post(
        f"{outputs['invoke_url']}/topics/{outputs['topics']['pin']}",
        data=b"not json",
        headers={"Content-Type": "text/plain"},
        timeout=TIMEOUT,
    )
    assert response.status_code == 415, response.text
    assert "error_code" in response.json()
