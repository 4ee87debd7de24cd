"""import-notebooks against the real local workspace: folders, SOURCE imports with the files' bytes, Python modules
as workspace files (AUTO), skip/update, each checked through the workspace API (get-status, list, export).

One test stays on the fake (`tests/support/fake_databricks.py`): a write refused after the reads succeeded, which
the local workspace (no access control: its one token may do everything) cannot be made to answer."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import PermissionDenied
from databricks.sdk.service.workspace import ExportFormat, ImportFormat, Language

from databricks_deploy.discovery import DeployError, find_notebooks, plan
from databricks_deploy.notebooks import import_notebooks

HEADER = "# Databricks notebook source\n"
FOLDER = "/Shared/test-pipeline"


@pytest.fixture
def source(tmp_path: Path) -> Path:
    root = tmp_path / "notebooks"
    (root / "lib").mkdir(parents=True)
    (root / "__pycache__").mkdir()
    (root / "batch.py").write_text(HEADER + "%run ./lib/cleaning\n# COMMAND ----------\nprint('batch')\n")
    (root / "lib" / "cleaning.py").write_text(HEADER + "def clean(df):\n    return df\n")
    (root / "queries.sql").write_text("-- Databricks notebook source\nSELECT 1\n")
    (root / "helper.py").write_text("import os\n")  # no header: a module, imported as a workspace file
    (root / "README.txt").write_text("notes\n")  # neither: skipped
    (root / "__pycache__" / "batch.cpython-311.pyc").write_bytes(b"\0")
    return root


def status(client: WorkspaceClient, path: str) -> dict:
    return client.workspace.get_status(path).as_dict()


def exported(client: WorkspaceClient, path: str) -> bytes:
    return base64.b64decode(client.workspace.export(path, format=ExportFormat.SOURCE).content or "")


def test_finds_notebooks_by_header_keeping_sub_folders(source):
    notebooks, skipped = find_notebooks(source, FOLDER)
    assert [(nb.remote, nb.language) for nb in notebooks] == [
        (f"{FOLDER}/batch", "PYTHON"),
        (f"{FOLDER}/helper.py", "PYTHON"),
        (f"{FOLDER}/lib/cleaning", "PYTHON"),
        (f"{FOLDER}/queries", "SQL"),
    ]
    assert [nb.kind for nb in notebooks] == ["NOTEBOOK", "FILE", "NOTEBOOK", "NOTEBOOK"]
    assert skipped == [source / "README.txt"]


def test_first_import_creates_folders_and_imports_each_file_as_source(client, source, capsys):
    results = import_notebooks(client, source, FOLDER)
    assert results == {
        f"{FOLDER}/batch": "created",
        f"{FOLDER}/helper.py": "created",
        f"{FOLDER}/lib/cleaning": "created",
        f"{FOLDER}/queries": "created",
    }
    for folder in (FOLDER, f"{FOLDER}/lib"):
        assert status(client, folder)["object_type"] == "DIRECTORY"
    listed = {
        o.path for o in client.workspace.list(FOLDER, recursive=True)
    }  # the SDK lists files, not folders
    assert listed == set(results)  # README.txt and __pycache__ stayed behind
    module = status(client, f"{FOLDER}/helper.py")  # AUTO: a workspace file under its own name
    assert module["object_type"] == "FILE" and "language" not in module
    assert exported(client, f"{FOLDER}/helper.py") == b"import os\n"
    for local, remote, language in [
        ("batch.py", "batch", "PYTHON"),
        ("lib/cleaning.py", "lib/cleaning", "PYTHON"),
        ("queries.sql", "queries", "SQL"),
    ]:
        info = status(client, f"{FOLDER}/{remote}")
        assert (info["object_type"], info["language"]) == ("NOTEBOOK", language)
        assert exported(client, f"{FOLDER}/{remote}") == (source / local).read_bytes()
    out = capsys.readouterr().out
    assert f"created folder {FOLDER}/lib" in out
    assert f"created   {FOLDER}/batch" in out
    assert "skipped" in out and "README.txt" in out


def test_second_run_skips_unchanged_and_updates_only_the_changed_notebook(client, source, capsys):
    import_notebooks(client, source, FOLDER)
    before = {o.path: o.as_dict() for o in client.workspace.list(FOLDER, recursive=True)}
    capsys.readouterr()
    time.sleep(0.01)  # modified_at is in milliseconds
    (source / "lib" / "cleaning.py").write_text(HEADER + "def clean(df):\n    return df.dropDuplicates()\n")

    results = import_notebooks(client, source, FOLDER)

    assert results == {
        f"{FOLDER}/batch": "unchanged",
        f"{FOLDER}/helper.py": "unchanged",
        f"{FOLDER}/lib/cleaning": "updated",
        f"{FOLDER}/queries": "unchanged",
    }
    after = {o.path: o.as_dict() for o in client.workspace.list(FOLDER, recursive=True)}
    assert set(after) == set(before)
    changed = {path for path in after if after[path]["modified_at"] != before[path]["modified_at"]}
    assert changed == {f"{FOLDER}/lib/cleaning"}  # nothing else was written
    assert "dropDuplicates" in exported(client, f"{FOLDER}/lib/cleaning").decode()
    assert "created folder" not in capsys.readouterr().out


def test_workspace_normalisation_of_trailing_whitespace_is_not_a_change(client, source):
    client.workspace.mkdirs(FOLDER)
    padded = (source / "batch.py").read_text().rstrip("\n") + "  \n\n"
    client.workspace.import_(
        f"{FOLDER}/batch",
        content=base64.b64encode(padded.encode()).decode(),
        format=ImportFormat.SOURCE,
        language=Language.PYTHON,
    )
    results = import_notebooks(client, source, FOLDER)
    assert results[f"{FOLDER}/batch"] == "unchanged"
    assert exported(client, f"{FOLDER}/batch").decode() == padded  # left as it was


def test_a_folder_where_a_notebook_should_go_is_an_error(client, source):
    client.workspace.mkdirs(f"{FOLDER}/batch")
    with pytest.raises(DeployError, match=f"{FOLDER}/batch exists in the workspace and is a DIRECTORY"):
        import_notebooks(client, source, FOLDER)


def test_api_errors_surface_as_sdk_errors(workspace, source):
    wrong = WorkspaceClient(host=workspace.url, token="dapi-wrong", auth_type="pat")
    with pytest.raises(PermissionDenied, match="Invalid access token"):
        import_notebooks(wrong, source, FOLDER)
    assert [o.path for o in workspace.client.workspace.list("/Shared")] == []


def test_a_write_refused_after_the_reads_succeeded_surfaces_as_an_sdk_error(fake_client, fake, source):
    """On the fake: the local workspace has no access control, so it cannot refuse an import to a caller whose
    reads (get-status, mkdirs) it answered; Databricks does for a folder the caller may read but not edit."""
    fake.fail("POST", "/api/2.0/workspace/import", 403, "PERMISSION_DENIED", "no write access to /Shared")
    with pytest.raises(PermissionDenied, match="no write access"):
        import_notebooks(fake_client, source, FOLDER)


def test_an_empty_source_directory_is_an_error(client, tmp_path):
    with pytest.raises(DeployError, match="no Databricks source notebooks"):
        import_notebooks(client, tmp_path, FOLDER)
    with pytest.raises(DeployError, match="does not exist"):
        import_notebooks(client, tmp_path / "missing", FOLDER)


def test_plan_contacts_nothing(source):
    lines = list(plan(source, FOLDER))
    assert f"would ensure folder {FOLDER}/lib" in lines
    assert any(line.startswith(f"would import {source / 'batch.py'} -> {FOLDER}/batch") for line in lines)
    assert any(
        line.startswith(f"would import {source / 'helper.py'} -> {FOLDER}/helper.py (workspace file")
        for line in lines
    )
    assert any("README.txt" in line and line.startswith("skip") for line in lines)
