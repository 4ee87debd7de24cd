"""The CLI (`python -m databricks_deploy`): help, dry runs with no workspace, the no-auth error, and both
commands end to end against the fake through DATABRICKS_HOST / DATABRICKS_TOKEN."""

from __future__ import annotations

import base64
import json
import subprocess
import sys

import pytest

from databricks_deploy.__main__ import REPO_ROOT, main
from databricks_deploy.discovery import find_notebooks


def repo_notebooks():
    notebooks, _ = find_notebooks(REPO_ROOT / "notebooks", "/Shared/pinterest-pipeline")
    if not notebooks:
        pytest.skip("notebooks/ holds no Databricks source notebook yet")
    return notebooks


@pytest.mark.parametrize("command", [[], ["import-notebooks"], ["deploy-job"]])
def test_help_explains_each_command(command):
    result = subprocess.run(
        [sys.executable, "-m", "databricks_deploy", *command, "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "DATABRICKS_HOST" in result.stdout
    if command:
        assert "--dry-run" in result.stdout and "--folder" in result.stdout


def test_import_dry_run_needs_no_workspace(no_databricks_config, capsys):
    notebooks = repo_notebooks()
    assert main(["import-notebooks", "--dry-run", "--folder", "/Shared/x"]) == 0
    out = capsys.readouterr().out
    for nb in notebooks:
        assert f"-> {nb.remote.replace('/Shared/pinterest-pipeline', '/Shared/x')} " in out


def test_deploy_dry_run_prints_the_settings(no_databricks_config, capsys):
    assert main(["deploy-job", "--dry-run", "--user-id", "zed", "--lake-access", "mount"]) == 0
    out = capsys.readouterr().out
    settings = json.loads(out[out.index("{") :])
    assert settings["name"] == "zed-pinterest-batch"
    assert settings["tasks"][0]["notebook_task"]["base_parameters"] == {
        "user_id": "zed",
        "lake_access": "mount",
        "bucket": "user-zed-bucket",
    }


@pytest.mark.parametrize("command", ["import-notebooks", "deploy-job"])
def test_no_auth_is_a_clear_error_without_traceback(no_databricks_config, capsys, command):
    assert main([command]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: no Databricks workspace is configured")
    assert "DATABRICKS_HOST" in err and "--profile" in err
    assert "Traceback" not in err


def test_unknown_profile_is_a_clear_error(no_databricks_config, capsys):
    assert main(["import-notebooks", "--profile", "nope"]) == 1
    assert "error: no Databricks workspace is configured" in capsys.readouterr().err


def test_profile_from_databrickscfg(fake, tmp_path, monkeypatch, capsys):
    cfg = tmp_path / "databrickscfg"
    cfg.write_text(f"[dev]\nhost = {fake.url}\ntoken = {fake.token}\n")
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(cfg))
    repo_notebooks()
    assert main(["import-notebooks", "--profile", "dev"]) == 0
    assert fake.calls_to("/api/2.0/workspace/import")


def test_import_notebooks_end_to_end_imports_the_repo_notebooks(env_auth, capsys):
    fake = env_auth
    notebooks = repo_notebooks()
    assert main(["import-notebooks"]) == 0
    sent = {c.body["path"]: c.body for c in fake.calls_to("/api/2.0/workspace/import")}
    assert set(sent) == {nb.remote for nb in notebooks}
    for nb in notebooks:
        assert base64.b64decode(sent[nb.remote]["content"]) == nb.local.read_bytes()
    assert f"{len(notebooks)} created" in capsys.readouterr().out

    fake.calls.clear()
    assert main(["import-notebooks"]) == 0
    assert fake.calls_to("/api/2.0/workspace/import") == []
    assert f"{len(notebooks)} unchanged" in capsys.readouterr().out


def test_deploy_job_end_to_end_prints_the_job_id_and_is_idempotent(env_auth, capsys):
    fake = env_auth
    assert main(["deploy-job", "--user-id", "amy"]) == 0
    first = capsys.readouterr().out.split()
    assert main(["deploy-job", "--user-id", "amy", "--existing-cluster-id", "0101-abc"]) == 0
    second = capsys.readouterr().out.split()
    (job_id,) = fake.jobs
    assert first[-1] == second[-1] == str(job_id)
    assert "created" in first and "updated" in second
    (task,) = fake.jobs[job_id]["settings"]["tasks"]
    assert task["existing_cluster_id"] == "0101-abc"
    assert task["notebook_task"]["notebook_path"].startswith("/Shared/pinterest-pipeline/")


def test_an_api_error_is_reported_without_traceback(env_auth, capsys):
    env_auth.fail("GET", "/api/2.2/jobs/list", 403, "PERMISSION_DENIED", "cannot list jobs")
    assert main(["deploy-job"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: Databricks API: cannot list jobs")


def test_bad_numbers_are_rejected(env_auth, capsys):
    assert main(["deploy-job", "--num-workers", "-1"]) == 1
    assert "--num-workers" in capsys.readouterr().err
    assert env_auth.calls == []
