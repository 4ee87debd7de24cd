"""DBFS for local runs: where `dbfs:/...`, `/FileStore/...`, `/mnt/...` and `s3://...` paths live, and `dbutils.fs`.

Owns the DBFS root (`<stack state dir>/dbfs`, `DATABRICKS_LOCAL_DBFS_ROOT` overrides), the mapping of every
Databricks path onto it, the mount table and `dbutils.fs` (`FileSystem`).

Paths (as a Databricks cluster reads them):

* `dbfs:/x` and `/dbfs/x` (the FUSE view) are `<root>/x`; so is a bare `/x` whose first folder is one DBFS has
  (`/FileStore`, `/tmp`, `/user`, `/mnt`, `/databricks-datasets`, `/local_disk0`, `/Volumes`). A bare `/tmp/<dir>/...`
  stays the machine's own `/tmp` when `<dir>` exists there and not in DBFS (scratch folders of tests and tools);
  any other bare absolute path and `file:/x` are this machine's files, as `file:` is on the driver.
* `dbfs:/user/hive/warehouse/<table>` is where managed tables live (`warehouse_dir`).
* `/mnt/<point>/...` is the mount's source: an `s3://`, `s3a://` or `s3n://` URI (keys in the URI as
  `ACCESS:URL-ENCODED-SECRET@bucket`, in `extra_configs` or in the Spark conf `fs.s3a.access.key` /
  `fs.s3a.secret.key`) or a local folder. Mounts are kept in a JSON file (0600, it may hold keys) beside the root,
  so a later notebook or process sees them, as on a workspace.
* `s3://bucket/key` is read through `lake.S3Mirror`: the objects are synced into `<root>/../dbfs-s3/<bucket>/` before
  Spark reads them, and what a write leaves under a mirrored prefix is uploaded when it commits (`upload`).

LocalStack accepts any key, so the runtime checks keys itself: a key pair that is neither the stack's nor one that
`make local-up` issued (`credentials.known_keys`) is refused with the 403 Spark reports for S3A.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
import time
from collections import namedtuple
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from databricks_local.lake import LakeError, S3Location, S3Mirror, s3_client

FileInfo = namedtuple("FileInfo", "path name size modificationTime")
MountInfo = namedtuple("MountInfo", "mountPoint source encryptionType")

DBFS_TOP = ("FileStore", "tmp", "user", "mnt", "databricks-datasets", "local_disk0", "Volumes", "databricks")
S3_SCHEMES = ("s3://", "s3a://", "s3n://")
_S3_KEYED = re.compile(r"^(?P<scheme>s3[an]?)://(?P<key>[^:@/]+):(?P<secret>[^@/]+)@(?P<rest>.*)$")
_mount_lock = threading.Lock()


class S3AccessDenied(LakeError):
    """Wrong AWS keys: what S3A reports for a 403 (`java.nio.file.AccessDeniedException`)."""


def default_root(env: Mapping[str, str] | None = None) -> Path:
    """The DBFS root: `DATABRICKS_LOCAL_DBFS_ROOT`, else `<stack state dir>/dbfs`."""
    env = os.environ if env is None else env
    if env.get("DATABRICKS_LOCAL_DBFS_ROOT"):
        return Path(env["DATABRICKS_LOCAL_DBFS_ROOT"]).absolute()
    from local_stack.config import StackConfig

    return (StackConfig.from_env(env).state_dir / "dbfs").absolute()


def warehouse_dir(root: Path | None = None) -> Path:
    """`dbfs:/user/hive/warehouse`: the managed tables' folder (the Spark warehouse of a local cluster)."""
    return (root or default_root()) / "user" / "hive" / "warehouse"


def is_s3(path: str) -> bool:
    return str(path).startswith(S3_SCHEMES)


def s3a(uri: str) -> str:
    """`s3n://` and `s3://` as `s3a://` (one scheme for the mirror; they name the same objects)."""
    for scheme in ("s3n://", "s3://"):
        if uri.startswith(scheme):
            return "s3a://" + uri[len(scheme) :]
    return uri


def strip_dbfs(path: str) -> str:
    """`dbfs:/x` and `/dbfs/x` as `/x`."""
    path = str(path)
    if path.startswith("dbfs:"):
        path = path[len("dbfs:") :] or "/"
        if not path.startswith("/"):
            path = "/" + path
    if path == "/dbfs" or path.startswith("/dbfs/"):
        path = path[len("/dbfs") :] or "/"
    return path


def redact(source: str) -> str:
    """A source URI without its keys (what `dbutils.fs.mounts()` shows)."""
    return re.sub(r"://[^@/]+@", "://", source)


class FileSystem:
    """`dbutils.fs` on the local DBFS root, with `/mnt/...` mounts of S3 sources or folders."""

    def __init__(self, mirror: S3Mirror | None = None, root: str | Path | None = None) -> None:
        self.root = Path(root).absolute() if root else default_root()
        self.mirror = mirror or S3Mirror(self.root.parent / f"{self.root.name}-s3")
        self.conf: Any = None  # the session's RuntimeConfig, for fs.s3a.* keys (set by spark_hooks)

    # --- mounts -------------------------------------------------------------------------------------
    @property
    def mounts_file(self) -> Path:
        return self.root.parent / f"{self.root.name}-mounts.json"

    @property
    def _mounts(self) -> dict[str, str]:
        try:
            return dict(json.loads(self.mounts_file.read_text()))
        except (OSError, ValueError):
            return {}

    def _save_mounts(self, mounts: dict[str, str]) -> None:
        from local_stack.processes import write_private

        write_private(self.mounts_file, json.dumps(mounts, indent=2, sort_keys=True))

    def mount(
        self,
        source: str,
        mount_point: str,
        encryption_type: str = "",
        owner: str | None = None,
        extra_configs: Mapping[str, str] | None = None,
    ) -> bool:
        """Mount `source` at `mount_point` (`/mnt/...`); a mounted point is an error, as on Databricks."""
        return self._set_mount(source, mount_point, extra_configs, update=False)

    def _set_mount(
        self, source: str, mount_point: str, extra_configs: Mapping[str, str] | None, *, update: bool
    ) -> bool:
        """Point `mount_point` at `source`: a new point (`update=False`) or a mounted one (`update=True`)."""
        point = strip_dbfs(mount_point).rstrip("/")
        if not point.startswith("/mnt/"):
            raise ValueError(f"Mount point must start with /mnt/: {mount_point}")
        if is_s3(source):
            source = s3a(source)
            configs = dict(extra_configs or {})
            key = configs.get("fs.s3a.access.key") or configs.get("spark.hadoop.fs.s3a.access.key")
            secret = configs.get("fs.s3a.secret.key") or configs.get("spark.hadoop.fs.s3a.secret.key")
            if key and secret and "@" not in source.split("/", 3)[2]:
                source = source.replace("://", f"://{key}:{quote(secret, safe='')}@", 1)
            self._check_s3(source)
        elif not Path(_strip_file(source)).is_dir():
            raise LakeError(
                f"cannot mount {source!r}: not an s3://, s3a:// or s3n:// URI or an existing folder"
            )
        with _mount_lock:
            mounts = self._mounts
            if update and point not in mounts:
                raise RemoteException(f"Directory not mounted: {point}")
            if not update and point in mounts:
                raise RemoteException(f"Directory already mounted: {point}")
            mounts[point] = source.rstrip("/")
            self._save_mounts(mounts)
        return True

    def mounts(self) -> list[MountInfo]:
        return [MountInfo(point, redact(source), "") for point, source in sorted(self._mounts.items())]

    def unmount(self, mount_point: str) -> bool:
        point = strip_dbfs(mount_point).rstrip("/")
        with _mount_lock:
            mounts = self._mounts
            if point not in mounts:
                raise RemoteException(f"Directory not mounted: {point}")
            del mounts[point]
            self._save_mounts(mounts)
        print(f"{point} has been unmounted.")
        return True

    def refreshMounts(self) -> bool:
        return True

    def updateMount(
        self,
        source: str,
        mount_point: str,
        encryption_type: str = "",
        owner: str | None = None,
        extra_configs: Mapping[str, str] | None = None,
    ) -> bool:
        """Point the mounted `mount_point` at `source`; a point not mounted is an error, as on Databricks."""
        return self._set_mount(source, mount_point, extra_configs, update=True)

    # --- paths --------------------------------------------------------------------------------------
    def _s3_keys(self) -> tuple[str | None, str | None]:
        conf = self.conf
        if conf is None:
            return None, None
        get = lambda name: conf.get(name, None) or conf.get(f"spark.hadoop.{name}", None)  # noqa: E731
        try:
            return get("fs.s3a.access.key"), get("fs.s3a.secret.key")
        except Exception:  # a stopped session
            return None, None

    def _keyed(self, uri: str) -> str:
        """`uri` with keys: its own, else the Spark conf's `fs.s3a.*` keys, else none (the stack's own)."""
        uri = s3a(uri)
        if _S3_KEYED.match(uri):
            return uri
        key, secret = self._s3_keys()
        if key and secret:
            return uri.replace("://", f"://{key}:{quote(secret, safe='')}@", 1)
        return uri

    def _check_s3(self, uri: str) -> None:
        from databricks_local.credentials import known_keys

        if self.mirror.s3_dir is not None:
            return  # an offline stand-in for S3: no keys to check
        location = _parse(uri)
        if location.access_key is None:
            return
        if (location.access_key, location.secret_key) not in known_keys():
            target = f"s3a://{location.bucket}/{location.prefix}"
            raise S3AccessDenied(
                f"java.nio.file.AccessDeniedException: {target}: getFileStatus on {target}: "
                "com.amazonaws.services.s3.model.AmazonS3Exception: Forbidden (Service: Amazon S3; "
                "Status Code: 403; Error Code: 403 Forbidden; Request ID: local), S3 Extended Request ID: local:"
                "403 Forbidden"
            )

    def source_of(self, path: str) -> str:
        """What `path` names before the mirror: an `s3a://` URI (with keys) or a local path."""
        path = strip_dbfs(str(path))
        if path.startswith("/mnt/") or path == "/mnt":
            mounts = self._mounts
            for point in sorted(mounts, key=len, reverse=True):
                if path == point or path.startswith(point + "/"):
                    source = mounts[point]
                    path = source + path[len(point) :]
                    return self._keyed(path) if is_s3(path) else _strip_file(path)
        if is_s3(path):
            return self._keyed(path)
        if path.startswith("file:"):
            return _strip_file(path)
        return str(self._dbfs_local(path))

    def _dbfs_local(self, path: str) -> Path | str:
        if not path.startswith("/"):
            return path  # relative: the driver's working directory, as Spark sees it
        local = Path(path)
        if self.root == local or self.root in local.parents:
            return path
        parts = local.parts
        top = parts[1] if len(parts) > 1 else ""
        if top not in DBFS_TOP:
            return path
        if (
            top == "tmp"
            and len(parts) > 2
            and Path("/tmp", parts[2]).exists()
            and not (self.root / "tmp" / parts[2]).exists()
        ):
            return path  # the machine's own scratch folder (a test's, a tool's)
        return self.root / path.lstrip("/")

    def resolve(self, path: str) -> str:
        """A path local Spark and Python can open for a notebook path (DBFS, mounts, `s3://`)."""
        source = self.source_of(path)
        if is_s3(source):
            self._check_s3(source)
            try:
                return self.mirror.local_path(source)
            except LakeError as error:
                raise LakeError(f"{path}: {error}") from None
        return source

    def resolve_for_write(self, path: str) -> str:
        """Like `resolve`, without syncing (a write replaces or adds objects; `upload` sends them after)."""
        source = self.source_of(path)
        if is_s3(source):
            self._check_s3(source)
            location = _parse(source)
            base = self.mirror.s3_dir or self.mirror.cache_dir
            return str(Path(base) / location.bucket / location.prefix)
        return source

    def upload(self, path: str, delete_missing: bool = False) -> int:
        """After a write to `path`: when it is in S3, put the local files S3 lacks (or holds at another size) there;
        with `delete_missing` (a Spark write, whose folder was synced first) also delete the objects the write
        removed. The number of objects uploaded."""
        source = self.source_of(path)
        if not is_s3(source) or self.mirror.s3_dir is not None:
            return 0
        location = _parse(source)
        local = Path(self.mirror.cache_dir) / location.bucket / location.prefix
        client = s3_client(location.access_key, location.secret_key)
        prefix = location.prefix.rstrip("/")
        existing: dict[str, int] = {}
        for page in client.get_paginator("list_objects_v2").paginate(
            Bucket=location.bucket, Prefix=prefix + "/" if prefix and local.is_dir() else prefix
        ):
            existing.update((obj["Key"], obj["Size"]) for obj in page.get("Contents", []))
        files = [local] if local.is_file() else [p for p in local.rglob("*") if p.is_file()]
        sent = 0
        keep: set[str] = set()
        for file in files:
            if file.name.endswith((".crc", ".part")):
                continue
            key = f"{prefix}/{file.relative_to(local).as_posix()}".lstrip("/") if local.is_dir() else prefix
            keep.add(key)
            if existing.get(key) == file.stat().st_size and not key.endswith("_delta_log/_last_checkpoint"):
                continue  # Delta's data and log files never change once written
            client.upload_file(str(file), location.bucket, key)
            sent += 1
        if delete_missing:
            for key in sorted(set(existing) - keep):
                client.delete_object(Bucket=location.bucket, Key=key)
        return sent

    # --- dbutils.fs ---------------------------------------------------------------------------------
    def _local(self, path: str) -> Path:
        return Path(self.resolve(path))

    def ls(self, path: str) -> list[FileInfo]:
        local = self._local(path)
        if not local.exists():
            raise FileNotFoundError(f"java.io.FileNotFoundException: File {path} does not exist.")
        base = _display_path(path)
        if not local.is_dir():
            stat = local.stat()
            return [FileInfo(base, local.name, stat.st_size, int(stat.st_mtime * 1000))]
        infos = []
        for entry in sorted(local.iterdir()):
            if entry.name.endswith(".crc"):
                continue
            stat = entry.stat()
            is_dir = entry.is_dir()
            name = entry.name + ("/" if is_dir else "")
            infos.append(
                FileInfo(
                    f"{base.rstrip('/')}/{name}",
                    name,
                    0 if is_dir else stat.st_size,
                    int(stat.st_mtime * 1000),
                )
            )
        return infos

    def head(self, file: str, maxBytes: int = 65536) -> str:
        local = self._local(file)
        if local.is_dir():
            raise IsADirectoryError(f"Cannot head a directory: {file}")
        with open(local, "rb") as handle:
            data = handle.read(maxBytes)
        if maxBytes < local.stat().st_size:
            print(f"[Truncated to first {maxBytes} bytes]")
        return data.decode("utf-8", errors="replace")

    def put(self, file: str, contents: str, overwrite: bool = False) -> bool:
        local = Path(self.resolve_for_write(file))
        if local.exists() and not overwrite:
            raise FileExistsError(
                f"java.nio.file.FileAlreadyExistsException: {file} already exists; pass overwrite=True"
            )
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_text(contents, encoding="utf-8")
        print(f"Wrote {len(contents.encode())} bytes.")
        self.upload(file)
        return True

    def mkdirs(self, dir: str) -> bool:
        Path(self.resolve_for_write(dir)).mkdir(parents=True, exist_ok=True)
        return True

    def cp(self, from_: str, to: str, recurse: bool = False) -> bool:
        source, target = self._local(from_), Path(self.resolve_for_write(to))
        if source.is_dir():
            if not recurse:
                raise OSError(f"{from_} is a directory: pass recurse=True to copy it")
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            if target.is_dir():
                target = target / source.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
        self.upload(to)
        return True

    def mv(self, from_: str, to: str, recurse: bool = False) -> bool:
        self.cp(from_, to, recurse=True)
        self.rm(from_, recurse=True)
        return True

    def rm(self, dir: str, recurse: bool = False) -> bool:
        local = Path(self.resolve_for_write(dir))
        if local.is_dir():
            if any(local.iterdir()) and not recurse:
                raise OSError(f"{dir} is a non-empty directory: pass recurse=True")
            shutil.rmtree(local)
        elif local.exists():
            local.unlink()
        else:
            return False
        source = self.source_of(dir)
        if is_s3(source) and self.mirror.s3_dir is None:
            location = _parse(source)
            client = s3_client(location.access_key, location.secret_key)
            for page in client.get_paginator("list_objects_v2").paginate(
                Bucket=location.bucket, Prefix=location.prefix
            ):
                for obj in page.get("Contents", []):
                    client.delete_object(Bucket=location.bucket, Key=obj["Key"])
        return True

    def help(self, *args: Any) -> None:
        print(
            "dbutils.fs: ls, head, put, cp, mv, rm, mkdirs, mount, unmount, mounts, refreshMounts, updateMount"
        )


class RemoteException(ValueError):
    """What Databricks raises for a mount error (`java.rmi.RemoteException`)."""

    def __str__(self) -> str:
        return f"java.rmi.RemoteException: {self.args[0]}"


def _parse(uri: str) -> S3Location:
    match = _S3_KEYED.match(uri)
    if match:
        location = S3Location.parse(f"s3a://{match['rest']}")
        return S3Location(location.bucket, location.prefix, match["key"], unquote(match["secret"]))
    return S3Location.parse(s3a(uri))


def _strip_file(path: str) -> str:
    if path.startswith("file://"):
        return path[len("file://") :]
    return path[len("file:") :] if path.startswith("file:") else path


def _display_path(path: str) -> str:
    """How `dbutils.fs.ls` names entries: `dbfs:/...` for DBFS paths, the URI as given for others."""
    path = str(path)
    if is_s3(path) or path.startswith("file:"):
        return path
    return "dbfs:" + strip_dbfs(path)


def wait_mtime() -> int:
    """Milliseconds now (the modification time DBFS would give a file written now)."""
    return int(time.time() * 1000)
