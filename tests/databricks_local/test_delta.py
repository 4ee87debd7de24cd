"""`databricks_local/delta.py` on local Spark: real Delta tables written through Spark and `deltalake`.

Write modes, reading back, the Delta schema (timestamps as UTC microseconds), `exists`/`drop`, the insert-only MERGE,
the `saveAsTable` hook and the `delta.tables` shim the notebooks import. Each test has a database of its own whose
location is the test's temporary directory.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from databricks_local import delta
from databricks_local.delta import DeltaError

pytestmark = pytest.mark.spark

SCHEMA = "ind bigint, name string, seen timestamp, points array<double>"
MOMENT = dt.datetime(2021, 3, 4, 5, 6, 7, 123456)


@pytest.fixture
def db(spark: Any, tmp_path: Path) -> Iterator[str]:
    """A database of its own (tables under `tmp_path`), the current one during the test."""
    name = f"delta_{uuid.uuid4().hex[:8]}"
    spark.sql(f"CREATE DATABASE `{name}` LOCATION '{tmp_path.as_posix()}'")
    previous = spark.catalog.currentDatabase()
    spark.catalog.setCurrentDatabase(name)
    delta.install_writer_hooks()
    delta.install_delta_module()
    yield name
    spark.catalog.setCurrentDatabase(previous)
    spark.sql(f"DROP DATABASE IF EXISTS `{name}` CASCADE")


def rows(first: int, count: int, name: str = "row") -> list[tuple]:
    return [
        (i, f"{name}-{i}", MOMENT + dt.timedelta(seconds=i), [float(i), -float(i)])
        for i in range(first, first + count)
    ]


def frame(spark: Any, values: list[tuple]) -> Any:
    return spark.createDataFrame(values, SCHEMA)


def content(df: Any) -> list[tuple]:
    return sorted(tuple(r) for r in df.collect())


def test_write_modes_and_read_back(spark: Any, db: str, tmp_path: Path) -> None:
    delta.write(frame(spark, rows(0, 5)), "t")  # mode error: creates
    assert delta.exists(spark, "t") and delta.table_path(spark, "t") == tmp_path / "t"
    assert content(delta.read(spark, "t")) == rows(0, 5)
    with pytest.raises(DeltaError, match="already exists"):
        delta.write(frame(spark, rows(10, 1)), "t", "errorifexists")
    delta.write(frame(spark, rows(10, 1)), "t", "ignore")
    assert content(delta.read(spark, "t")) == rows(0, 5)
    delta.write(frame(spark, rows(5, 3)), f"{db}.t", "append")
    assert content(delta.read(spark, "t")) == rows(0, 8)
    delta.write(frame(spark, rows(100, 2, "new")), "t", "overwrite")
    assert content(delta.read(spark, f"`{db}`.`t`")) == rows(100, 2, "new")
    with pytest.raises(DeltaError, match="unsupported save mode"):
        delta.write(frame(spark, rows(0, 1)), "t", "upsert")

    from deltalake import DeltaTable

    table = DeltaTable(str(tmp_path / "t"))
    assert table.version() == 2  # create, append, overwrite: one commit each (the failed and ignored: none)
    assert sorted(tuple(r.values()) for r in arrow(table).to_pylist()) == [
        (i, f"new-{i}", (MOMENT + dt.timedelta(seconds=i)).replace(tzinfo=dt.UTC), [float(i), -float(i)])
        for i in (100, 101)
    ]
    assert not list(tmp_path.glob("t/*/.*.crc")) and not list(tmp_path.glob("t/*/_SUCCESS"))


def test_an_empty_table_reads_as_no_rows_with_its_schema(spark: Any, db: str) -> None:
    delta.write(frame(spark, []), "empty")
    empty = delta.read(spark, "empty")
    assert empty.count() == 0 and empty.columns == ["ind", "name", "seen", "points"]


def test_timestamps_are_delta_timestamps_in_utc_microseconds(spark: Any, db: str, tmp_path: Path) -> None:
    import json

    import pyarrow.parquet as pq
    from deltalake import DeltaTable

    delta.write(frame(spark, rows(0, 3)), "ts")
    table = DeltaTable(str(tmp_path / "ts"))
    assert table.protocol().min_reader_version == 1 and table.protocol().min_writer_version == 2
    fields = {f["name"]: f["type"] for f in json.loads(table.schema().to_json())["fields"]}
    assert fields["seen"] == "timestamp" and fields["ind"] == "long"
    for uri in table.file_uris():
        assert str(pq.read_schema(uri.removeprefix("file://")).field("seen").type) == "timestamp[us, tz=UTC]"
    read = delta.read(spark, "ts").orderBy("ind").collect()
    assert read[0]["seen"] == MOMENT  # microseconds kept (session time zone UTC)


def test_exists_and_drop(spark: Any, db: str, tmp_path: Path) -> None:
    assert not delta.exists(spark, "gone") and not delta.drop(spark, "gone")
    delta.write(frame(spark, rows(0, 2)), "gone")
    assert delta.exists(spark, "GONE")  # table names are case-insensitive, as in Spark
    assert delta.drop(spark, "gone") and not (tmp_path / "gone").exists()
    assert not delta.exists(spark, "gone") and not delta.drop(spark, "gone")
    with pytest.raises(DeltaError, match="no Delta table"):
        delta.read(spark, "gone")


def test_views_are_spark_s_and_hide_a_table_of_their_name(spark: Any, db: str, tmp_path: Path) -> None:
    delta.write(frame(spark, rows(0, 2)), "t")
    spark.createDataFrame([(7,)], "ind bigint").createOrReplaceGlobalTempView("gt_only")
    # global_temp is not in the catalog's databases: resolved without looking it up (SCHEMA_NOT_FOUND before)
    assert delta.is_view(spark, "global_temp.gt_only") and not delta.exists(spark, "global_temp.gt_only")
    assert not delta.exists(spark, "`global_temp`.`missing`")
    with pytest.raises(DeltaError, match="database of global temp views"):
        delta.table_path(spark, "global_temp.gt_only")
    spark.createDataFrame([(9,)], "ind bigint").createOrReplaceTempView("T")
    try:
        assert delta.is_view(spark, "t") and not delta.exists(spark, "t")  # the temp view hides the table
        assert delta.exists(spark, f"{db}.t") and not delta.is_view(spark, f"{db}.t")  # qualified: the table
        assert delta.table_path(spark, "t") == tmp_path / "t"  # a write by name still goes to the table
    finally:
        spark.catalog.dropTempView("T")
        spark.catalog.dropGlobalTempView("gt_only")
    assert not delta.is_view(spark, "t") and delta.exists(spark, "t")
    assert content(delta.read(spark, "t")) == rows(0, 2)


def test_merge_insert_new_inserts_only_new_keys_and_is_idempotent(spark: Any, db: str) -> None:
    delta.write(frame(spark, rows(0, 4, "old")), "m")
    source = frame(spark, rows(2, 4, "new"))  # keys 2, 3 exist; 4, 5 are new
    metrics = delta.merge_insert_new("m", spark, source, "t.ind = s.ind", "t", "s")
    assert metrics["num_target_rows_inserted"] == 2
    want = rows(0, 4, "old") + rows(4, 2, "new")  # existing rows untouched
    assert content(delta.read(spark, "m")) == sorted(want)
    again = delta.merge_insert_new("m", spark, source, "t.ind = s.ind", "t", "s")
    assert again["num_target_rows_inserted"] == 0
    assert content(delta.read(spark, "m")) == sorted(want)
    with pytest.raises(DeltaError, match="not a Delta table"):
        delta.merge_insert_new("missing", spark, source, "t.ind = s.ind", "t", "s")


def test_save_as_table_writes_delta_and_other_formats_stay_spark(spark: Any, db: str, tmp_path: Path) -> None:
    frame(spark, rows(0, 3)).write.format("delta").mode("overwrite").saveAsTable("hooked")
    frame(spark, rows(3, 2)).write.mode("append").saveAsTable(f"`{db}`.hooked")  # Databricks' default: delta
    assert (tmp_path / "hooked" / "_delta_log").is_dir()
    assert content(delta.read(spark, "hooked")) == rows(0, 5)
    frame(spark, rows(0, 1)).write.format("parquet").saveAsTable("plain")
    assert not delta.exists(spark, "plain") and spark.catalog.tableExists("plain")
    assert content(spark.table("plain")) == rows(0, 1)
    with pytest.raises(DeltaError, match="partitioned"):
        frame(spark, rows(0, 1)).write.format("delta").partitionBy("name").saveAsTable("parts")


def test_delta_tables_shim_merges_as_the_notebooks_call_it(spark: Any, db: str) -> None:
    from delta.tables import DeltaTable

    assert DeltaTable is delta.LocalDeltaTable
    delta.write(frame(spark, rows(0, 3, "old")), "shim")
    source = frame(spark, rows(1, 4, "new"))
    DeltaTable.forName(spark, "shim").alias("t").merge(
        source.alias("s"), "t.ind = s.ind"
    ).whenNotMatchedInsertAll().execute()
    DeltaTable.forName(spark, f"`{db}`.`shim`").alias("t").merge(
        source.alias("s"), "t.ind = s.ind"
    ).whenNotMatchedInsertAll().execute()
    want = sorted(rows(0, 3, "old") + rows(3, 2, "new"))
    assert content(DeltaTable.forName(spark, "shim").toDF()) == want
    with pytest.raises(DeltaError, match="at least one WHEN clause"):
        DeltaTable.forName(spark, "shim").alias("t").merge(source.alias("s"), "t.ind = s.ind").execute()
    with pytest.raises(DeltaError, match="not a Delta table"):
        DeltaTable.forName(spark, "nothing")


def test_split_name() -> None:
    assert delta.split_name("t") == (None, "t")
    assert delta.split_name("db.t") == ("db", "t")
    assert delta.split_name("`my.db`.`a-b`") == ("my.db", "a-b")
    assert delta.split_name(" `t` ") == (None, "t")


def arrow(table: Any) -> Any:
    """The current version of a `deltalake.DeltaTable` as an Arrow table, through `delta.read_arrow` (deltalake's own
    `to_pyarrow_table()` reads through a Python filesystem and can abort the process at exit)."""
    return delta.read_arrow(table.table_uri)


def test_read_arrow_reads_through_pyarrows_own_filesystem(tmp_path: Path) -> None:
    """`read_arrow` (demo, bench, checks) reads a table's current version, merges included, on pyarrow's native
    local filesystem: deltalake's default `PyFileSystem` makes Arrow's I/O threads call back into Python, which
    aborts the process at exit (benchmarks/exit_abort.py)."""
    import pyarrow as pa
    import pyarrow.fs as pa_fs
    from deltalake import DeltaTable, write_deltalake

    path = tmp_path / "t"
    write_deltalake(str(path), pa.table({"ind": pa.array([1, 2], pa.int64()), "v": ["a", "b"]}))
    DeltaTable(str(path)).merge(
        pa.table({"ind": pa.array([2, 3], pa.int64()), "v": ["x", "c"]}),
        "t.ind = s.ind",
        source_alias="s",
        target_alias="t",
    ).when_not_matched_insert_all().execute()
    assert sorted(delta.read_arrow(path).to_pylist(), key=lambda r: r["ind"]) == [
        {"ind": 1, "v": "a"},
        {"ind": 2, "v": "b"},
        {"ind": 3, "v": "c"},
    ]
    assert delta.read_inds(f"file://{path}") == {1, 2, 3}
    filesystem = delta.local_filesystem(path)
    assert isinstance(filesystem, pa_fs.SubTreeFileSystem) and not isinstance(filesystem, pa_fs.PyFileSystem)
    assert isinstance(filesystem.base_fs, pa_fs.LocalFileSystem)


def test_each_table_has_its_own_commit_lock(tmp_path: Path) -> None:
    """Commits to one table are serialised; commits to other tables do not wait for them."""
    import threading

    first, other = tmp_path / "a", tmp_path / "b"
    assert (
        delta.commit_lock(first)
        is delta.commit_lock(tmp_path / "x" / ".." / "a")
        is delta.commit_lock(str(first))
    )
    assert delta.commit_lock(other) is not delta.commit_lock(first)
    with delta.commit_lock(first):
        got: list[bool] = []
        worker = threading.Thread(target=lambda: got.append(delta.commit_lock(other).acquire(timeout=1)))
        worker.start()
        worker.join()
        assert got == [True]
        delta.commit_lock(other).release()
        assert not delta.commit_lock(first).acquire(blocking=False)
