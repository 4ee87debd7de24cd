"""The local workspace's REST API through `databricks-sdk` (and raw HTTP where the point is the wire): imports and
exports in every format, listing, status, deletion, jobs CRUD, secrets, tokens, unknown endpoints, and state kept
across a restart. No run here (see test_workspace_runs.py): nothing starts Spark."""

from __future__ import annotations

import base64
import json
import os
import stat

import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import (
    InvalidParameterValue,
    NotFound,
    PermissionDenied,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
    Unauthenticated,
)
from databricks.sdk.service import jobs
from databricks.sdk.service.workspace import ExportFormat, ImportFormat, Language, ObjectType

from databricks_local.workspace import SecretFileStore, load_secret_store
from databricks_local.workspace.secrets import write_secret_store

NOTEBOOK = (
    b"# Databricks notebook source\nprint('hello')\n\n# COMMAND ----------\n\n# MAGIC %md\n# MAGIC # Title\n"
)
MODULE = b"def double(x):\n    return 2 * x\n"


def test_import_auto_makes_notebooks_of_headed_sources_and_files_of_the_rest(workspace) -> None:
    w: WorkspaceClient = workspace.client
    w.workspace.mkdirs("/Users/me@example.com/proj")
    w.workspace.upload("/Users/me@example.com/proj/etl.py", NOTEBOOK, format=ImportFormat.AUTO)
    w.workspace.upload("/Users/me@example.com/proj/helpers.py", MODULE, format=ImportFormat.AUTO)
    w.workspace.upload("/Users/me@example.com/proj/data.csv", b"a,b\n1,2\n", format=ImportFormat.RAW)

    notebook = w.workspace.get_status("/Users/me@example.com/proj/etl")  # the extension is dropped
    assert (notebook.object_type, notebook.language) == (ObjectType.NOTEBOOK, Language.PYTHON)
    module = w.workspace.get_status("/Users/me@example.com/proj/helpers.py")
    assert (module.object_type, module.size) == (ObjectType.FILE, len(MODULE))
    listed = {o.path: o.object_type for o in w.workspace.list("/Users/me@example.com/proj")}
    assert listed == {
        "/Users/me@example.com/proj/etl": ObjectType.NOTEBOOK,
        "/Users/me@example.com/proj/helpers.py": ObjectType.FILE,
        "/Users/me@example.com/proj/data.csv": ObjectType.FILE,
    }
    assert w.workspace.download("/Users/me@example.com/proj/etl").read() == NOTEBOOK
    assert w.workspace.download("/Users/me@example.com/proj/helpers.py").read() == MODULE
    # a name without extension is a notebook when its header says so, a file otherwise
    w.workspace.upload("/Users/me@example.com/proj/bare", NOTEBOOK, format=ImportFormat.AUTO)
    w.workspace.upload("/Users/me@example.com/proj/README", b"notes", format=ImportFormat.AUTO)
    assert w.workspace.get_status("/Users/me@example.com/proj/bare").object_type == ObjectType.NOTEBOOK
    assert w.workspace.get_status("/Users/me@example.com/proj/README").object_type == ObjectType.FILE
    w.workspace.delete("/Users/me@example.com/proj/bare")
    w.workspace.delete("/Users/me@example.com/proj/README")
    # the /Workspace prefix names the same objects
    assert w.workspace.get_status("/Workspace/Users/me@example.com/proj/etl").object_id == notebook.object_id
    # what is imported is what a run executes: the same bytes on disk, 0600
    disk = workspace.config.databricks_dir / "files" / "Users/me@example.com/proj"
    assert (disk / "etl.py").read_bytes() == NOTEBOOK and (disk / "helpers.py").read_bytes() == MODULE
    assert stat.S_IMODE(os.stat(disk / "etl.py").st_mode) == 0o600


def test_source_and_jupyter_imports_export_in_either_format(workspace) -> None:
    w: WorkspaceClient = workspace.client
    w.workspace.mkdirs("/Shared/fmt")
    w.workspace.import_(
        "/Shared/fmt/src",
        content=base64.b64encode(b"print(1)\n").decode(),
        format=ImportFormat.SOURCE,
        language=Language.PYTHON,
    )
    exported = w.workspace.export("/Shared/fmt/src", format=ExportFormat.SOURCE)
    assert base64.b64decode(exported.content) == b"print(1)\n"
    as_jupyter = json.loads(
        base64.b64decode(w.workspace.export("/Shared/fmt/src", format=ExportFormat.JUPYTER).content)
    )
    assert [c["source"] for c in as_jupyter["cells"]] == [["print(1)"]]

    ipynb = {
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": ["# T"]},
            {
                "cell_type": "code",
                "metadata": {},
                "outputs": [],
                "execution_count": None,
                "source": ["x = 1"],
            },
        ],
        "metadata": {"language_info": {"name": "python"}},
        "nbformat": 4,
        "nbformat_minor": 0,
    }
    w.workspace.upload("/Shared/fmt/nb.ipynb", json.dumps(ipynb).encode(), format=ImportFormat.JUPYTER)
    assert w.workspace.get_status("/Shared/fmt/nb").object_type == ObjectType.NOTEBOOK
    source = base64.b64decode(
        w.workspace.export("/Shared/fmt/nb", format=ExportFormat.SOURCE).content
    ).decode()
    assert (
        source == "# Databricks notebook source\n# MAGIC %md\n# MAGIC # T\n\n# COMMAND ----------\n\nx = 1\n"
    )
    with pytest.raises(InvalidParameterValue, match="language"):
        w.workspace.import_("/Shared/fmt/nolang", content="eA==", format=ImportFormat.SOURCE)


def test_overwrite_parents_and_conflicts_answer_as_databricks(workspace) -> None:
    w: WorkspaceClient = workspace.client
    w.workspace.mkdirs("/Shared/ow")
    w.workspace.upload("/Shared/ow/a.txt", b"1", format=ImportFormat.RAW)
    with pytest.raises(ResourceAlreadyExists, match=r"Path \(/Shared/ow/a.txt\) already exists"):
        w.workspace.upload("/Shared/ow/a.txt", b"2", format=ImportFormat.RAW)
    w.workspace.upload("/Shared/ow/a.txt", b"2", format=ImportFormat.RAW, overwrite=True)
    assert w.workspace.download("/Shared/ow/a.txt").read() == b"2"
    with pytest.raises(ResourceDoesNotExist, match="parent folder"):
        w.workspace.upload("/Shared/missing/b.txt", b"1", format=ImportFormat.RAW)
    w.workspace.upload(
        "/Shared/ow/nb.py", NOTEBOOK, format=ImportFormat.AUTO
    )  # notebook /Shared/ow/nb, nb.py on disk
    with pytest.raises(ResourceAlreadyExists):
        w.workspace.upload("/Shared/ow/nb.py", MODULE, format=ImportFormat.RAW)


def test_delete_needs_recursive_for_a_folder_with_content(workspace) -> None:
    w: WorkspaceClient = workspace.client
    w.workspace.mkdirs("/Shared/del/sub")
    w.workspace.upload("/Shared/del/sub/x.py", MODULE, format=ImportFormat.AUTO)
    response = workspace.api("POST", "/api/2.0/workspace/delete", json={"path": "/Shared/del"})
    assert response.status_code == 400 and response.json()["error_code"] == "DIRECTORY_NOT_EMPTY"
    w.workspace.delete("/Shared/del", recursive=True)
    with pytest.raises(ResourceDoesNotExist, match=r"Path \(/Shared/del/sub/x.py\) doesn't exist"):
        w.workspace.get_status("/Shared/del/sub/x.py")
    assert not (workspace.config.databricks_dir / "files" / "Shared/del").exists()


def test_current_user_and_the_folders_a_new_workspace_has(workspace) -> None:
    w: WorkspaceClient = workspace.client
    me = w.current_user.me()
    assert me.user_name == "local-user@localhost" and me.active
    home = w.workspace.get_status(f"/Users/{me.user_name}")
    assert home.object_type == ObjectType.DIRECTORY
    assert {"/Shared", "/Users"} <= {o.path for o in w.workspace.list("/")}


def test_tokens_errors_and_unknown_endpoints(workspace) -> None:
    missing = workspace.api("GET", "/api/2.0/workspace/list?path=/", token=None)
    assert missing.status_code == 401 and missing.json() == {  # Databricks' answer (without its [ReqId: ...])
        "error_code": 401,
        "message": "Credential was not sent or was of an unsupported type for this API.",
    }
    wrong = workspace.api("GET", "/api/2.0/workspace/list?path=/", token="dapi-wrong-token")
    assert wrong.status_code == 403 and wrong.json() == {
        "error_code": 403,
        "message": "Invalid access token.",
    }
    with pytest.raises(PermissionDenied):
        WorkspaceClient(host=workspace.url, token="dapi-wrong").workspace.get_status("/")
    with pytest.raises(Unauthenticated):
        WorkspaceClient(host=workspace.url, username="someone", password="x").workspace.get_status("/")
    unknown = workspace.api("GET", "/api/2.0/clusters/list")
    assert unknown.status_code == 404
    assert unknown.json() == {
        "error_code": "ENDPOINT_NOT_FOUND",
        "message": "No API found for 'GET /api/2.0/clusters/list'",
    }
    with pytest.raises(NotFound):
        workspace.client.clusters.get("abc")
    bad = workspace.api("POST", "/api/2.1/jobs/create", data=b"{not json")
    assert bad.status_code == 400 and bad.json()["error_code"] == "MALFORMED_REQUEST"


def notebook_job(name: str, path: str = "/Shared/jobs/nb", **params: str) -> dict:
    return {
        "name": name,
        "tasks": [{"task_key": "main", "notebook_task": {"notebook_path": path, "base_parameters": params}}],
        "max_concurrent_runs": 1,
    }


def test_jobs_crud_with_sdk(workspace) -> None:
    w: WorkspaceClient = workspace.client
    created = w.jobs.create(
        name="batch",
        tasks=[jobs.Task(task_key="main", notebook_task=jobs.NotebookTask(notebook_path="/Shared/jobs/nb"))],
        parameters=[jobs.JobParameterDefinition(name="day", default="2024-01-01")],
        schedule=jobs.CronSchedule(
            quartz_cron_expression="0 0 1 * * ?", timezone_id="UTC", pause_status=jobs.PauseStatus.PAUSED
        ),
        tags={"team": "data"},
    )
    other = w.jobs.create(
        **{
            k: v
            for k, v in jobs.JobSettings.from_dict(notebook_job("stream")).__dict__.items()
            if v is not None
        }
    )
    job = w.jobs.get(created.job_id)
    assert job.settings.name == "batch" and job.settings.schedule.pause_status == jobs.PauseStatus.PAUSED
    assert job.settings.tasks[0].notebook_task.notebook_path == "/Shared/jobs/nb"
    assert [j.job_id for j in w.jobs.list(name="batch")] == [created.job_id]
    listed = {j.job_id: j for j in w.jobs.list()}
    assert set(listed) >= {created.job_id, other.job_id}
    assert not listed[created.job_id].settings.tasks  # without expand_tasks
    assert next(iter(w.jobs.list(name="batch", expand_tasks=True))).settings.tasks[0].task_key == "main"

    w.jobs.update(
        created.job_id, new_settings=jobs.JobSettings(max_concurrent_runs=3), fields_to_remove=["tags"]
    )
    updated = w.jobs.get(created.job_id).settings
    assert updated.max_concurrent_runs == 3 and updated.tags is None and updated.name == "batch"
    w.jobs.reset(created.job_id, new_settings=jobs.JobSettings.from_dict(notebook_job("batch-renamed")))
    assert w.jobs.get(created.job_id).settings.name == "batch-renamed"
    assert not w.jobs.get(created.job_id).settings.parameters

    w.jobs.delete(other.job_id)
    with pytest.raises(ResourceDoesNotExist, match=f"Job {other.job_id} does not exist"):
        w.jobs.get(other.job_id)
    with pytest.raises(InvalidParameterValue, match="Job 424242 does not exist"):
        w.jobs.run_now(424242)
    with pytest.raises(ResourceDoesNotExist, match="Run 99 does not exist"):
        w.jobs.get_run(99)
    with pytest.raises(InvalidParameterValue, match="only notebook_task"):
        w.jobs.create(
            name="py",
            tasks=[jobs.Task(task_key="t", spark_python_task=jobs.SparkPythonTask(python_file="x.py"))],
        )
    # the same answers on Jobs 2.2
    assert (
        workspace.api("GET", f"/api/2.2/jobs/get?job_id={created.job_id}").json()["settings"]["name"]
        == "batch-renamed"
    )


def test_job_and_run_lists_come_in_pages(workspace) -> None:
    ids = [
        workspace.api("POST", "/api/2.1/jobs/create", json=notebook_job("paged")).json()["job_id"]
        for _ in "abc"
    ]
    first = workspace.api("GET", "/api/2.1/jobs/list?name=paged&limit=2").json()
    assert [j["job_id"] for j in first["jobs"]] == ids[:2]
    assert (first["has_more"], first["next_page_token"], "prev_page_token" in first) == (True, "2", False)
    second = workspace.api("GET", "/api/2.1/jobs/list?name=paged&limit=2&page_token=2").json()
    assert second == {"has_more": False, "jobs": second["jobs"], "prev_page_token": "0"}
    assert [j["job_id"] for j in second["jobs"]] == ids[2:]
    assert [
        j.job_id for j in workspace.client.jobs.list(name="paged", limit=1)
    ] == ids  # the SDK follows tokens
    assert workspace.api("GET", "/api/2.1/jobs/list?name=paged&offset=3").json() == {
        "has_more": False,
        "prev_page_token": "0",
    }
    too_many = workspace.api("GET", "/api/2.1/jobs/list?limit=101")
    assert too_many.status_code == 400 and "limit must be between 1 and 100, got 101" in too_many.text
    runs = workspace.api("GET", f"/api/2.1/jobs/runs/list?job_id={ids[0]}").json()
    assert runs == {"has_more": False}
    too_many = workspace.api("GET", f"/api/2.1/jobs/runs/list?job_id={ids[0]}&limit=26")
    assert too_many.status_code == 400 and "limit must be between 1 and 25, got 26" in too_many.text
    bad_token = workspace.api("GET", "/api/2.1/jobs/list?page_token=abc")
    assert bad_token.status_code == 400 and "Invalid page token: abc" in bad_token.text


def test_secrets_roundtrip_and_the_runtime_reader(workspace, tmp_path) -> None:
    w: WorkspaceClient = workspace.client
    w.secrets.create_scope("pipeline")
    with pytest.raises(ResourceAlreadyExists):
        w.secrets.create_scope("pipeline")
    w.secrets.put_secret("pipeline", "aws-key", string_value="AKIA-local")
    w.secrets.put_secret("pipeline", "blob", bytes_value=base64.b64encode(b"bytes!").decode())
    assert [s.name for s in w.secrets.list_scopes()] == ["pipeline"]
    assert sorted(s.key for s in w.secrets.list_secrets("pipeline")) == ["aws-key", "blob"]
    assert base64.b64decode(w.secrets.get_secret("pipeline", "aws-key").value) == b"AKIA-local"
    w.secrets.delete_secret("pipeline", "blob")
    assert [s.key for s in w.secrets.list_secrets("pipeline")] == ["aws-key"]
    with pytest.raises(ResourceDoesNotExist, match="Scope nope does not exist"):
        w.secrets.list_secrets("nope")
    w.secrets.create_scope("gone")
    w.secrets.delete_scope("gone")
    assert [s.name for s in w.secrets.list_scopes()] == ["pipeline"]

    path = tmp_path / "secrets.json"
    write_secret_store(path, {"pipeline": {"aws-key": "AKIA-local"}})
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_secret_store(path) == {"pipeline": {"aws-key": "AKIA-local"}}
    store = SecretFileStore.from_environment({"DATABRICKS_LOCAL_SECRETS_FILE": str(path)})
    assert store is not None and store.get("pipeline", "aws-key") == "AKIA-local"
    assert (store.list_scopes(), store.list_keys("pipeline"), store.get("pipeline", "x")) == (
        ["pipeline"],
        ["aws-key"],
        None,
    )
    assert SecretFileStore.from_environment({}) is None
    path.write_text("[]")
    with pytest.raises(RuntimeError, match="secrets file"):
        load_secret_store(path)


def test_a_restart_keeps_files_jobs_and_secrets(workspace) -> None:
    w: WorkspaceClient = workspace.client
    w.workspace.mkdirs("/Shared/keep")
    w.workspace.upload("/Shared/keep/nb.py", NOTEBOOK, format=ImportFormat.AUTO)
    job = w.jobs.create(
        **{
            k: v
            for k, v in jobs.JobSettings.from_dict(notebook_job("kept")).__dict__.items()
            if v is not None
        }
    )
    w.secrets.create_scope("kept")
    w.secrets.put_secret("kept", "k", string_value="v")
    token = workspace.token
    workspace.stop()
    workspace.start()
    assert workspace.config.databricks_token_file.read_text().strip() == token  # the same token
    assert w.workspace.download("/Shared/keep/nb").read() == NOTEBOOK
    assert w.jobs.get(job.job_id).settings.name == "kept"
    assert base64.b64decode(w.secrets.get_secret("kept", "k").value) == b"v"
    db = workspace.config.databricks_dir / "workspace.db"
    assert stat.S_IMODE(os.stat(db).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(workspace.config.databricks_token_file).st_mode) == 0o600
    new = w.jobs.create(
        **{
            k: v
            for k, v in jobs.JobSettings.from_dict(notebook_job("after")).__dict__.items()
            if v is not None
        }
    )
    assert new.job_id > job.job_id  # ids go on, never reused
