"""`databricks_local/dbfs.py`: DBFS paths, `dbutils.fs` and mounts (persisted, Databricks' errors), S3 keys."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from databricks_local.dbfs import FileSystem, RemoteException, S3AccessDenied
from databricks_local.lake import S3Mirror


@pytest.fixture
def fs(dbfs_root: Path) -> FileSystem:
    return FileSystem()


def test_paths_map_onto_the_dbfs_root(fs: FileSystem, dbfs_root: Path, tmp_path: Path) -> None:
    assert fs.root == dbfs_root
    for path in ("dbfs:/FileStore/x.csv", "/dbfs/FileStore/x.csv", "/FileStore/x.csv"):
        assert fs.resolve(path) == str(dbfs_root / "FileStore" / "x.csv")
    assert fs.resolve("dbfs:/user/hive/warehouse/t") == str(dbfs_root / "user/hive/warehouse/t")
    assert fs.resolve("/tmp/nothing-like-this-here/x") == str(dbfs_root / "tmp/nothing-like-this-here/x")
    assert fs.resolve("dbfs:/tmp/a") == str(dbfs_root / "tmp" / "a")
    # this machine's own files stay theirs: file:, a folder outside DBFS's, an existing scratch folder of /tmp
    assert fs.resolve(f"file:{tmp_path}/a") == f"{tmp_path}/a"
    assert fs.resolve(str(tmp_path / "a")) == str(tmp_path / "a")
    assert fs.resolve("/work/data.json") == "/work/data.json"
    with pytest.raises(Exception, match=r"does not exist"):
        fs.ls("/mnt/not-mounted")


def test_dbutils_fs_put_head_ls_cp_mv_rm(fs: FileSystem, dbfs_root: Path) -> None:
    assert fs.put("/FileStore/notes/a.txt", "hello\nworld\n")
    with pytest.raises(FileExistsError):
        fs.put("dbfs:/FileStore/notes/a.txt", "again")
    fs.put("dbfs:/FileStore/notes/a.txt", "hello again\n", overwrite=True)
    assert fs.head("/FileStore/notes/a.txt") == "hello again\n"
    assert fs.head("/FileStore/notes/a.txt", 5) == "hello"
    assert fs.mkdirs("/FileStore/notes/sub")
    infos = fs.ls("/FileStore/notes")
    assert [(i.path, i.name, i.size) for i in infos] == [
        ("dbfs:/FileStore/notes/a.txt", "a.txt", 12),
        ("dbfs:/FileStore/notes/sub/", "sub/", 0),
    ]
    assert all(isinstance(i.modificationTime, int) and i.modificationTime > 1e12 for i in infos)
    fs.cp("/FileStore/notes/a.txt", "/FileStore/copy/b.txt")
    assert (dbfs_root / "FileStore/copy/b.txt").read_text() == "hello again\n"
    with pytest.raises(OSError, match="recurse"):
        fs.cp("/FileStore/notes", "/FileStore/tree")
    fs.cp("/FileStore/notes", "/FileStore/tree", recurse=True)
    assert (dbfs_root / "FileStore/tree/a.txt").is_file() and (dbfs_root / "FileStore/tree/sub").is_dir()
    fs.mv("/FileStore/copy/b.txt", "/FileStore/moved.txt")
    assert not (dbfs_root / "FileStore/copy/b.txt").exists() and (dbfs_root / "FileStore/moved.txt").is_file()
    with pytest.raises(OSError, match="recurse"):
        fs.rm("/FileStore/tree")
    assert fs.rm("/FileStore/tree", recurse=True) and not (dbfs_root / "FileStore/tree").exists()
    assert fs.rm("/FileStore/tree") is False


def test_mounts_persist_and_a_mounted_point_is_refused(dbfs_root: Path, tmp_path: Path) -> None:
    s3 = tmp_path / "s3"
    (s3 / "course-bucket" / "topics").mkdir(parents=True)
    (s3 / "course-bucket" / "topics" / "a.json").write_text('{"a": 1}\n')
    fs = FileSystem(S3Mirror(tmp_path / "cache", s3_dir=s3))
    assert fs.mount("s3n://AKIDX:se%2Fcret%2Bkey@course-bucket", "/mnt/course")
    with pytest.raises(RemoteException, match="Directory already mounted: /mnt/course"):
        fs.mount("s3n://AKIDX:se%2Fcret%2Bkey@course-bucket", "/mnt/course")
    # the course's pattern: try mount, on error unmount and mount again
    try:
        fs.mount(
            "s3a://course-bucket",
            "/mnt/course",
            extra_configs={"fs.s3a.access.key": "K", "fs.s3a.secret.key": "s/+"},
        )
    except Exception:
        fs.unmount("/mnt/course")
        fs.mount(
            "s3a://course-bucket",
            "/mnt/course",
            extra_configs={"fs.s3a.access.key": "K", "fs.s3a.secret.key": "s/+"},
        )
    # a later notebook (another FileSystem, another process) sees the mount; the file holds keys: 0600
    later = FileSystem(S3Mirror(tmp_path / "cache", s3_dir=s3))
    assert [(m.mountPoint, m.source) for m in later.mounts()] == [("/mnt/course", "s3a://course-bucket")]
    assert json.loads(later.mounts_file.read_text()) == {"/mnt/course": "s3a://K:s%2F%2B@course-bucket"}
    assert stat.S_IMODE(os.stat(later.mounts_file).st_mode) == 0o600
    assert [i.name for i in later.ls("/mnt/course/topics")] == ["a.json"]
    assert later.head("dbfs:/mnt/course/topics/a.json") == '{"a": 1}\n'
    assert later.refreshMounts()
    assert later.unmount("/mnt/course") and later.mounts() == []
    with pytest.raises(RemoteException, match="Directory not mounted"):
        later.unmount("/mnt/course")
    with pytest.raises(ValueError, match="/mnt/"):
        later.mount("s3a://course-bucket", "/data")


def test_update_mount_repoints_a_mounted_point_only(fs: FileSystem, tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    for folder in (first, second):
        folder.mkdir()
        (folder / "name.txt").write_text(folder.name)
    with pytest.raises(RemoteException, match="Directory not mounted: /mnt/data"):
        fs.updateMount(str(first), "/mnt/data")
    assert fs.mounts() == []
    assert fs.mount(str(first), "dbfs:/mnt/data/")
    assert fs.updateMount(str(second), "/mnt/data")
    assert [(m.mountPoint, m.source) for m in fs.mounts()] == [("/mnt/data", str(second))]
    assert fs.head("/mnt/data/name.txt") == "second"
    with pytest.raises(ValueError, match="/mnt/"):
        fs.updateMount(str(first), "/data")
    with pytest.raises(Exception, match="cannot mount"):
        fs.updateMount(str(tmp_path / "missing"), "/mnt/data")
    assert [m.source for m in fs.mounts()] == [str(second)]


def test_wrong_keys_get_the_403_spark_reports(fs: FileSystem, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    with pytest.raises(
        S3AccessDenied, match=r"AccessDeniedException: s3a://b/x: getFileStatus.*403 Forbidden"
    ):
        fs.resolve("s3a://WRONG:key@b/x")
    with pytest.raises(S3AccessDenied, match="403"):
        fs.mount("s3n://WRONG:key@b", "/mnt/b")
    assert fs.mounts() == []


def test_s3_keys_from_the_spark_conf(fs: FileSystem) -> None:
    class Conf(dict):
        def get(self, key: str, default: Any = None) -> Any:
            return super().get(key, default)

    fs.conf = Conf({"spark.hadoop.fs.s3a.access.key": "AK", "spark.hadoop.fs.s3a.secret.key": "s/k"})
    assert fs.source_of("s3://bucket/key") == "s3a://AK:s%2Fk@bucket/key"
    fs.conf = Conf({"fs.s3a.access.key": "AK2", "fs.s3a.secret.key": "x"})
    assert fs.source_of("s3n://bucket/key") == "s3a://AK2:x@bucket/key"
    assert fs.source_of("s3a://OWN:y@bucket/key") == "s3a://OWN:y@bucket/key"  # the URI's own keys win
