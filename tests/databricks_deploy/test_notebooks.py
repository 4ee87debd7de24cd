"""import-notebooks against the fake workspace: folders, SOURCE imports with the files' bytes, Python modules as
workspace files (AUTO), skip/update."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from databricks.sdk.errors import PermissionDenied

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


def imports(fake) -> dict[str, dict]:
    return {c.body["path"]: c.body for c in fake.calls_to("/api/2.0/workspace/import")}


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


def test_first_import_creates_folders_and_imports_each_file_as_source(client, fake, source, capsys):
    results = import_notebooks(client, source, FOLDER)
    assert results == {
        f"{FOLDER}/batch": "created",
        f"{FOLDER}/helper.py": "created",
        f"{FOLDER}/lib/cleaning": "created",
        f"{FOLDER}/queries": "created",
    }
    assert [c.body["path"] for c in fake.calls_to("/api/2.0/workspace/mkdirs")] == [FOLDER, f"{FOLDER}/lib"]
    module = imports(fake)[f"{FOLDER}/helper.py"]
    assert module["format"] == "AUTO" and "language" not in module
    assert base64.b64decode(module["content"]) == b"import os\n"
    assert fake.workspace[f"{FOLDER}/helper.py"]["object_type"] == "FILE"
    sent = imports(fake)
    assert set(sent) == set(results)
    for local, remote, language in [
        ("batch.py", "batch", "PYTHON"),
        ("lib/cleaning.py", "lib/cleaning", "PYTHON"),
        ("queries.sql", "queries", "SQL"),
    ]:
        body = sent[f"{FOLDER}/{remote}"]
        assert base64.b64decode(body["content"]) == (source / local).read_bytes()
        assert (body["format"], body["language"], body["overwrite"]) == ("SOURCE", language, True)
    out = capsys.readouterr().out
    assert f"created folder {FOLDER}/lib" in out
    assert f"created   {FOLDER}/batch" in out
    assert "skipped" in out and "README.txt" in out


def test_second_run_skips_unchanged_and_updates_only_the_changed_notebook(client, fake, source):
    import_notebooks(client, source, FOLDER)
    fake.calls.clear()
    (source / "lib" / "cleaning.py").write_text(HEADER + "def clean(df):\n    return df.dropDuplicates()\n")

    results = import_notebooks(client, source, FOLDER)

    assert results == {
        f"{FOLDER}/batch": "unchanged",
        f"{FOLDER}/helper.py": "unchanged",
        f"{FOLDER}/lib/cleaning": "updated",
        f"{FOLDER}/queries": "unchanged",
    }
    assert list(imports(fake)) == [f"{FOLDER}/lib/cleaning"]
    assert fake.calls_to("/api/2.0/workspace/mkdirs") == []
    assert "dropDuplicates" in fake.notebook_source(f"{FOLDER}/lib/cleaning")


def test_workspace_normalisation_of_trailing_whitespace_is_not_a_change(client, fake, source):
    fake.add_notebook(f"{FOLDER}/batch", (source / "batch.py").read_text().rstrip("\n") + "  \n\n")
    results = import_notebooks(client, source, FOLDER)
    assert results[f"{FOLDER}/batch"] == "unchanged"


def test_a_folder_where_a_notebook_should_go_is_an_error(client, fake, source):
    fake.handle("POST", "/api/2.0/workspace/mkdirs", {}, {"path": f"{FOLDER}/batch"})
    with pytest.raises(DeployError, match=f"{FOLDER}/batch exists in the workspace and is a DIRECTORY"):
        import_notebooks(client, source, FOLDER)


def test_api_errors_surface_as_sdk_errors(client, fake, source):
    fake.fail("POST", "/api/2.0/workspace/import", 403, "PERMISSION_DENIED", "no write access to /Shared")
    with pytest.raises(PermissionDenied, match="no write access"):
        import_notebooks(client, source, FOLDER)


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
