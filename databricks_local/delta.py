"""Delta tables for local runs: the table files and commits behind Databricks' Delta calls.

Local Spark has no Delta jars (none can be fetched offline), so the runtime writes and reads real Delta tables
itself, with the `deltalake` package (delta-rs) for the log:

* `write_path(df, path, mode, options)` (`df.write.format("delta")...save(path)`; `write` for `saveAsTable(name)`):
  Spark writes the rows as Parquet (natively, in parallel) under `<table>/<write id>/`, then one Delta commit adds
  those files (`overwrite` also removes the previous ones, `append` keeps them). `mergeSchema` / `overwriteSchema`
  and Delta's schema check; an optional transaction id (app id, version) makes a write idempotent, which the
  streaming sink uses. Timestamps are written as UTC-adjusted microseconds, the Delta type `timestamp`, so the
  tables keep Delta's basic protocol (reader 1 / writer 2).
* `read_path` / `read`: the files of the table's current version (or `versionAsOf`), read by Spark's Parquet reader.
* `history`: `DESCRIBE HISTORY`'s rows; `drop`; `merge_insert_new` (the insert-only MERGE of the stream notebook).

A name resolves to `<location of its database>/<table>`: the current database unless the name says `db.table`;
backticks are allowed. Views are Spark's: `global_temp.<view>` never resolves to a path, and a temp view hides a
table of its name (`is_view`). The `DeltaTable` API is `delta_tables.py`, SQL `delta_sql.py`, the Spark hooks
`spark_hooks.py`.
"""

from __future__ import annotations

import shutil
import threading
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from pyspark.sql import DataFrame, SparkSession

DELTA_LOG = "_delta_log"
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def commit_lock(path: str | Path) -> threading.Lock:
    """The lock of the Delta table at `path`: one commit at a time per table in this process (notebooks write from
    several threads: the batch notebook's tables, the stream notebook's three queries), while commits to other
    tables go on in parallel."""
    key = str(Path(path).resolve())
    with _locks_guard:
        return _locks.setdefault(key, threading.Lock())


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


def global_temp_database(session: SparkSession) -> str:
    """Name of the database of global temp views (`spark.sql.globalTempDatabase`, default `global_temp`)."""
    try:
        return session.conf.get("spark.sql.globalTempDatabase") or "global_temp"
    except Exception:
        return "global_temp"


def _is_global_temp(session: SparkSession, database: str | None) -> bool:
    return database is not None and database.lower() == global_temp_database(session).lower()


def is_view(session: SparkSession, name: str) -> bool:
    """True when Spark answers `name` with a view, never a Delta table: a global temp view's name (`global_temp.x`:
    that database is not in the catalog) or, unqualified, one of the session's temp views (which hide a table of
    the same name, as in Spark)."""
    database, table = split_name(name)
    if database is None:
        return bool(session._jsparkSession.sessionState().catalog().getTempView(table).isDefined())
    return _is_global_temp(session, database)


def table_path(session: SparkSession, name: str) -> Path:
    """Directory of the Delta table `name`: inside its database's location (`global_temp` has none: an error)."""
    database, table = split_name(name)
    if _is_global_temp(session, database):
        raise DeltaError(f"{name} is in {database}, the database of global temp views: not a Delta table")
    database = database or session.catalog.currentDatabase()
    location = session.catalog.getDatabase(database).locationUri
    parsed = urlparse(location)
    return Path(unquote(parsed.path if parsed.scheme else location)) / table.lower()


def exists(session: SparkSession, name: str) -> bool:
    """True when `name` is a local Delta table (a view of that name is not one, and hides it)."""
    return not is_view(session, name) and (table_path(session, name) / DELTA_LOG).is_dir()


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
class DeltaSchemaMismatch(DeltaError):
    """A write whose schema differs from the table's, without `mergeSchema`/`overwriteSchema` (as Delta refuses)."""


def is_delta_table(path: str | Path) -> bool:
    """True when `path` holds a Delta table (a `_delta_log` folder)."""
    return (Path(path) / DELTA_LOG).is_dir()


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() == "true"


def _same_fields(a: Any, b: Any) -> bool:
    return [(f.name.lower(), str(f.type)) for f in a] == [(f.name.lower(), str(f.type)) for f in b]


def _merged_schema(table: Any, new: Any) -> Any:
    import pyarrow as pa

    fields = list(table)
    known = {f.name.lower(): f for f in fields}
    for field in new:
        old = known.get(field.name.lower())
        if old is None:
            fields.append(field.with_nullable(True))
        elif str(old.type) != str(field.type):
            raise DeltaSchemaMismatch(
                f"Failed to merge fields '{field.name}' and '{old.name}': incompatible types "
                f"{old.type} and {field.type}"
            )
    return pa.schema(fields)


def _mismatch(path: Path, table: Any, new: Any) -> DeltaSchemaMismatch:
    return DeltaSchemaMismatch(
        f"[_LEGACY_ERROR_TEMP_DELTA_0007] A schema mismatch detected when writing to the Delta table at {path}.\n"
        "To enable schema migration using DataFrameWriter or DataStreamWriter, please set: "
        '\'.option("mergeSchema", "true")\'.\n'
        f"Table schema:\n{table}\n\nData schema:\n{new}"
    )


def write_path(
    df: DataFrame,
    path: str | Path,
    mode: str = "error",
    options: dict[str, Any] | None = None,
    name: str | None = None,
    txn: tuple[str, int] | None = None,
) -> bool:
    """`df.write.format("delta").mode(mode).save(path)`: Parquet files by Spark, one Delta commit.

    `options`: `mergeSchema` (append: new columns join the table's schema) and `overwriteSchema` (overwrite: the
    table takes the data's schema); without them a different schema is refused, as by Delta. `txn`: an
    idempotent write (`txnAppId`, `txnVersion`): skipped when the table already holds that app's version or a
    later one (how a restarted stream writes no batch twice). True when a commit was made.
    """
    import pyarrow.parquet as pq
    from deltalake import DeltaTable, Schema
    from deltalake.transaction import AddAction, CommitProperties, Transaction, create_table_with_add_actions
    from pyspark.sql.pandas.types import to_arrow_schema

    options = {k.lower(): v for k, v in (options or {}).items()}
    mode = {"errorifexists": "error", "default": "error"}.get(mode.lower(), mode.lower())
    if mode not in ("error", "overwrite", "append", "ignore"):
        raise DeltaError(f"unsupported save mode {mode!r} for the Delta table {name or path}")
    path = Path(path)
    present = is_delta_table(path)
    if present and mode == "error":
        raise DeltaError(
            f"[DELTA_PATH_EXISTS] Cannot write to already existent path {path} without setting "
            f"OVERWRITE = 'true'."
            if name is None
            else f"table {name} already exists ({path}); use mode overwrite or append"
        )
    if present and mode == "ignore":
        return False
    if txn is not None and present:
        done = DeltaTable(str(path)).transaction_version(txn[0])
        if done is not None and done >= txn[1]:
            return False
    schema = to_arrow_schema(df.schema)
    replace_schema = False
    new_fields: list[Any] = []
    if present:
        current = _arrow_schema(DeltaTable(str(path)))
        conf = df.sparkSession.conf.get("spark.databricks.delta.schema.autoMerge.enabled", "false")
        if not _same_fields(current, schema):
            if mode == "overwrite" and _truthy(options.get("overwriteschema")):
                replace_schema = True
            elif _truthy(options.get("mergeschema")) or _truthy(conf):
                merged = _merged_schema(current, schema)
                new_fields = [f for f in merged if f.name.lower() not in {c.name.lower() for c in current}]
                schema = merged
            else:
                raise _mismatch(path, current, schema)
        else:
            schema = current
    from databricks_local.spark_hooks import ORIGINAL

    batch = f"part-{uuid.uuid4().hex[:12]}"
    ORIGINAL["DataFrameWriter.parquet"](df.write.mode("error"), str(path / batch))
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
    commit = CommitProperties(app_transactions=[Transaction(txn[0], txn[1])]) if txn else None
    with commit_lock(path):
        if new_fields:
            from deltalake.schema import Field

            DeltaTable(str(path)).alter.add_columns([Field.from_arrow(f) for f in new_fields])
        if present and not replace_schema:
            DeltaTable(str(path)).create_write_transaction(
                adds,
                mode="append" if mode == "append" else "overwrite",
                schema=schema,
                commit_properties=commit,
            )
        else:
            create_table_with_add_actions(
                str(path),
                Schema.from_arrow(schema),
                adds,
                mode="overwrite",
                name=split_name(name)[1] if name else None,
                commit_properties=commit,
            )
    for leftover in (path / batch).glob(".*.crc"):  # Hadoop's checksum files are not part of the table
        leftover.unlink()
    (path / batch / "_SUCCESS").unlink(missing_ok=True)
    return True


def write(df: DataFrame, name: str, mode: str = "error", options: dict[str, Any] | None = None) -> None:
    """`df.write.format("delta").mode(mode).saveAsTable(name)`: `write_path` at the table's location."""
    write_path(df, table_path(df.sparkSession, name), mode, options, name=name)


def read_path(session: SparkSession, path: str | Path, version: int | None = None) -> DataFrame:
    """The current version (or `version`) of the Delta table at `path` as a DataFrame (Spark's Parquet reader)."""
    from deltalake import DeltaTable
    from pyspark.sql.pandas.types import from_arrow_schema

    if not is_delta_table(path):
        raise DeltaError(f"[DELTA_MISSING_DELTA_TABLE] `{path}` is not a Delta table.")
    table = DeltaTable(str(path), version=version)
    schema = from_arrow_schema(_arrow_schema(table))
    files = table.file_uris()
    if not files:
        return session.createDataFrame([], schema)
    from databricks_local.spark_hooks import ORIGINAL

    return ORIGINAL["DataFrameReader.parquet"](session.read.schema(schema), *files)


def read(session: SparkSession, name: str) -> DataFrame:
    """The current version of the Delta table `name` as a DataFrame."""
    path = table_path(session, name)
    if not is_delta_table(path):
        raise DeltaError(f"no Delta table {name} at {path}")
    return read_path(session, path)


def history(path: str | Path, limit: int | None = None) -> list[dict[str, Any]]:
    """`DESCRIBE HISTORY`: the commits of the table at `path`, newest first, with Databricks' column names."""
    import datetime as dt

    from deltalake import DeltaTable

    rows = []
    for commit in DeltaTable(str(path)).history(limit):
        params = commit.get("operationParameters") or {}
        metrics = commit.get("operationMetrics") or {}
        stamp = commit.get("timestamp")
        rows.append(
            {
                "version": int(commit.get("version", 0)),
                "timestamp": dt.datetime.fromtimestamp(stamp / 1000, dt.UTC).replace(tzinfo=None)
                if stamp
                else None,
                "userId": None,
                "userName": None,
                "operation": commit.get("operation"),
                "operationParameters": {str(k): _text(v) for k, v in params.items()},
                "readVersion": commit.get("readVersion"),
                "isolationLevel": commit.get("isolationLevel"),
                "isBlindAppend": commit.get("isBlindAppend"),
                "operationMetrics": {str(k): _text(v) for k, v in metrics.items()},
                "engineInfo": commit.get("engineInfo") or commit.get("clientVersion"),
            }
        )
    return rows


HISTORY_SCHEMA = (
    "version bigint, timestamp timestamp, userId string, userName string, operation string, "
    "operationParameters map<string,string>, readVersion bigint, isolationLevel string, isBlindAppend boolean, "
    "operationMetrics map<string,string>, engineInfo string"
)


def _text(value: Any) -> str:
    import json

    return value if isinstance(value, str) else json.dumps(value)


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
    with commit_lock(path):
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
def install_writer_hooks() -> None:
    """Route Delta reads and writes (and DBFS paths) through the runtime in this process (`spark_hooks`)."""
    from databricks_local import spark_hooks

    spark_hooks.install_hooks()


def install_delta_module() -> None:
    """Make `from delta.tables import DeltaTable` give the runtime's `DeltaTable` (no delta-spark jars here)."""
    from databricks_local import delta_tables

    delta_tables.install_module()


def __getattr__(name: str) -> Any:
    if name == "LocalDeltaTable":  # the former name of the runtime's DeltaTable
        from databricks_local.delta_tables import DeltaTable

        return DeltaTable
    raise AttributeError(name)
