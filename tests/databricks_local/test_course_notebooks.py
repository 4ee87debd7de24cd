"""The course-style notebooks of `course/`, run unchanged through the local runner against the real local stack
(LocalStack's S3, IAM and Kinesis): keys from the `authentication_credentials` table that `make local-up` writes,
an `s3n://` mount with the URL-encoded secret, JSON read from the mount, Delta by path written back to the bucket,
`%sql` over Delta, and Kinesis into a Delta table whose restarted query writes no row twice."""

from __future__ import annotations

import json
import os
import stat
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from databricks_local import credentials
from databricks_local.delta import read_arrow
from databricks_local.lake import aws_client
from local_stack.config import StackConfig

pytestmark = [pytest.mark.integration, pytest.mark.spark]

COURSE = Path(__file__).with_name("course")
PINS = [
    {"index": 1, "category": "art", "title": "a", "follower_count": "5k"},
    {"index": 2, "category": "travel", "title": "b", "follower_count": "12"},
    {"index": 3, "category": "art", "title": "c", "follower_count": "1M"},
]


@pytest.fixture
def course(stack: Any, dbfs_root: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """What `make local-up` leaves for a course notebook: the credentials table and CSV, in this test's DBFS."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", stack.localstack_url)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    written = credentials.install(StackConfig.from_env(), root=dbfs_root)
    return json.loads(credentials.record_file(StackConfig.from_env()).read_text()) | {
        "table": str(written["table"])
    }


def test_local_up_writes_the_course_credentials(course: dict[str, str], dbfs_root: Path) -> None:
    table = dbfs_root / "user" / "hive" / "warehouse" / "authentication_credentials"
    rows = read_arrow(table).to_pylist()
    assert rows == [
        {
            "User name": course["user_name"],
            "Access key ID": course["access_key_id"],
            "Secret access key": course["secret_access_key"],
        }
    ]
    csv_file = dbfs_root / "FileStore" / "tables" / "authentication_credentials.csv"
    assert csv_file.read_text().splitlines() == [
        "User name,Access key ID,Secret access key",
        f"{course['user_name']},{course['access_key_id']},{course['secret_access_key']}",
    ]
    for path in [csv_file, credentials.record_file(), *[p for p in table.rglob("*") if p.is_file()]]:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
    # the key is one LocalStack's IAM issued, and a second local-up keeps it
    iam = aws_client("iam")
    listed = iam.list_access_keys(UserName=course["user_name"])["AccessKeyMetadata"]
    assert course["access_key_id"] in {k["AccessKeyId"] for k in listed}
    again = credentials.install(StackConfig.from_env(), root=dbfs_root)
    assert again["access_key_id"] == course["access_key_id"]


def test_mount_read_json_and_delta_by_path(spark: Any, course: dict[str, str], stack: Any) -> None:
    from databricks_local.runner import run_notebook

    s3 = aws_client("s3")
    bucket = f"course-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    user = "0a1b2c3d"
    for i, pin in enumerate(PINS):
        key = f"topics/{user}.pin/partition=0/{user}.pin+0+{i:010d}.json"
        s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(pin).encode())
    widgets = {"bucket": bucket, "user_id": user}
    run = run_notebook(COURSE / "Mount S3 bucket.py", spark, widgets=widgets)
    ns = run.namespace
    assert ns["ENCODED_SECRET_KEY"] == quote(course["secret_access_key"], safe="")
    assert [(m.mountPoint, m.source) for m in ns["dbutils"].fs.mounts()] == [
        ("/mnt/pinterest_data", f"s3a://{bucket}")
    ]
    df_pin = ns["df_pin"]
    assert (
        df_pin.schema.simpleString()
        == "struct<category:string,follower_count:string,index:bigint,title:string>"
    )
    assert sorted((r["index"], r.category, r.title) for r in df_pin.collect()) == [
        (p["index"], p["category"], p["title"]) for p in PINS
    ]
    # the Delta table written under the mount is in the bucket: its log and data files
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="delta/pin/")["Contents"]}
    assert "delta/pin/_delta_log/00000000000000000000.json" in keys
    assert any(k.endswith(".parquet") for k in keys)
    # running the notebook again: the mount is there (the course's try/except remounts) and the table overwritten
    run_notebook(COURSE / "Mount S3 bucket.py", spark, widgets=widgets)
    # another notebook of the workspace: the mount, Delta by path and by name, %sql, DeltaTable, exit value
    query = run_notebook(COURSE / "Query pins.py", spark, widgets={"user_id": user})
    assert query.exit_value == "fine art,fine art,travel"
    assert query.namespace["HISTORY"][0] == "UPDATE"
    counts = {r.category: r.pins for r in query.namespace["by_category"].collect()}
    assert counts == {"art": 2, "travel": 1}
    assert spark.table("pin_raw").count() == 3
    # the update went back to the bucket too: a fresh read of S3 sees the new version
    log = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="delta/pin/_delta_log/")["Contents"]}
    assert len([k for k in log if k.endswith(".json")]) == 3  # overwrite, overwrite again, update


def test_wrong_keys_are_refused_with_403(spark: Any, course: dict[str, str]) -> None:
    from databricks_local.runner import make_namespace

    ns = make_namespace(spark, {})
    with pytest.raises(Exception, match="403 Forbidden"):
        ns["dbutils"].fs.mount(f"s3n://{course['access_key_id']}:wrong@some-bucket", "/mnt/wrong")
    ns["spark"].conf.set("fs.s3a.access.key", "NOTAKEY")
    ns["spark"].conf.set("fs.s3a.secret.key", "nope")
    try:
        with pytest.raises(Exception, match=r"AccessDeniedException.*403"):
            ns["spark"].read.json("s3a://some-bucket/topics/")
    finally:
        ns["spark"].conf.unset("fs.s3a.access.key")
        ns["spark"].conf.unset("fs.s3a.secret.key")


def _put(kinesis: Any, stream: str, pins: list[dict]) -> None:
    records = [{"Data": json.dumps(p).encode(), "PartitionKey": str(p["index"])} for p in pins]
    assert kinesis.put_records(StreamName=stream, Records=records)["FailedRecordCount"] == 0


def test_kinesis_to_delta_with_a_checkpoint(spark: Any, course: dict[str, str], dbfs_root: Path) -> None:
    from databricks_local.runner import run_notebook

    kinesis = aws_client("kinesis")
    stream = f"course-{uuid.uuid4().hex[:8]}"
    kinesis.create_stream(StreamName=stream, ShardCount=2)
    deadline = time.monotonic() + 30
    while (
        kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamStatus"]
        != "ACTIVE"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    table = f"pins_{uuid.uuid4().hex[:6]}"
    widgets = {"stream": stream, "table": table}
    try:
        _put(kinesis, stream, PINS)
        run = run_notebook(COURSE / "Kinesis to Delta.py", spark, widgets=widgets)
        got = run.namespace["spark"].table(table)
        assert got.schema.simpleString() == "struct<index:int,category:string,title:string>"
        assert sorted(r["index"] for r in got.collect()) == [1, 2, 3]
        assert (dbfs_root / "tmp" / "kinesis" / "_checkpoints" / table / "offsets").is_dir()
        more = [{"index": 4, "category": "food", "title": "d"}, {"index": 5, "category": "art", "title": "e"}]
        _put(kinesis, stream, more)
        run_notebook(COURSE / "Kinesis to Delta.py", spark, widgets=widgets)  # restarted from its checkpoint
        again = spark.table(table)
        assert sorted(r["index"] for r in again.collect()) == [1, 2, 3, 4, 5]
        run_notebook(COURSE / "Kinesis to Delta.py", spark, widgets=widgets)  # nothing new: nothing written
        assert spark.table(table).count() == 5
    finally:
        kinesis.delete_stream(StreamName=stream, EnforceConsumerDeletion=True)


def test_direct_s3_paths_with_keys_in_the_spark_conf(
    spark: Any, course: dict[str, str], tmp_path: Path
) -> None:
    """`s3a://` read and written directly, keys from `spark.conf`: a write reaches the bucket when it commits, an
    append keeps what the bucket held, and a fresh mirror (another machine) reads the same rows."""
    from databricks_local.dbfs import FileSystem
    from databricks_local.lake import S3Mirror
    from databricks_local.spark_hooks import prepare_session

    s3 = aws_client("s3")
    bucket = f"direct-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    session = prepare_session(spark.newSession(), FileSystem())
    session.conf.set("spark.hadoop.fs.s3a.access.key", course["access_key_id"])
    session.conf.set("spark.hadoop.fs.s3a.secret.key", course["secret_access_key"])
    first = session.createDataFrame([(1, "a"), (2, "b")], "id bigint, v string")
    first.write.format("delta").save(f"s3a://{bucket}/tables/t")
    session.createDataFrame([(3, "c")], "id bigint, v string").write.format("delta").mode("append").save(
        f"s3://{bucket}/tables/t"
    )
    first.write.mode("append").parquet(f"s3n://{bucket}/plain")
    first.write.mode("append").parquet(f"s3n://{bucket}/plain")
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert {
        "tables/t/_delta_log/00000000000000000000.json",
        "tables/t/_delta_log/00000000000000000001.json",
    } <= keys
    assert len([k for k in keys if k.startswith("plain/") and k.endswith(".parquet")]) >= 2
    fresh = prepare_session(spark.newSession(), FileSystem(S3Mirror(tmp_path / "elsewhere")))
    fresh.conf.set("fs.s3a.access.key", course["access_key_id"])
    fresh.conf.set("fs.s3a.secret.key", course["secret_access_key"])
    got = fresh.read.format("delta").load(f"s3a://{bucket}/tables/t")
    assert sorted(tuple(r) for r in got.collect()) == [(1, "a"), (2, "b"), (3, "c")]
    assert fresh.read.parquet(f"s3a://{bucket}/plain").count() == 4
