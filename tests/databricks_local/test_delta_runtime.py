"""Delta as a Databricks notebook uses it, on the real SparkSession prepared by `spark_hooks.prepare_session`:
by path and by name, the writer options, SQL (`CREATE ... USING DELTA`, `delta.\\`path\\``, `DESCRIBE HISTORY`,
`DROP TABLE`, DML), the `DeltaTable` API and streams into Delta that a restart never writes twice."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

from databricks_local.dbfs import FileSystem
from databricks_local.delta import DeltaSchemaMismatch, read_arrow
from databricks_local.spark_hooks import prepare_session

pytestmark = pytest.mark.spark


@pytest.fixture
def nspark(spark: Any, tmp_path: Path, dbfs_root: Path) -> Iterator[SparkSession]:
    """A notebook's `spark` (a new session of the one cluster) with a database of its own under `tmp_path`."""
    session = prepare_session(spark.newSession(), FileSystem())
    name = f"rt_{uuid.uuid4().hex[:8]}"
    session.sql(f"CREATE DATABASE {name} LOCATION '{(tmp_path / 'db').as_posix()}'")
    session.catalog.setCurrentDatabase(name)
    yield session
    session.sql(f"DROP DATABASE IF EXISTS {name} CASCADE")


def rows(df: Any) -> list[tuple]:
    return sorted(tuple(r) for r in df.collect())


def test_the_notebooks_spark_is_a_real_session(nspark: SparkSession) -> None:
    assert type(nspark) is SparkSession
    other = prepare_session(nspark.newSession(), FileSystem())
    assert type(other) is SparkSession and other is not nspark


def test_delta_by_path_on_dbfs(nspark: SparkSession, dbfs_root: Path) -> None:
    df = nspark.createDataFrame([(1, "a"), (2, "b")], "id bigint, v string")
    df.write.format("delta").save("dbfs:/tmp/delta/t")
    assert (dbfs_root / "tmp/delta/t/_delta_log").is_dir()
    assert read_arrow(dbfs_root / "tmp/delta/t").num_rows == 2  # deltalake reads what Spark wrote
    with pytest.raises(Exception, match="already exist"):
        df.write.format("delta").save("/tmp/delta/t")
    nspark.createDataFrame([(3, "c")], "id bigint, v string").write.format("delta").mode("append").save(
        "/tmp/delta/t"
    )
    back = nspark.read.format("delta").load("/tmp/delta/t")
    assert back.schema.simpleString() == "struct<id:bigint,v:string>"
    assert rows(back) == [(1, "a"), (2, "b"), (3, "c")]
    assert rows(nspark.read.load("dbfs:/tmp/delta/t", format="delta")) == rows(back)
    assert rows(nspark.read.format("delta").option("versionAsOf", 0).load("/tmp/delta/t")) == [
        (1, "a"),
        (2, "b"),
    ]
    # a different schema: refused, unless mergeSchema (append) or overwriteSchema (overwrite)
    wider = nspark.createDataFrame([(4, "d", 1.5)], "id bigint, v string, w double")
    with pytest.raises(DeltaSchemaMismatch, match="schema mismatch"):
        wider.write.format("delta").mode("append").save("/tmp/delta/t")
    wider.write.format("delta").mode("append").option("mergeSchema", "true").save("/tmp/delta/t")
    assert rows(nspark.read.format("delta").load("/tmp/delta/t")) == [
        (1, "a", None), (2, "b", None), (3, "c", None), (4, "d", 1.5),
    ]  # fmt: skip
    other = nspark.createDataFrame([("x",)], "only string")
    with pytest.raises(DeltaSchemaMismatch):
        other.write.format("delta").mode("overwrite").save("/tmp/delta/t")
    other.write.format("delta").mode("overwrite").option("overwriteSchema", "true").save("/tmp/delta/t")
    assert nspark.read.format("delta").load("/tmp/delta/t").columns == ["only"]
    # SQL by path
    assert rows(nspark.sql("SELECT * FROM delta.`dbfs:/tmp/delta/t`")) == [("x",)]
    history = nspark.sql("DESCRIBE HISTORY delta.`/tmp/delta/t`")
    # mergeSchema adds its columns in a commit of its own locally (Databricks: in the write's commit)
    assert [r.version for r in history.collect()] == [4, 3, 2, 1, 0]
    assert {"version", "timestamp", "operation", "operationParameters"} <= set(history.columns)


def test_delta_by_name_and_sql(nspark: SparkSession, tmp_path: Path) -> None:
    df = nspark.createDataFrame([(1, "a"), (2, "b")], "id bigint, v string")
    df.write.saveAsTable("plain_default")  # Databricks' default format is Delta
    assert (tmp_path / "db" / "plain_default" / "_delta_log").is_dir()
    assert nspark.catalog.tableExists("plain_default")
    assert rows(nspark.table("plain_default")) == [(1, "a"), (2, "b")]
    assert rows(nspark.read.table("plain_default")) == [(1, "a"), (2, "b")]
    # a query naming the table, as a %sql cell would, joins and aggregates included
    got = nspark.sql("SELECT v, count(*) AS n FROM plain_default WHERE id > 0 GROUP BY v ORDER BY v")
    assert [tuple(r) for r in got.collect()] == [("a", 1), ("b", 1)]
    db = nspark.catalog.currentDatabase()
    assert (
        nspark.sql(f"SELECT count(*) FROM {db}.plain_default a JOIN plain_default b USING (id)").first()[0]
        == 2
    )
    nspark.sql("CREATE TABLE ctas USING DELTA AS SELECT id * 10 AS id, v FROM plain_default")
    assert rows(nspark.table("ctas")) == [(10, "a"), (20, "b")]
    nspark.sql("CREATE TABLE IF NOT EXISTS empty_t (id BIGINT, name STRING) USING DELTA")
    assert nspark.table("empty_t").schema.simpleString() == "struct<id:bigint,name:string>"
    nspark.sql("INSERT INTO empty_t VALUES (7, 'seven'), (8, 'eight')")
    nspark.sql("UPDATE empty_t SET name = 'SEVEN' WHERE id = 7")
    nspark.sql("DELETE FROM empty_t WHERE id = 8")
    assert rows(nspark.table("empty_t")) == [(7, "SEVEN")]
    ops = [r.operation for r in nspark.sql("DESCRIBE HISTORY empty_t").collect()]
    assert len(ops) == 4 and ops[0] == "DELETE" and ops[1] == "UPDATE"
    nspark.sql("DROP TABLE ctas")
    assert not nspark.catalog.tableExists("ctas") and not (tmp_path / "db" / "ctas").exists()
    nspark.sql("DROP TABLE IF EXISTS ctas")
    # saveAsTable modes and schema options
    df.write.format("delta").mode("overwrite").saveAsTable("plain_default")
    wider = nspark.createDataFrame([(3, "c", True)], "id bigint, v string, f boolean")
    with pytest.raises(DeltaSchemaMismatch):
        wider.write.format("delta").mode("append").saveAsTable("plain_default")
    wider.write.format("delta").mode("append").option("mergeSchema", "true").saveAsTable("plain_default")
    assert nspark.table("plain_default").columns == ["id", "v", "f"]
    assert nspark.table("plain_default").count() == 3


def test_delta_table_api(nspark: SparkSession) -> None:
    from delta.tables import DeltaTable

    nspark.createDataFrame(
        [(1, "a", 10), (2, "b", 20), (3, "c", 30)], "id bigint, v string, n bigint"
    ).write.format("delta").save("/tmp/api/t")
    assert DeltaTable.isDeltaTable(nspark, "dbfs:/tmp/api/t") and not DeltaTable.isDeltaTable(
        nspark, "/tmp/api/x"
    )
    table = DeltaTable.forPath(nspark, "/tmp/api/t")
    updates = nspark.createDataFrame(
        [(2, "B", 200), (4, "d", 40), (3, "gone", 0)], "id bigint, v string, n bigint"
    )
    metrics = (
        table.alias("t")
        .merge(updates.alias("s"), "t.id = s.id")
        .whenMatchedDelete(condition="s.v = 'gone'")
        .whenMatchedUpdate(set={"v": "s.v", "n": "s.n + 1"})
        .whenNotMatchedInsertAll()
        .execute()
    )
    assert metrics.first().asDict() == {
        "num_affected_rows": 3, "num_updated_rows": 1, "num_deleted_rows": 1, "num_inserted_rows": 1,
    }  # fmt: skip
    assert rows(table.toDF()) == [(1, "a", 10), (2, "B", 201), (4, "d", 40)]
    table.update(condition="id = 1", set={"n": "n * 2"})
    from pyspark.sql import functions as F

    table.update(F.col("id") == 4, {"v": F.lit("D")})
    table.delete("n > 200")
    assert rows(table.toDF()) == [(1, "a", 20), (4, "D", 40)]
    upserts = nspark.createDataFrame([(1, "A", 1), (5, "e", 5)], "id bigint, v string, n bigint")
    table.alias("t").merge(upserts.alias("s"), "t.id = s.id").whenMatchedUpdateAll().whenNotMatchedInsert(
        values={"id": "s.id", "v": "s.v", "n": "0"}
    ).execute()
    assert rows(DeltaTable.forPath(nspark, "/tmp/api/t").toDF()) == [(1, "A", 1), (4, "D", 40), (5, "e", 0)]
    history = table.history()
    assert [r.operation for r in history.collect()][:2] == ["MERGE", "DELETE"]
    assert table.history(1).count() == 1
    assert table.vacuum(200).columns == ["path"]
    nspark.createDataFrame([(1,)], "k bigint").write.saveAsTable("named")
    assert rows(DeltaTable.forName(nspark, "named").toDF()) == [(1,)]
    with pytest.raises(Exception, match="not a Delta table"):
        DeltaTable.forName(nspark, "nothing_here")


def _drop(folder: Path, name: str, lines: list[dict]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("".join(json.dumps(line) + "\n" for line in lines))


@pytest.mark.parametrize("sink", ["toTable", "table", "start"])
def test_stream_into_delta_restarts_without_writing_a_row_twice(
    nspark: SparkSession, dbfs_root: Path, tmp_path: Path, sink: str
) -> None:
    landing = dbfs_root / "FileStore" / "landing" / sink
    _drop(landing, "a.json", [{"id": 1}, {"id": 2}])

    def run() -> None:
        writer = (
            nspark.readStream.schema("id bigint")
            .json(f"dbfs:/FileStore/landing/{sink}")
            .writeStream.format("delta")
            .outputMode("append")
            .option("checkpointLocation", f"/tmp/checkpoints/{sink}")
            .trigger(availableNow=True)
        )
        query = getattr(writer, sink)("/tmp/stream_out" if sink == "start" else "streamed")
        query.awaitTermination()
        assert query.exception() is None

    def content() -> list[int]:
        frame = (
            nspark.read.format("delta").load("/tmp/stream_out")
            if sink == "start"
            else nspark.table("streamed")
        )
        return sorted(r.id for r in frame.collect())

    run()
    assert content() == [1, 2]
    assert (dbfs_root / "tmp" / "checkpoints" / sink / "commits").is_dir()  # the checkpoint lives in DBFS
    _drop(landing, "b.json", [{"id": 3}])
    run()
    assert content() == [1, 2, 3]
    # a crash after the Delta commit, before Spark recorded the batch: the restart runs that batch again, and
    # the table's transaction id for this query makes that a no-op
    commits = dbfs_root / "tmp" / "checkpoints" / sink / "commits"
    last = max(int(p.name) for p in commits.iterdir() if p.name.isdigit())
    (commits / str(last)).unlink()
    (commits / f".{last}.crc").unlink(missing_ok=True)  # Hadoop's checksum of it
    _drop(landing, "c.json", [{"id": 4}])
    run()
    assert content() == [1, 2, 3, 4]


def test_foreach_batch_sees_dbfs_and_delta(nspark: SparkSession, dbfs_root: Path) -> None:
    _drop(dbfs_root / "FileStore" / "fb", "a.json", [{"id": 1}, {"id": 2}])
    nspark.createDataFrame([], "id bigint").write.format("delta").saveAsTable("fb_target")

    def upsert(batch: Any, batch_id: int) -> None:
        from delta.tables import DeltaTable

        DeltaTable.forName(batch.sparkSession, "fb_target").alias("t").merge(
            batch.alias("s"), "t.id = s.id"
        ).whenNotMatchedInsertAll().execute()

    for _ in range(2):  # the second run (a new checkpoint) finds every row already there
        query = (
            nspark.readStream.schema("id bigint")
            .json("/FileStore/fb")
            .writeStream.foreachBatch(upsert)
            .option("checkpointLocation", f"dbfs:/tmp/fb-{uuid.uuid4().hex[:6]}")
            .trigger(availableNow=True)
            .start()
        )
        query.awaitTermination()
    assert sorted(r.id for r in nspark.table("fb_target").collect()) == [1, 2]


def test_sql_merge_into(nspark: SparkSession) -> None:
    nspark.sql("CREATE TABLE people (id BIGINT, name STRING, visits BIGINT) USING DELTA")
    nspark.sql("INSERT INTO people VALUES (1, 'ann', 1), (2, 'bob', 1), (3, 'cy', 1)")
    nspark.createDataFrame(
        [(1, "ann", 5), (2, "gone", 0), (4, "dee", 1)], "id bigint, name string, visits bigint"
    ).createOrReplaceTempView("changes")
    merged = nspark.sql(
        """
        MERGE INTO people AS t
        USING changes AS s
        ON t.id = s.id
        WHEN MATCHED AND s.name = 'gone' THEN DELETE
        WHEN MATCHED THEN UPDATE SET visits = t.visits + s.visits
        WHEN NOT MATCHED THEN INSERT (id, name, visits) VALUES (s.id, s.name, s.visits)
        """
    )
    assert merged.first().num_affected_rows == 3
    assert rows(nspark.table("people")) == [(1, "ann", 6), (3, "cy", 1), (4, "dee", 1)]
    nspark.sql(
        "MERGE INTO people USING (SELECT 3 AS id, 'CY' AS name, 9 AS visits) src ON people.id = src.id "
        "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *"
    )
    assert rows(nspark.table("people")) == [(1, "ann", 6), (3, "CY", 9), (4, "dee", 1)]
