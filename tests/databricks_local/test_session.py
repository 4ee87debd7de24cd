"""The local Spark session's JVM options: the class archive is used when it exists, and only then."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from databricks_local import session


@pytest.fixture
def archive_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(session, "CLASS_ARCHIVE_DIR", tmp_path)
    monkeypatch.delenv("NOTEBOOK_RUNNER_CLASS_ARCHIVE", raising=False)
    return tmp_path


def test_archive_path_is_stable_and_names_this_environment(archive_dir: Path) -> None:
    path = session.class_archive_path()
    assert path == session.class_archive_path()
    assert path.parent == archive_dir
    assert path.name.startswith("classes-") and path.suffix == ".jsa"


def test_no_archive_no_option(archive_dir: Path) -> None:
    assert session._class_archive_options() == ""


def test_an_existing_archive_is_mapped_quietly(archive_dir: Path) -> None:
    session.class_archive_path().write_bytes(b"archive")
    options = session._class_archive_options()
    assert f"-XX:SharedArchiveFile={session.class_archive_path()}" in options
    assert "-Xlog:cds=off" in options


def test_the_archive_can_be_switched_off(archive_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    session.class_archive_path().write_bytes(b"archive")
    monkeypatch.setenv("NOTEBOOK_RUNNER_CLASS_ARCHIVE", "off")
    assert session._class_archive_options() == ""


def test_building_without_java_says_so(archive_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(session.shutil, "which", lambda _name: None)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(RuntimeError, match="no Java runtime"):
        session.build_class_archive()
    assert list(archive_dir.iterdir()) == []


def test_the_running_session_uses_the_archive_when_present(spark: Any) -> None:
    arguments = list(
        spark.sparkContext._jvm.java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments()
    )
    archive = session.class_archive_path()
    if archive.is_file():
        assert f"-XX:SharedArchiveFile={archive}" in arguments
    else:
        assert not any(a.startswith("-XX:SharedArchiveFile") for a in arguments)


def test_the_jvm_accepts_the_throughput_options_and_their_jit_directives() -> None:
    import shutil
    import subprocess

    java = shutil.which("java")
    if java is None:
        pytest.skip("no java on PATH")
    assert session.JIT_DIRECTIVES.is_file()
    result = subprocess.run(
        [java, *session.THROUGHPUT_JAVA_OPTIONS.split(), "-version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr  # a malformed directives file makes the JVM refuse to start
