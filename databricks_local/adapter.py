"""The Databricks objects a notebook uses, for local runs: `spark` and `dbutils.fs`.

`dbutils` itself (widgets, secrets, notebook, jobs) lives in `dbutils.py` and `display` in `display.py`; their
names stay importable from here.

* `dbutils.fs`: `mount(source, mount_point)` maps `/mnt/...` (and `dbfs:/mnt/...`, `/dbfs/mnt/...`) onto an
  `s3a://[key:secret@]bucket[/prefix]` source (read through the local stack's S3, see `lake.py`) or a local
  directory; `mounts`, `unmount`, `refreshMounts`, `ls`, `head`, `mkdirs`, `rm` work on the mapped paths.
* `spark`: the local SparkSession behind a thin proxy whose readers (`spark.read.json(...)`, `.parquet`, `.csv`,
  `.text`, `.load`) first turn `s3://` and mounted paths into local ones, and whose `table`, `catalog.tableExists`
  and `sql("DROP TABLE ...")` know the local Delta tables (`delta.py`); `saveAsTable` of format `delta` and
  `from delta.tables import DeltaTable` are routed there too, and `spark.readStream.format("kinesis")` reads
  LocalStack's Kinesis (`kinesis_source.py`). Everything else is the real session.
"""

from __future__ import annotations

import re
import shutil
from collections import namedtuple
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, DataFrameReader, SparkSession

from databricks_local import delta
from databricks_local.dbutils import (  # noqa: F401  (moved to dbutils.py; still importable from here)
    LocalDbutils,
    NotebookExit,
    NotebookUtils,
    SecretError,
    Secrets,
    WidgetError,
    Widgets,
    secret_env_name,
)
from databricks_local.display import DISPLAY_ROWS, make_display  # noqa: F401  (moved to display.py)
from databricks_local.lake import LakeError, S3Mirror, is_s3

FileInfo = namedtuple("FileInfo", "path name size modificationTime")
MountInfo = namedtuple("MountInfo", "mountPoint source encryptionType")


class FileSystem:
    """`dbutils.fs` over local directories, with `/mnt/...` mount points mapped to S3 sources or directories."""

    def __init__(self, mirror: S3Mirror) -> None:
        self.mirror = mirror
        self._mounts: dict[str, str] = {}

    # --- mounts -------------------------------------------------------------------------------------
    def mount(
        self,
        source: str,
        mount_point: str,
        encryption_type: str = "",
        extra_configs: Mapping[str, str] | None = None,
    ) -> bool:
        point = _strip_dbfs(mount_point).rstrip("/")
        if not point.startswith("/mnt/"):
            raise ValueError(f"mount point must be under /mnt/, got {mount_point!r}")
        if point in self._mounts:
            raise ValueError(f"Directory already mounted: {point}")
        if is_s3(source):
            if extra_configs:
                key = extra_configs.get("fs.s3a.access.key")
                secret = extra_configs.get("fs.s3a.secret.key")
                if key and secret and "@" not in source:
                    from urllib.parse import quote

                    source = source.replace("://", f"://{key}:{quote(secret, safe='')}@", 1)
        elif not Path(_strip_file(source)).is_dir():
            raise LakeError(f"cannot mount {source!r}: not an s3a:// URI or an existing directory")
        self._mounts[point] = source.rstrip("/")
        return True

    def mounts(self) -> list[MountInfo]:
        return [MountInfo(point, _redact(source), "") for point, source in self._mounts.items()]

    def unmount(self, mount_point: str) -> bool:
        return self._mounts.pop(_strip_dbfs(mount_point).rstrip("/"), None) is not None

    def refreshMounts(self) -> bool:
        return True

    # --- paths --------------------------------------------------------------------------------------
    def resolve(self, path: str) -> str:
        """A path local Spark and Python can open for a notebook path (mounts, dbfs:, s3://)."""
        path = _strip_dbfs(str(path))
        for point, source in self._mounts.items():
            if path == point or path.startswith(point + "/"):
                path = source + path[len(point) :]
                break
        else:
            if path.startswith("/mnt/"):
                raise LakeError(
                    f"{path} is not under a mounted directory (mounts: {sorted(self._mounts) or 'none'})"
                )
        if is_s3(path):
            return self.mirror.local_path(path)
        return _strip_file(path)

    def ls(self, path: str) -> list[FileInfo]:
        local = Path(self.resolve(path))
        if not local.exists():
            raise FileNotFoundError(f"{path} does not exist")
        entries = sorted(local.iterdir()) if local.is_dir() else [local]
        base = str(path).rstrip("/")
        return [
            FileInfo(
                f"{base}/{e.name}" + ("/" if e.is_dir() else ""),
                e.name + ("/" if e.is_dir() else ""),
                0 if e.is_dir() else e.stat().st_size,
                int(e.stat().st_mtime * 1000),
            )
            for e in entries
        ]

    def head(self, path: str, maxBytes: int = 65536) -> str:
        with open(self.resolve(path), "rb") as handle:
            return handle.read(maxBytes).decode("utf-8", errors="replace")

    def mkdirs(self, path: str) -> bool:
        Path(self.resolve(path)).mkdir(parents=True, exist_ok=True)
        return True

    def rm(self, path: str, recurse: bool = False) -> bool:
        local = Path(self.resolve(path))
        if local.is_dir():
            if not recurse:
                raise OSError(f"{path} is a directory: pass recurse=True")
            shutil.rmtree(local)
        elif local.exists():
            local.unlink()
        else:
            return False
        return True


READER_METHODS = {"json", "parquet", "csv", "text", "orc", "load", "table"}


class ReaderProxy:
    """A DataFrameReader whose path arguments go through `FileSystem.resolve` first."""

    def __init__(self, reader: DataFrameReader, fs: FileSystem) -> None:
        self._reader = reader
        self._fs = fs

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._reader, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            if name in READER_METHODS and name != "table":
                args = tuple(self._resolve(a) for a in args[:1]) + args[1:]
                if "path" in kwargs:
                    kwargs["path"] = self._resolve(kwargs["path"])
            result = attr(*args, **kwargs)
            return ReaderProxy(result, self._fs) if isinstance(result, DataFrameReader) else result

        return call

    def _resolve(self, path: Any) -> Any:
        if isinstance(path, str):
            return self._fs.resolve(path)
        if isinstance(path, list | tuple):
            return [self._fs.resolve(p) for p in path]
        return path


DROP_TABLE = re.compile(r"^\s*DROP\s+TABLE\s+(IF\s+EXISTS\s+)?(?P<name>[`\w.\-]+)\s*;?\s*$", re.IGNORECASE)


class CatalogProxy:
    """`spark.catalog`, whose `tableExists` also sees the local Delta tables."""

    def __init__(self, session: SparkSession) -> None:
        self._session = session

    def tableExists(self, tableName: str, dbName: str | None = None) -> bool:
        name = f"{dbName}.{tableName}" if dbName else tableName
        return delta.exists(self._session, name) or self._session.catalog.tableExists(tableName, dbName)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session.catalog, name)


class SparkProxy:
    """The notebook's `spark`: the real local session, except that readers resolve lake paths and tables may be
    local Delta tables."""

    def __init__(self, session: SparkSession, fs: FileSystem) -> None:
        self._session = session
        self._fs = fs

    @property
    def read(self) -> ReaderProxy:
        return ReaderProxy(self._session.read, self._fs)

    @property
    def catalog(self) -> CatalogProxy:
        return CatalogProxy(self._session)

    def table(self, tableName: str) -> DataFrame:
        if delta.exists(self._session, tableName):
            return delta.read(self._session, tableName)
        return self._session.table(tableName)

    def sql(self, sqlQuery: str, *args: Any, **kwargs: Any) -> DataFrame:
        drop = DROP_TABLE.match(sqlQuery)
        if drop and delta.drop(self._session, drop["name"]):
            return self._session.createDataFrame([], "dropped boolean")
        return self._session.sql(sqlQuery, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


def install_local_sources(session: SparkSession) -> None:
    """What Databricks has and local Spark lacks: Delta tables and the Kinesis streaming source."""
    from databricks_local.kinesis_source import KinesisDataSource

    delta.install_writer_hooks()
    delta.install_delta_module()
    session.dataSource.register(KinesisDataSource)


def _strip_dbfs(path: str) -> str:
    if path.startswith("dbfs:"):
        path = path[len("dbfs:") :]
    if path.startswith("/dbfs/"):
        path = path[len("/dbfs") :]
    return path


def _strip_file(path: str) -> str:
    return path[len("file:") :] if path.startswith("file:") else path


def _redact(source: str) -> str:
    return re.sub(r"://[^@/]+@", "://", source)
