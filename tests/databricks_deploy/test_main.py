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


def dry_run_settings(out: str) -> dict[str, dict]:
    """The job settings a `deploy-job --dry-run` printed, by job name."""
    chunks = out.split("would create or update job ")[1:]
    return {json.loads(c[c.index("{") :])["name"]: json.loads(c[c.index("{") :]) for c in chunks}


def test_deploy_dry_run_prints_the_settings_of_both_jobs(no_databricks_config, capsys):
    assert main(["deploy-job", "--dry-run", "--user-id", "zed", "--lake-access", "mount"]) == 0
    out = capsys.readouterr()
    jobs = dry_run_settings(out.out)
    assert list(jobs) == ["zed-pinterest-batch", "zed-pinterest-stream"]
    assert jobs["zed-pinterest-batch"]["tasks"][0]["notebook_task"]["base_parameters"] == {
        "user_id": "zed",
        "lake_access": "mount",
        "bucket": "user-zed-bucket",
    }
    stream = jobs["zed-pinterest-stream"]
    assert stream["tasks"][0]["notebook_task"]["notebook_path"] == "/Shared/pinterest-pipeline/stream"
    assert stream["tasks"][0]["notebook_task"]["base_parameters"]["trigger"] == "availableNow"
    assert stream["schedule"]["quartz_cron_expression"] == "0 0 * * * ?"
    for settings in jobs.values():
        assert settings["tasks"][0]["new_cluster"]["spark_version"] == "18.0.x-scala2.13"
        assert "aws_attributes" not in settings["tasks"][0]["new_cluster"]
    # no instance profile anywhere: the stream job cannot reach Kinesis or its checkpoints, and says so
    assert "warning: the stream job cluster has no instance profile" in out.err
    assert "s3://user-zed-bucket/checkpoints/stream" in out.err


def test_instance_profile_and_region_come_from_the_terraform_outputs(aws_outputs, capsys):
    arn = "arn:aws:iam::123456789012:instance-profile/pdp-zed-databricks"
    aws_outputs(databricks_instance_profile_arn=arn, region="eu-west-1", api_key="secret")
    assert main(["deploy-job", "--dry-run", "--user-id", "zed"]) == 0
    out = capsys.readouterr()
    jobs = dry_run_settings(out.out)
    for settings in jobs.values():
        assert settings["tasks"][0]["new_cluster"]["aws_attributes"] == {"instance_profile_arn": arn}
    assert (
        jobs["zed-pinterest-stream"]["tasks"][0]["notebook_task"]["base_parameters"]["region"] == "eu-west-1"
    )
    assert "databricks_instance_profile_arn" in out.err and "warning" not in out.err
    assert "secret" not in out.out + out.err

    flag = "arn:aws:iam::1:instance-profile/other"
    assert main(["deploy-job", "--dry-run", "--instance-profile-arn", flag, "--region", "us-west-2"]) == 0
    jobs = dry_run_settings(capsys.readouterr().out)
    stream = jobs["demo-pinterest-stream"]["tasks"][0]
    assert stream["new_cluster"]["aws_attributes"] == {"instance_profile_arn": flag}
    assert stream["notebook_task"]["base_parameters"]["region"] == "us-west-2"


def test_continuous_stream_only(no_databricks_config, capsys):
    argv = ["deploy-job", "--dry-run", "--only", "stream", "--continuous", "--interval", "5 seconds"]
    assert main(argv) == 0
    (stream,) = dry_run_settings(capsys.readouterr().out).values()
    params = stream["tasks"][0]["notebook_task"]["base_parameters"]
    assert (params["trigger"], params["interval"]) == ("processingTime", "5 seconds")
    assert stream["continuous"] == {"pause_status": "UNPAUSED"} and "schedule" not in stream


def test_a_service_credential_mode_without_a_name_is_a_clear_error(no_databricks_config, capsys):
    assert main(["deploy-job", "--dry-run", "--kinesis-auth", "service_credential"]) == 1
    err = capsys.readouterr().err
    assert "error: stream job: kinesis_auth service_credential needs the name of a service credential" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("command", ["import-notebooks", "deploy-job"])
def test_no_auth_is_a_clear_error_without_traceback(no_databricks_config, capsys, command):
    assert main([command]) == 1
    err = capsys.readouterr().err
    (error,) = [line for line in err.splitlines() if line.startswith("error:")]
    assert error.startswith("error: no Databricks workspace is configured")
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


def test_deploy_job_end_to_end_prints_the_job_ids_and_is_idempotent(env_auth, capsys):
    fake = env_auth
    assert main(["deploy-job", "--user-id", "amy"]) == 0
    first = capsys.readouterr().out.splitlines()
    assert main(["deploy-job", "--user-id", "amy", "--existing-cluster-id", "0101-abc"]) == 0
    second = capsys.readouterr().out.splitlines()
    ids = {job["settings"]["name"]: job_id for job_id, job in fake.jobs.items()}
    assert sorted(ids) == ["amy-pinterest-batch", "amy-pinterest-stream"]
    assert first == [f"created job {name!r}: job_id {job_id}" for name, job_id in ids.items()]
    assert second == [f"updated job {name!r}: job_id {job_id}" for name, job_id in ids.items()]
    for job_id in ids.values():
        (task,) = fake.jobs[job_id]["settings"]["tasks"]
        assert task["existing_cluster_id"] == "0101-abc" and "new_cluster" not in task
        assert task["notebook_task"]["notebook_path"].startswith("/Shared/pinterest-pipeline/")


def test_an_api_error_is_reported_without_traceback(env_auth, capsys):
    env_auth.fail("GET", "/api/2.2/jobs/list", 403, "PERMISSION_DENIED", "cannot list jobs")
    assert main(["deploy-job"]) == 1
    err = capsys.readouterr().err
    assert "\nerror: Databricks API: cannot list jobs" in err


def test_bad_numbers_are_rejected(env_auth, capsys):
    assert main(["deploy-job", "--num-workers", "-1"]) == 1
    assert "--num-workers" in capsys.readouterr().err
    assert env_auth.calls == []
