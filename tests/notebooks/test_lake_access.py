"""notebooks/pinterest_pipeline/lake.py: explicit schemas, both datetime formats, unparseable lines kept aside, the
two access modes; and batch.py run end to end through the local runtime in mount mode."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.notebooks.conftest import LAKE_USER, NOTEBOOKS

pytestmark = pytest.mark.spark


def write_lines(root: Path, topic: str, lines: list[str]) -> None:
    folder = root / "topics" / topic / "partition=0"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{topic}+0+0000000000.json").write_text("\n".join(lines) + "\n")


def test_read_lake_types_both_datetime_formats_and_keeps_bad_lines_aside(
    spark: Any, nb: dict, tmp_path: Path
) -> None:
    geo = [
        {"ind": 1, "timestamp": "2019-03-04T05:06:07", "latitude": 1.0, "longitude": 2.0, "country": "Chile"},
        {"ind": 2, "timestamp": "2019-03-04 05:06:07", "latitude": 1, "longitude": 2, "country": "Peru"},
    ]
    lines = [json.dumps(g) for g in geo] + ['{"ind": 3, "timestamp": ', '{"ind": "three", "country": "Peru"}']
    write_lines(tmp_path, "u.geo", lines)
    raw = nb["read_lake"](str(tmp_path), "u")
    assert raw["pin"].count() == 0 and raw["user"].count() == 0  # topics without objects read as empty
    assert raw["geo"].columns == ["ind", "timestamp", "latitude", "longitude", "country", "_corrupt_record"]
    cleaned, rejected = nb["clean_dataset"](raw["geo"].cache(), "geo")
    assert [(r.ind, r.timestamp.isoformat(), r.coordinates) for r in cleaned.orderBy("ind").collect()] == [
        (1, "2019-03-04T05:06:07", [1.0, 2.0]),
        (2, "2019-03-04T05:06:07", [1.0, 2.0]),
    ]
    assert sorted(r._corrupt_record for r in rejected.collect()) == sorted(lines[2:])


def test_lake_root_modes(nb: dict) -> None:
    lake_root = nb["lake_root"]
    assert lake_root("direct", "user-x-bucket") == "s3://user-x-bucket"
    assert lake_root("direct", "s3://b/prefix/") == "s3://b/prefix"
    assert lake_root("direct", "/Volumes/main/pinterest/lake") == "/Volumes/main/pinterest/lake"
    with pytest.raises(ValueError, match="lake_access must be one of direct, mount"):
        lake_root("dbfs", "b")
    with pytest.raises(ValueError, match="bucket widget is empty"):
        lake_root("direct", " ")


@contextmanager
def notebook_objects(namespace: dict[str, Any]) -> Iterator[None]:
    """The package's `spark` and `dbutils` (`databricks.sdk.runtime`) are those of `namespace` meanwhile, as while
    a notebook with these globals runs."""
    from databricks_local import runtime

    runtime.push(namespace)
    try:
        yield
    finally:
        runtime.pop()


def test_batch_notebook_in_mount_mode_with_keys_from_a_secret_scope(
    spark: Any, generated_lake: Path, batch_run: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """batch.py as Databricks runs it: widgets, a /mnt mount whose keys come from the secret scope, tables."""
    from databricks_local.lake import S3Mirror
    from databricks_local.runner import make_namespace, run_notebook

    s3 = tmp_path / "s3"
    for source in generated_lake.rglob(
        "*.json"
    ):  # s3://my-bucket/ is the lake, plus one object of bad records
        target = s3 / "my-bucket" / source.relative_to(generated_lake)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(source)
    bad = (
        s3
        / "my-bucket"
        / "topics"
        / f"{LAKE_USER}.pin"
        / "partition=0"
        / f"{LAKE_USER}.pin+0+9999999999.json"
    )
    bad.write_text('{"index": null, "category": "art"}\nnot json at all\n')
    monkeypatch.setenv("DATABRICKS_SECRET_LAKE_KEYS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("DATABRICKS_SECRET_LAKE_KEYS_SECRET_ACCESS_KEY", "wJalr/EXAMPLEKEY")
    widgets = {
        "user_id": LAKE_USER,
        "lake_access": "mount",
        "bucket": "my-bucket",
        "secret_scope": "lake-keys",
    }
    namespace = make_namespace(spark, widgets, S3Mirror(tmp_path / "cache", s3_dir=s3), lambda *a, **k: None)
    database = f"mount_{uuid.uuid4().hex[:8]}"
    spark.sql(f"CREATE DATABASE {database} LOCATION '{(tmp_path / 'tables').as_posix()}'")
    previous = spark.catalog.currentDatabase()
    spark.catalog.setCurrentDatabase(database)
    try:
        run = run_notebook(NOTEBOOKS / "batch.py", spark, namespace=namespace)
        mounts = namespace["dbutils"].fs.mounts()
        assert [(m.mountPoint, m.source) for m in mounts] == [("/mnt/my-bucket", "s3a://my-bucket")]
        assert run.namespace["LAKE"] == "/mnt/my-bucket"
        nspark = namespace["spark"]  # the notebook's spark: it knows the local Delta tables
        for dataset in ("pin", "geo", "user"):
            assert nspark.catalog.tableExists(f"{LAKE_USER}_{dataset}_batch")
            assert not nspark.catalog.tableExists(f"{LAKE_USER}_{dataset}_table")  # the stream's, untouched
        assert all(nspark.catalog.tableExists(t) for t in run.namespace["RESULT_TABLES"].values())
        counts = {r.dataset: r for r in nspark.table(f"{LAKE_USER}_batch_counts").collect()}
        assert (counts["pin"].read, counts["pin"].rejected) == (batch_run.counts["pin"].read + 2, 2)
        assert counts["pin"].cleaned == batch_run.counts["pin"].cleaned
        assert nspark.table(f"{LAKE_USER}_pin_rejected").count() == 2
        assert not nspark.catalog.tableExists(f"{LAKE_USER}_geo_rejected")
        # same answers as the direct-mode run of the same lake
        top = nspark.table(f"{LAKE_USER}_top_country_by_followers").toPandas()
        assert top.to_dict("records") == batch_run.results["top_country_by_followers"].to_dict("records")
    finally:
        spark.catalog.setCurrentDatabase(previous)
        spark.sql(f"DROP DATABASE {database} CASCADE")


@pytest.mark.integration
def test_run_batch_reads_an_s3_lake_on_localstack(
    spark: Any,
    stack: Any,
    generated_lake: Path,
    batch_run: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = stack.localstack_url
    from databricks_local.lake import s3_client
    from local_stack.notebook_runner.batch import lake_bytes, run_batch

    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    client = s3_client()
    bucket = f"nbtest-{uuid.uuid4().hex[:10]}"
    client.create_bucket(Bucket=bucket)
    for path in generated_lake.rglob("*.json"):
        client.upload_file(str(path), bucket, path.relative_to(generated_lake).as_posix())
    assert lake_bytes(f"s3://{bucket}") == sum(p.stat().st_size for p in generated_lake.rglob("*.json"))
    result = run_batch(f"s3://{bucket}", LAKE_USER, tmp_path / "out", spark=spark)
    for name, frame in batch_run.results.items():
        assert result.results[name].to_dict("records") == frame.to_dict("records"), name
    assert (tmp_path / "out" / ".lake-cache" / bucket / "topics").is_dir()


def test_mount_keys_may_come_from_the_courses_credentials_table(
    spark: Any, nb: dict[str, Any], tmp_path: Path
) -> None:
    """The course keeps its AWS keys in a Delta table `authentication_credentials`; mount mode accepts it."""
    from databricks_local.lake import S3Mirror
    from databricks_local.runner import make_namespace

    (tmp_path / "s3" / "course-bucket").mkdir(parents=True)
    namespace = make_namespace(
        spark, {}, S3Mirror(tmp_path / "cache", s3_dir=tmp_path / "s3"), lambda *a, **k: None
    )
    database = f"creds_{uuid.uuid4().hex[:8]}"
    spark.sql(f"CREATE DATABASE {database} LOCATION '{(tmp_path / 'tables').as_posix()}'")
    previous = spark.catalog.currentDatabase()
    spark.catalog.setCurrentDatabase(database)
    try:
        with notebook_objects(namespace):
            keys = spark.createDataFrame(
                [("AKIDCOURSE", "se/cret+key", "user")],
                "`Access key ID` string, `Secret access key` string, `User name` string",
            )
            keys.write.format("delta").mode("overwrite").saveAsTable("authentication_credentials")
            assert nb["aws_keys"]("unused-scope", "authentication_credentials") == (
                "AKIDCOURSE",
                "se/cret+key",
            )
            point = nb["lake_root"](
                "mount", "s3://course-bucket/", "unused-scope", "authentication_credentials"
            )
            assert point == "/mnt/course-bucket"
            assert (
                nb["lake_root"]("mount", "course-bucket", "unused-scope", "authentication_credentials")
                == point
            )
            mounts = namespace["dbutils"].fs._mounts
            assert mounts == {
                point: "s3a://AKIDCOURSE:se%2Fcret%2Bkey@course-bucket"
            }  # the secret URL-encoded
            empty = spark.createDataFrame([], keys.schema)
            empty.write.format("delta").mode("overwrite").saveAsTable("no_keys")
            with pytest.raises(ValueError, match="no_keys is empty"):
                nb["aws_keys"]("unused-scope", "no_keys")
    finally:
        spark.catalog.setCurrentDatabase(previous)
        spark.sql(f"DROP DATABASE {database} CASCADE")
