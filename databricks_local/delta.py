"""Delta tables for local runs: what `saveAsTable` (format `delta`), `spark.table` and `DeltaTable` do on Databricks.

Local Spark has no Delta jars (none can be fetched offline), so the runner stands in for the three calls the
notebooks' adapter makes, with real Delta tables written by the `deltalake` package (delta-rs):

* `df.write.format("delta").mode(...).saveAsTable(name)`: Spark writes the rows as Parquet (natively, in parallel)
  under `<database location>/<name>/<write id>/`, then one Delta commit adds those files (`overwrite` also removes
  the previous ones, `append` keeps them). Timestamps are written as UTC-adjusted microseconds, the Delta type
  `timestamp`, so the tables keep Delta's basic protocol (reader 1 / writer 2).
* `spark.table(name)`: the files of the table's current version, read by Spark's Parquet reader.
* `DeltaTable.forName(session, name).alias("t").merge(source.alias("s"), "t.ind = s.ind")
  .whenNotMatchedInsertAll().execute()` (the `delta.tables` module, installed by `install_delta_module`): a
  delta-rs MERGE of the source rows (collected as Arrow: micro-batches are small).

A name resolves to `<location of its database>/<table>`: the current database unless the name says `db.table`;
backticks are allowed. Anything else (`parquet` tables, SQL over Delta tables) is plain Spark.
"""

from __future__ import annotations

import shutil
import sys
import threading
import types
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.readwriter import DataFrameWriter

DELTA_LOG = "_delta_log"
_lock = threading.Lock()  # one commit at a time per process (the batch notebook writes from several threads)


class DeltaError(RuntimeError):
    """A local Delta table operation failed (missing table, unsupported call)."""


# --- names and places -------------------------------------------------------------------------------------
def split_name(name: str) -> tuple[str | None, str]:
    """`db.table`, `` `db`.`table` `` or `table` -> (database or None, table)."""
    parts, current, quoted = [], "", False
    for char in name.strip():
        if char == "`":
            quoted = not quoted
        elif char == "." and not quoted:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    if len(parts) == 1:
        return None, parts[0]
    return parts[-2], parts[-1]


def table_path(session: SparkSession, name: str) -> Path:
    """Directory of the Delta table `name`: inside its database's location."""
    database, table = split_name(name)
    database = database or session.catalog.currentDatabase()
    location = session.catalog.getDatabase(database).locationUri
    parsed = urlparse(location)
    return Path(unquote(parsed.path if parsed.scheme else location)) / table.lower()


def exists(session: SparkSession, name: str) -> bool:
    """True when `name` is a local Delta table."""
    return (table_path(session, name) / DELTA_LOG).is_dir()


def read_arrow(path: str | Path, columns: list[str] | None = None) -> Any:
    """The current version of the local Delta table at `path` as an Arrow table, without Spark (checks, demo, bench).

    The dataset is built on pyarrow's own local filesystem, never on deltalake's default (its Python storage handler
    wrapped in `pyarrow.fs.PyFileSystem`): with that one, Arrow's I/O thread pool holds buffers owned by Python
    (`arrow::py::PyBuffer`, from Parquet's pre-buffered `ReadAsync`), and a worker releasing one while the
    interpreter finalizes takes the GIL, is ended by `pthread_exit` inside a noexcept destructor, and the process
    aborts ("terminate called without an active exception", status 134; `python -m benchmarks.exit_abort`).
    """
    from deltalake import DeltaTable

    return (
        DeltaTable(str(path)).to_pyarrow_dataset(filesystem=local_filesystem(path)).to_table(columns=columns)
    )


def local_filesystem(path: str | Path) -> Any:
    """pyarrow's native filesystem rooted at the local table directory `path` (what deltalake's file paths are
    relative to): reads through it never call back into Python from Arrow's threads."""
    import pyarrow.fs as pa_fs

    root = Path(unquote(urlparse(str(path)).path)) if str(path).startswith("file:") else Path(path)
    return pa_fs.SubTreeFileSystem(str(root.resolve()), pa_fs.LocalFileSystem())


def read_inds(path: str | Path) -> set[int]:
    """The `ind`s the Delta table at `path` holds (a cleaned table's key), read with `read_arrow`."""
    return set(read_arrow(path, ["ind"]).column("ind").to_pylist())


# --- write, read, drop -----------------------------------------------------------------------------------
def write(df: DataFrame, name: str, mode: str = "error") -> None:
    """`df.write.format("delta").mode(mode).saveAsTable(name)`: Parquet files by Spark, one Delta commit."""
    import pyarrow.parquet as pq
    from deltalake import DeltaTable, Schema
    from deltalake.transaction import AddAction, create_table_with_add_actions
    from pyspark.sql.pandas.types import to_arrow_schema

    mode = {"errorifexists": "error", "default": "error"}.get(mode.lower(), mode.lower())
    if mode not in ("error", "overwrite", "append", "ignore"):
        raise DeltaError(f"unsupported save mode {mode!r} for the Delta table {name}")
    path = table_path(df.sparkSession, name)
    present = (path / DELTA_LOG).is_dir()
    if present and mode == "error":
        raise DeltaError(f"table {name} already exists ({path}); use mode overwrite or append")
    if present and mode == "ignore":
        return
    batch = f"part-{uuid.uuid4().hex[:12]}"
    df.write.mode("error").parquet(str(path / batch))
    adds = []
    for file in sorted((path / batch).glob("*.parquet")):
        stat = file.stat()
        rows = pq.read_metadata(file).num_rows
        adds.append(
            AddAction(
                path=f"{batch}/{file.name}",
                size=stat.st_size,
                partition_values={},
                modification_time=int(stat.st_mtime * 1000),
                data_change=True,
                stats=f'{{"numRecords":{rows}}}',
            )
        )
    schema = to_arrow_schema(df.schema)
    with _lock:
        if present:
            DeltaTable(str(path)).create_write_transaction(
                adds, mode="append" if mode == "append" else "overwrite", schema=schema
            )
        else:
            create_table_with_add_actions(
                str(path), Schema.from_arrow(schema), adds, mode="overwrite", name=split_name(name)[1]
            )
    for leftover in (path / batch).glob(".*.crc"):  # Hadoop's checksum files are not part of the table
        leftover.unlink()
    (path / batch / "_SUCCESS").unlink(missing_ok=True)


def read(session: SparkSession, name: str) -> DataFrame:
    """The current version of the Delta table `name` as a DataFrame."""
    from deltalake import DeltaTable
    from pyspark.sql.pandas.types import from_arrow_schema

    path = table_path(session, name)
    if not (path / DELTA_LOG).is_dir():
        raise DeltaError(f"no Delta table {name} at {path}")
    table = DeltaTable(str(path))
    schema = from_arrow_schema(_arrow_schema(table))
    files = table.file_uris()
    if not files:
        return session.createDataFrame([], schema)
    return session.read.schema(schema).parquet(*files)


def drop(session: SparkSession, name: str) -> bool:
    """Remove the Delta table `name` (its files too, as for a managed table); True when there was one."""
    path = table_path(session, name)
    if not (path / DELTA_LOG).is_dir():
        return False
    shutil.rmtree(path)
    return True


def merge_insert_new(
    target: str,
    session: SparkSession,
    source: DataFrame,
    predicate: str,
    target_alias: str,
    source_alias: str,
) -> dict[str, Any]:
    """MERGE `source` into the Delta table `target`, inserting the rows no target row matches; the metrics."""
    from deltalake import DeltaTable

    path = table_path(session, target)
    if not (path / DELTA_LOG).is_dir():
        raise DeltaError(f"DeltaTable.forName: {target} is not a Delta table (no {path / DELTA_LOG})")
    rows = source.toArrow()
    table = DeltaTable(str(path))
    rows = rows.cast(_arrow_schema(table))  # Spark's nullability may differ from the table's
    with _lock:
        return (
            table.merge(rows, predicate, source_alias=source_alias, target_alias=target_alias)
            .when_not_matched_insert_all()
            .execute()
        )


def _arrow_schema(table: Any) -> Any:
    import pyarrow as pa

    schema = table.schema()
    return pa.schema(schema.to_arrow() if hasattr(schema, "to_arrow") else schema)


# --- hooks into Spark -------------------------------------------------------------------------------------
_ORIGINAL_FORMAT = DataFrameWriter.format
_ORIGINAL_MODE = DataFrameWriter.mode
_ORIGINAL_SAVE_AS_TABLE = DataFrameWriter.saveAsTable
_ORIGINAL_PARTITION_BY = DataFrameWriter.partitionBy


def _format(self: DataFrameWriter, source: str) -> DataFrameWriter:
    self._local_format = source.lower()  # type: ignore[attr-defined]
    return _ORIGINAL_FORMAT(self, source)


def _mode(self: DataFrameWriter, saveMode: str | None) -> DataFrameWriter:
    self._local_mode = saveMode  # type: ignore[attr-defined]
    return _ORIGINAL_MODE(self, saveMode)


def _partition_by(self: DataFrameWriter, *cols: Any) -> DataFrameWriter:
    self._local_partitioned = bool(cols)  # type: ignore[attr-defined]
    return _ORIGINAL_PARTITION_BY(self, *cols)


def _save_as_table(
    self: DataFrameWriter,
    name: str,
    format: str | None = None,
    mode: str | None = None,
    partitionBy: Any = None,
    **options: Any,
) -> None:
    source = (format or getattr(self, "_local_format", None) or "delta").lower()
    if source != "delta":
        return _ORIGINAL_SAVE_AS_TABLE(self, name, format, mode, partitionBy, **options)
    if partitionBy or getattr(self, "_local_partitioned", False):
        raise DeltaError("partitioned local Delta tables are not supported")
    write(self._df, name, mode or getattr(self, "_local_mode", None) or "error")


def install_writer_hooks() -> None:
    """Route `saveAsTable` of format `delta` (Databricks' default format) to `write` in this process."""
    DataFrameWriter.format = _format  # type: ignore[method-assign]
    DataFrameWriter.mode = _mode  # type: ignore[method-assign]
    DataFrameWriter.saveAsTable = _save_as_table  # type: ignore[method-assign]
    DataFrameWriter.partitionBy = _partition_by  # type: ignore[method-assign]


class _Merge:
    def __init__(self, target: LocalDeltaTable, source: DataFrame, condition: str) -> None:
        self.target, self.source, self.condition = target, source, condition
        self.insert = False

    def whenNotMatchedInsertAll(self) -> _Merge:
        self.insert = True
        return self

    def execute(self) -> dict[str, Any]:
        if not self.insert:
            raise DeltaError("the local MERGE supports whenNotMatchedInsertAll() only")
        return merge_insert_new(
            self.target.name,
            self.target.session,
            self.source,
            self.condition,
            self.target.alias_name,
            getattr(self.source, "_local_alias", "source"),
        )


class LocalDeltaTable:
    """The subset of `delta.tables.DeltaTable` the notebooks use: `forName`, `alias`, `merge`, `toDF`."""

    def __init__(self, session: SparkSession, name: str) -> None:
        self.session, self.name, self.alias_name = session, name, "target"

    @classmethod
    def forName(cls, sparkSession: SparkSession, tableOrViewName: str) -> LocalDeltaTable:
        if not exists(sparkSession, tableOrViewName):
            raise DeltaError(f"{tableOrViewName} is not a Delta table")
        return cls(sparkSession, tableOrViewName)

    def alias(self, name: str) -> LocalDeltaTable:
        self.alias_name = name
        return self

    def toDF(self) -> DataFrame:
        return read(self.session, self.name)

    def merge(self, source: DataFrame, condition: str) -> _Merge:
        return _Merge(self, source, condition)


def _classic_dataframe() -> type:
    """The DataFrame class local Spark really instantiates (Spark 4 splits classic and Connect DataFrames)."""
    try:
        from pyspark.sql.classic.dataframe import DataFrame as ClassicDataFrame

        return ClassicDataFrame
    except ImportError:  # pragma: no cover - Spark 3.x
        return DataFrame


_ORIGINAL_DF_ALIAS = _classic_dataframe().alias


def _df_alias(self: DataFrame, alias: str) -> DataFrame:
    """`df.alias(name)`, remembering the name (the MERGE needs the source's alias)."""
    aliased = _ORIGINAL_DF_ALIAS(self, alias)
    aliased._local_alias = alias  # type: ignore[attr-defined]
    return aliased


def install_delta_module() -> None:
    """Make `from delta.tables import DeltaTable` give `LocalDeltaTable` (no delta-spark jars exist locally)."""
    _classic_dataframe().alias = _df_alias  # type: ignore[method-assign]
    package = types.ModuleType("delta")
    tables = types.ModuleType("delta.tables")
    tables.DeltaTable = LocalDeltaTable  # type: ignore[attr-defined]
    package.tables = tables  # type: ignore[attr-defined]
    sys.modules.setdefault("delta", package)
    sys.modules.setdefault("delta.tables", tables)
