"""The notebook's `spark`: the real SparkSession, with what a Databricks cluster adds to it (`prepare_session`).

Owns the class-level hooks, installed once per process (`install_hooks`, idempotent), so `type(spark)` is
`SparkSession` as on Databricks and every session (`newSession()`, a `foreachBatch` batch's session) has them:

* paths: `DataFrameReader` / `DataFrameWriter` / `DataStreamReader` / `DataStreamWriter` path arguments and the
  `checkpointLocation` option go through `dbfs.FileSystem` (DBFS, mounts, `s3://`); a write to S3 is uploaded
  once it has committed;
* Delta: `format("delta")` reads (`load(path)`, `versionAsOf`) and writes (`save(path)`, `saveAsTable(name)`,
  `insertInto`, with `mergeSchema` / `overwriteSchema`) are the runtime's (`delta.py`); `saveAsTable` and `save`
  without a format are Delta, Databricks' default; `SparkSession.table`, `DataFrameReader.table` and
  `Catalog.tableExists` see the Delta tables of the warehouse;
* streaming into Delta: `writeStream.format("delta")` with `.start(path)`, `.toTable(name)` or `.table(name)` runs
  as a `foreachBatch` whose commits carry the query's transaction id (the checkpoint) and batch id, so a
  restarted query never writes a batch twice;
* SQL: `SparkSession.sql` goes through `delta_sql` first (Delta DDL and DML, `delta.\\`path\\``).

`prepare_session(session, fs)` ties a session to its notebook's `dbutils.fs` (mounts, `fs.s3a.*` keys in its conf),
registers the local `kinesis` source in it and returns it.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.catalog import Catalog
from pyspark.sql.readwriter import DataFrameReader, DataFrameWriter
from pyspark.sql.streaming.readwriter import DataStreamReader, DataStreamWriter

from databricks_local import delta
from databricks_local.dbfs import FileSystem, is_s3

_PATCHED = {
    DataFrameReader: ("format", "option", "options", "load", "json", "parquet", "csv", "text", "orc", "table"),
    DataFrameWriter: (
        "format", "mode", "option", "options", "partitionBy",
        "save", "json", "parquet", "csv", "text", "orc", "saveAsTable", "insertInto",
    ),
    DataStreamReader: ("format", "load", "json", "parquet", "csv", "text"),
    DataStreamWriter: ("format", "option", "options", "start", "toTable"),
    SparkSession: ("table", "sql"),
    Catalog: ("tableExists",),
}  # fmt: skip
#: The methods as pyspark defines them (the runtime's own reads and writes of local files use these).
ORIGINAL: dict[str, Any] = {
    f"{cls.__name__}.{m}": getattr(cls, m) for cls, ms in _PATCHED.items() for m in ms
}
_installed = False
_install_lock = threading.Lock()
_FS: dict[int, FileSystem] = {}
_default_fs: list[FileSystem] = []


class NotSupportedLocally(RuntimeError):
    """A Databricks call the local runtime does not provide."""


def fs_for(session: Any) -> FileSystem:
    """The `dbutils.fs` of the notebook that `session` belongs to (the last one prepared otherwise)."""
    found = _FS.get(id(session))
    if found is not None:
        return found
    if not _default_fs:
        _default_fs.append(FileSystem())
    return _default_fs[-1]


def prepare_session(session: SparkSession, fs: FileSystem | None = None) -> SparkSession:
    """`session` as a notebook's `spark`: the hooks installed, tied to `fs`, the `kinesis` source registered."""
    from databricks_local.kinesis_source import KinesisDataSource

    install_hooks()
    fs = fs or fs_for(session)
    fs.conf = session.conf
    _FS[id(session)] = fs
    _default_fs.append(fs)
    del _default_fs[:-1]
    try:
        session.dataSource.register(KinesisDataSource)
    except AnalysisException as error:  # this session has it already (a session shares its parent's sources)
        if "DATA_SOURCE_ALREADY_EXISTS" not in str(error):
            raise
    return session


def install_hooks() -> None:
    """Patch the Spark classes once per process (later calls do nothing)."""
    global _installed
    from databricks_local import delta_tables

    with _install_lock:
        if _installed:
            return
        for cls, methods in _PATCHED.items():
            for method in methods:
                setattr(cls, method, _HOOKS[f"{cls.__name__}.{method}"])
        DataStreamWriter.table = _stream_to_table  # type: ignore[attr-defined]  # Databricks' older name
        delta_tables.install_module()
        _installed = True


# --- helpers --------------------------------------------------------------------------------------------
def _remember(obj: Any, attr: str, key: str, value: Any) -> None:
    store = getattr(obj, attr, None)
    if store is None:
        store = {}
        setattr(obj, attr, store)
    store[key] = value


def _resolved(fs: FileSystem, path: Any, write: bool = False) -> Any:
    resolve = fs.resolve_for_write if write else fs.resolve
    if isinstance(path, str):
        return resolve(path)
    if isinstance(path, list | tuple):
        return [resolve(p) if isinstance(p, str) else p for p in path]
    return path


def _options(obj: Any, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {**getattr(obj, "_local_options", {}), **{k: v for k, v in (extra or {}).items() if v is not None}}


def _fmt(obj: Any, given: str | None, default: str = "") -> str:
    return (given or getattr(obj, "_local_format", None) or default).lower()


# --- DataFrameReader ------------------------------------------------------------------------------------
def _reader_format(self: DataFrameReader, source: str) -> DataFrameReader:
    self._local_format = source.lower()  # type: ignore[attr-defined]
    return ORIGINAL["DataFrameReader.format"](self, source)


def _reader_option(self: DataFrameReader, key: str, value: Any) -> DataFrameReader:
    _remember(self, "_local_options", key, value)
    return ORIGINAL["DataFrameReader.option"](self, key, value)


def _reader_options(self: DataFrameReader, **options: Any) -> DataFrameReader:
    for key, value in options.items():
        _remember(self, "_local_options", key, value)
    return ORIGINAL["DataFrameReader.options"](self, **options)


def _reader_load(
    self: DataFrameReader, path: Any = None, format: str | None = None, schema: Any = None, **options: Any
) -> DataFrame:
    fmt = _fmt(self, format)
    fs = fs_for(self._spark)
    opts = _options(self, options)
    if fmt == "delta":
        path = path or opts.get("path")
        if not isinstance(path, str):
            raise NotSupportedLocally("spark.read.format('delta').load() takes one path locally")
        version = opts.get("versionAsOf", opts.get("versionasof"))
        return delta.read_path(self._spark, fs.resolve(path), None if version is None else int(version))
    if fmt in ("kinesis",):
        return ORIGINAL["DataFrameReader.load"](self, path, format, schema, **options)
    return ORIGINAL["DataFrameReader.load"](self, _resolved(fs, path), format, schema, **options)


def _reader_file(method: str) -> Any:
    original = ORIGINAL[f"DataFrameReader.{method}"]

    def read(self: DataFrameReader, *args: Any, **kwargs: Any) -> DataFrame:
        fs = fs_for(self._spark)
        if method == "parquet":
            args = tuple(_resolved(fs, a) for a in args)
        elif args:
            args = (_resolved(fs, args[0]), *args[1:])
        for key in ("path", "paths"):
            if key in kwargs:
                kwargs[key] = _resolved(fs, kwargs[key])
        return original(self, *args, **kwargs)

    read.__name__ = method
    read.__doc__ = original.__doc__
    return read


def _reader_table(self: DataFrameReader, tableName: str) -> DataFrame:
    if delta.exists(self._spark, tableName):
        return delta.read(self._spark, tableName)
    return ORIGINAL["DataFrameReader.table"](self, tableName)


# --- DataFrameWriter ------------------------------------------------------------------------------------
def _writer_format(self: DataFrameWriter, source: str) -> DataFrameWriter:
    self._local_format = source.lower()  # type: ignore[attr-defined]
    return ORIGINAL["DataFrameWriter.format"](self, source)


def _writer_mode(self: DataFrameWriter, saveMode: str | None) -> DataFrameWriter:
    self._local_mode = saveMode  # type: ignore[attr-defined]
    return ORIGINAL["DataFrameWriter.mode"](self, saveMode)


def _writer_option(self: DataFrameWriter, key: str, value: Any) -> DataFrameWriter:
    _remember(self, "_local_options", key, value)
    return ORIGINAL["DataFrameWriter.option"](self, key, value)


def _writer_options(self: DataFrameWriter, **options: Any) -> DataFrameWriter:
    for key, value in options.items():
        _remember(self, "_local_options", key, value)
    return ORIGINAL["DataFrameWriter.options"](self, **options)


def _writer_partition_by(self: DataFrameWriter, *cols: Any) -> DataFrameWriter:
    self._local_partitioned = bool(cols)  # type: ignore[attr-defined]
    return ORIGINAL["DataFrameWriter.partitionBy"](self, *cols)


def _no_partitions(self: DataFrameWriter, partitionBy: Any) -> None:
    if partitionBy or getattr(self, "_local_partitioned", False):
        raise delta.DeltaError("partitioned Delta tables (partitionBy) are not supported locally")


def _writer_save(
    self: DataFrameWriter,
    path: str | None = None,
    format: str | None = None,
    mode: str | None = None,
    partitionBy: Any = None,
    **options: Any,
) -> None:
    fmt = _fmt(self, format, "delta")
    fs = fs_for(self._spark)
    opts = _options(self, options)
    path = path or opts.get("path")
    if fmt == "delta":
        _no_partitions(self, partitionBy)
        if not isinstance(path, str):
            raise NotSupportedLocally("df.write.format('delta').save() needs a path locally")
        mode = mode or getattr(self, "_local_mode", None) or "error"
        delta.write_path(self._df, fs.resolve(path), mode, opts)
        fs.upload(path, delete_missing=True)
        return
    # an S3 folder is synced first, so an append keeps what S3 holds and an overwrite's removals are S3's too
    ORIGINAL["DataFrameWriter.save"](self, _resolved(fs, path), format, mode, partitionBy, **options)
    if isinstance(path, str):
        fs.upload(path, delete_missing=True)


def _writer_file(method: str) -> Any:
    original = ORIGINAL[f"DataFrameWriter.{method}"]

    def write(self: DataFrameWriter, path: str, *args: Any, **kwargs: Any) -> None:
        fs = fs_for(self._spark)
        original(self, _resolved(fs, path), *args, **kwargs)  # synced first, as in `save`
        fs.upload(path, delete_missing=True)

    write.__name__ = method
    write.__doc__ = original.__doc__
    return write


def _writer_save_as_table(
    self: DataFrameWriter,
    name: str,
    format: str | None = None,
    mode: str | None = None,
    partitionBy: Any = None,
    **options: Any,
) -> None:
    if _fmt(self, format, "delta") != "delta":
        return ORIGINAL["DataFrameWriter.saveAsTable"](self, name, format, mode, partitionBy, **options)
    _no_partitions(self, partitionBy)
    delta.write(
        self._df, name, mode or getattr(self, "_local_mode", None) or "error", _options(self, options)
    )


def _writer_insert_into(self: DataFrameWriter, tableName: str, overwrite: bool | None = None) -> None:
    if not delta.exists(self._spark, tableName):
        return ORIGINAL["DataFrameWriter.insertInto"](self, tableName, overwrite)
    from databricks_local.delta_sql import as_table_columns

    frame = as_table_columns(self._df, delta.read(self._spark, tableName))  # by position, as insertInto does
    if overwrite is None:
        overwrite = (getattr(self, "_local_mode", None) or "").lower() == "overwrite"
    delta.write(frame, tableName, "overwrite" if overwrite else "append")


# --- streams --------------------------------------------------------------------------------------------
def _stream_reader_format(self: DataStreamReader, source: str) -> DataStreamReader:
    self._local_format = source.lower()  # type: ignore[attr-defined]
    return ORIGINAL["DataStreamReader.format"](self, source)


def _stream_reader_load(
    self: DataStreamReader,
    path: str | None = None,
    format: str | None = None,
    schema: Any = None,
    **options: Any,
) -> DataFrame:
    fmt = _fmt(self, format)
    if fmt == "delta":
        raise NotSupportedLocally("spark.readStream.format('delta') (a Delta table as a stream source)")
    if fmt == "cloudfiles":
        raise NotSupportedLocally("spark.readStream.format('cloudFiles') (Auto Loader)")
    if path is not None and fmt != "kinesis":
        path = fs_for(self._spark).resolve(path)
    return ORIGINAL["DataStreamReader.load"](self, path, format, schema, **options)


def _stream_reader_file(method: str) -> Any:
    original = ORIGINAL[f"DataStreamReader.{method}"]

    def read(self: DataStreamReader, path: str, *args: Any, **kwargs: Any) -> DataFrame:
        return original(self, fs_for(self._spark).resolve(path), *args, **kwargs)

    read.__name__ = method
    return read


def _stream_writer_format(self: DataStreamWriter, source: str) -> DataStreamWriter:
    self._local_format = source.lower()  # type: ignore[attr-defined]
    return ORIGINAL["DataStreamWriter.format"](self, source)


def _stream_writer_option(self: DataStreamWriter, key: str, value: Any) -> DataStreamWriter:
    if key.lower() == "checkpointlocation" and isinstance(value, str):
        value = fs_for(self._spark).resolve_for_write(value)
    _remember(self, "_local_options", key, value)
    return ORIGINAL["DataStreamWriter.option"](self, key, value)


def _stream_writer_options(self: DataStreamWriter, **options: Any) -> DataStreamWriter:
    for key, value in options.items():
        _stream_writer_option(self, key, value)
    return self


def _delta_stream(
    writer: DataStreamWriter,
    target: Any,
    name: str | None,
    uri: str | None,
    outputMode: str | None,
    queryName: str | None,
    options: dict[str, Any],
) -> Any:
    """A Delta sink as a `foreachBatch`: each batch one commit carrying (the checkpoint, the batch id)."""
    for key, value in options.items():
        _stream_writer_option(writer, key, value)
    opts = _options(writer)
    mode = (outputMode or "append").lower()
    if mode not in ("append",):
        raise NotSupportedLocally(f"writeStream.format('delta').outputMode({mode!r}): only append locally")
    checkpoint = next((str(v) for k, v in opts.items() if k.lower() == "checkpointlocation"), None)
    app_id = f"databricks-local:{checkpoint or uuid.uuid4().hex}"
    session = writer._spark
    fs = fs_for(session)

    def write_batch(batch: DataFrame, batch_id: int) -> None:
        path = target if name is None else delta.table_path(session, name)
        delta.write_path(batch, path, "append", opts, name=name, txn=(app_id, int(batch_id)))
        if uri:
            fs.upload(uri, delete_missing=True)

    if outputMode:
        writer.outputMode(outputMode)
    if queryName:
        writer.queryName(queryName)
    writer.foreachBatch(write_batch)
    return ORIGINAL["DataStreamWriter.start"](writer)


def _stream_writer_start(
    self: DataStreamWriter,
    path: str | None = None,
    format: str | None = None,
    outputMode: str | None = None,
    partitionBy: Any = None,
    queryName: str | None = None,
    **options: Any,
) -> Any:
    fmt = _fmt(self, format)
    fs = fs_for(self._spark)
    path = path or _options(self).get("path")
    if fmt == "delta":
        if not isinstance(path, str):
            raise NotSupportedLocally("writeStream.format('delta').start() needs a path locally")
        if partitionBy:
            raise NotSupportedLocally("partitionBy on a Delta table is not supported locally")
        uri = path if is_s3(fs.source_of(path)) else None
        return _delta_stream(self, fs.resolve(path), None, uri, outputMode, queryName, options)
    if isinstance(path, str) and fmt not in ("memory", "console", "foreach", "kafka"):
        path = fs.resolve_for_write(path)
    return ORIGINAL["DataStreamWriter.start"](
        self, path, format, outputMode, partitionBy, queryName, **options
    )


def _stream_to_table(
    self: DataStreamWriter,
    tableName: str,
    format: str | None = None,
    outputMode: str | None = None,
    partitionBy: Any = None,
    queryName: str | None = None,
    **options: Any,
) -> Any:
    if _fmt(self, format, "delta") != "delta":
        return ORIGINAL["DataStreamWriter.toTable"](
            self, tableName, format, outputMode, partitionBy, queryName, **options
        )
    if partitionBy:
        raise NotSupportedLocally("partitionBy on a Delta table is not supported locally")
    return _delta_stream(self, None, tableName, None, outputMode, queryName, options)


# --- SparkSession and Catalog ---------------------------------------------------------------------------
def _session_table(self: SparkSession, tableName: str) -> DataFrame:
    if delta.exists(self, tableName):
        return delta.read(self, tableName)
    return ORIGINAL["SparkSession.table"](self, tableName)


def _session_sql(self: SparkSession, sqlQuery: str, args: Any = None, **kwargs: Any) -> DataFrame:
    from databricks_local import delta_sql

    return delta_sql.run(self, sqlQuery, args, **kwargs)


def _catalog_table_exists(self: Catalog, tableName: str, dbName: str | None = None) -> bool:
    name = f"{dbName}.{tableName}" if dbName else tableName
    try:
        if delta.exists(self._sparkSession, name):
            return True
    except Exception:  # an unknown database: Spark's answer below
        pass
    return ORIGINAL["Catalog.tableExists"](self, tableName, dbName)


_HOOKS: dict[str, Any] = {
    "DataFrameReader.format": _reader_format,
    "DataFrameReader.option": _reader_option,
    "DataFrameReader.options": _reader_options,
    "DataFrameReader.load": _reader_load,
    "DataFrameReader.table": _reader_table,
    **{f"DataFrameReader.{m}": _reader_file(m) for m in ("json", "parquet", "csv", "text", "orc")},
    "DataFrameWriter.format": _writer_format,
    "DataFrameWriter.mode": _writer_mode,
    "DataFrameWriter.option": _writer_option,
    "DataFrameWriter.options": _writer_options,
    "DataFrameWriter.partitionBy": _writer_partition_by,
    "DataFrameWriter.save": _writer_save,
    "DataFrameWriter.saveAsTable": _writer_save_as_table,
    "DataFrameWriter.insertInto": _writer_insert_into,
    **{f"DataFrameWriter.{m}": _writer_file(m) for m in ("json", "parquet", "csv", "text", "orc")},
    "DataStreamReader.format": _stream_reader_format,
    "DataStreamReader.load": _stream_reader_load,
    **{f"DataStreamReader.{m}": _stream_reader_file(m) for m in ("json", "parquet", "csv", "text")},
    "DataStreamWriter.format": _stream_writer_format,
    "DataStreamWriter.option": _stream_writer_option,
    "DataStreamWriter.options": _stream_writer_options,
    "DataStreamWriter.start": _stream_writer_start,
    "DataStreamWriter.toTable": _stream_to_table,
    "SparkSession.table": _session_table,
    "SparkSession.sql": _session_sql,
    "Catalog.tableExists": _catalog_table_exists,
}


def install_local_sources(session: SparkSession) -> None:
    """What Databricks has and local Spark lacks, in `session`: Delta, DBFS paths and the `kinesis` source."""
    prepare_session(session)


def SparkProxy(session: SparkSession, fs: FileSystem) -> SparkSession:
    """The former proxy: now the real session, prepared (`prepare_session`)."""
    return prepare_session(session, fs)
