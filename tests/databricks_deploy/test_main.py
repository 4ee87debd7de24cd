"""The CLI (`python -m databricks_deploy`): help, dry runs with no workspace, the no-auth error, and both
commands end to end against the real local workspace, through DATABRICKS_HOST / DATABRICKS_TOKEN, a
~/.databrickscfg profile and the local stack's outputs (`--target local`), checked through its API: what
deploy-job creates is the bundle's jobs except the fields a deploy resolves.

One test stays on the fake (`tests/support/fake_databricks.py`): an API that fails in the middle of a command (a
500 from `jobs/list` after the workspace answered), which the local workspace cannot be made to answer; its one
real API error, a wrong token, is tested on it."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from databricks.sdk.service.workspace import ExportFormat

from databricks_deploy.__main__ import REPO_ROOT, main
from databricks_deploy.bundle import load_bundle
from databricks_deploy.discovery import find_notebooks
from tests.databricks_deploy.local_workspace import SERVER_DEFAULTS

ARN = "arn:aws:iam::123456789012:instance-profile/pdp-zed-databricks"
PROD_FOLDER = "/Shared/pinterest-pipeline/files/notebooks"


def repo_notebooks(folder: str = PROD_FOLDER):
    notebooks, _ = find_notebooks(REPO_ROOT / "notebooks", folder)
    return notebooks


def dry_run_settings(out: str) -> dict[str, dict]:
    """The job settings a `deploy-job --dry-run` printed, by job name."""
    chunks = out.split("would create or update job ")[1:]
    return {json.loads(c[c.index("\n{") :])["name"]: json.loads(c[c.index("\n{") :]) for c in chunks}


def write_local_outputs(state: Path, host: str, token: str) -> None:
    """`<state dir>/outputs/local.json` as the local stack writes it (the workspace's two outputs)."""
    path = state / "outputs" / "local.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "databricks_host": {"sensitive": False, "type": "string", "value": host},
                "databricks_token": {"sensitive": True, "type": "string", "value": token},
            }
        )
    )


def assert_deployed_equals_bundle(stored: dict[str, Any], key: str) -> None:
    """`stored` (what the workspace holds) equals the bundle's YAML job `key`, except what a deploy resolves:
    `${...}` references and the notebook path (relative to the YAML file -> a workspace path)."""
    raw = yaml.safe_load((REPO_ROOT / "resources" / "pinterest.jobs.yml").read_text())["resources"]["jobs"][
        key
    ]

    def compare(ours: Any, theirs: Any, where: str) -> None:
        if isinstance(ours, dict):
            assert isinstance(theirs, dict) and set(theirs) >= set(ours), where
            for name, value in ours.items():
                compare(value, theirs[name], f"{where}.{name}")
        elif isinstance(ours, list):
            assert isinstance(theirs, list) and len(theirs) == len(ours), where
            for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
                compare(a, b, f"{where}[{i}]")
        elif isinstance(ours, str) and "${" in ours:
            pattern = re.escape(ours)
            pattern = re.sub(r"\\\$\\\{[^}]*\\\}", ".*", pattern)
            assert re.fullmatch(pattern, str(theirs)), (where, ours, theirs)
        elif where.endswith("notebook_path"):
            assert theirs == f"{PROD_FOLDER}/{Path(ours).stem}", where
        else:
            assert theirs == ours, (where, ours, theirs)

    compare(raw, stored, key)
    added = set(stored) - set(raw)
    assert added <= SERVER_DEFAULTS, f"the deploy added top-level settings {added - SERVER_DEFAULTS}"


@pytest.mark.parametrize("command", [[], ["import-notebooks"], ["deploy-job"]])
def test_help_explains_each_command(command):
    result = subprocess.run(
        [sys.executable, "-m", "databricks_deploy", *command, "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "DATABRICKS_HOST" in result.stdout and "bundle deploy -t" in result.stdout
    if command:
        assert "--dry-run" in result.stdout and "--target" in result.stdout


def test_import_dry_run_needs_no_workspace_and_follows_the_target(no_databricks_config, capsys):
    assert main(["import-notebooks", "--dry-run", "--target", "local"]) == 0
    out = capsys.readouterr().out
    for nb in repo_notebooks():
        assert f"-> {nb.remote} " in out
    assert main(["import-notebooks", "--dry-run"]) == 0  # dev: the default target
    assert "-> /Shared/.bundle/pinterest_pipeline/dev/files/notebooks/batch " in capsys.readouterr().out


def test_deploy_dry_run_prints_the_bundles_jobs(no_databricks_config, capsys, monkeypatch):
    monkeypatch.setenv("USER_ID", "zed")
    assert main(["deploy-job", "--dry-run", "-t", "local", "--var", "lake_access=mount"]) == 0
    jobs = dry_run_settings(capsys.readouterr().out)
    bundle = load_bundle(target="local", variables={"user_id": "zed", "lake_access": "mount"})
    assert jobs == {job.name: job.settings for job in bundle.jobs.values()}
    assert list(jobs) == ["zed-pinterest-batch", "zed-pinterest-stream"]
    params = jobs["zed-pinterest-batch"]["tasks"][0]["notebook_task"]["base_parameters"]
    assert params["lake_access"] == "mount" and params["bucket"] == "user-zed-bucket"


def test_development_target_dry_run_shows_the_personal_prefix(aws_outputs, capsys):
    aws_outputs(databricks_instance_profile_arn=ARN)
    assert main(["deploy-job", "--dry-run", "--only", "batch"]) == 0
    (name,) = dry_run_settings(capsys.readouterr().out)
    assert name == "[dev <you>] demo-pinterest-batch"


def test_instance_profile_and_region_come_from_the_terraform_outputs(aws_outputs, capsys):
    aws_outputs(databricks_instance_profile_arn=ARN, region="eu-west-1", api_key="fake-api-key")
    assert main(["deploy-job", "--dry-run", "-t", "prod"]) == 0
    out = capsys.readouterr()
    jobs = dry_run_settings(out.out)
    for settings in jobs.values():
        assert settings["job_clusters"][0]["new_cluster"]["aws_attributes"] == {"instance_profile_arn": ARN}
    assert (
        jobs["demo-pinterest-stream"]["tasks"][0]["notebook_task"]["base_parameters"]["region"] == "eu-west-1"
    )
    assert "databricks_instance_profile_arn" in out.err
    assert "fake-api-key" not in out.out + out.err

    flag = "arn:aws:iam::1:instance-profile/other"
    assert main(["deploy-job", "--dry-run", "-t", "prod", "--var", f"instance_profile_arn={flag}"]) == 0
    jobs = dry_run_settings(capsys.readouterr().out)
    assert jobs["demo-pinterest-stream"]["job_clusters"][0]["new_cluster"]["aws_attributes"] == {
        "instance_profile_arn": flag
    }


def test_a_real_target_without_an_instance_profile_is_a_clear_error(no_databricks_config, capsys):
    assert main(["deploy-job", "--dry-run", "-t", "prod"]) == 1
    err = capsys.readouterr().err
    assert "variables.instance_profile_arn: no value" in err and "make apply" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("command", ["import-notebooks", "deploy-job"])
def test_no_auth_is_a_clear_error_without_traceback(no_databricks_config, capsys, command):
    assert main([command, "-t", "prod", "--var", "instance_profile_arn=x"]) == 1
    err = capsys.readouterr().err
    (error,) = [line for line in err.splitlines() if line.startswith("error:")]
    assert error.startswith("error: no Databricks workspace is configured")
    assert "DATABRICKS_HOST" in err and "--profile" in err
    assert "Traceback" not in err


def test_the_local_target_without_a_stack_is_a_clear_error(no_databricks_config, capsys):
    assert main(["deploy-job", "-t", "local"]) == 1
    assert "make local-up" in capsys.readouterr().err


def test_profile_from_databrickscfg(workspace, tmp_path, monkeypatch, capsys):
    cfg = tmp_path / "databrickscfg"
    cfg.write_text(f"[dev]\nhost = {workspace.url}\ntoken = {workspace.token}\n")
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(cfg))
    assert main(["import-notebooks", "-t", "prod", "--profile", "dev"]) == 0
    for nb in repo_notebooks():
        assert workspace.client.workspace.get_status(nb.remote).object_type.value == nb.kind


def test_import_notebooks_end_to_end_imports_the_repo_notebooks(env_auth, capsys):
    client = env_auth.client
    notebooks = repo_notebooks()
    assert main(["import-notebooks", "-t", "prod"]) == 0
    stored = {o.path: o for o in client.workspace.list(PROD_FOLDER, recursive=True)}
    assert set(stored) == {nb.remote for nb in notebooks}
    for nb in notebooks:
        assert stored[nb.remote].object_type.value == nb.kind
        exported = client.workspace.export(nb.remote, format=ExportFormat.SOURCE).content or ""
        assert base64.b64decode(exported) == nb.local.read_bytes()
    assert f"{len(notebooks)} created" in capsys.readouterr().out

    assert main(["import-notebooks", "-t", "prod"]) == 0
    again = {o.path: o.modified_at for o in client.workspace.list(PROD_FOLDER, recursive=True)}
    assert again == {path: o.modified_at for path, o in stored.items()}  # nothing was written again
    assert f"{len(notebooks)} unchanged" in capsys.readouterr().out


def test_deploy_job_creates_the_bundles_jobs_and_is_idempotent(env_auth, capsys):
    argv = ["deploy-job", "-t", "prod", "--var", f"instance_profile_arn={ARN}"]
    assert main(argv) == 0
    first = capsys.readouterr().out.splitlines()
    ids = env_auth.jobs()
    assert main(argv) == 0
    second = capsys.readouterr().out.splitlines()
    assert env_auth.jobs() == ids  # the same two jobs, reset
    assert sorted(ids) == ["demo-pinterest-batch", "demo-pinterest-stream"]
    assert first == [f"created job {name!r}: job_id {job_id}" for name, job_id in ids.items()]
    assert second == [f"updated job {name!r}: job_id {job_id}" for name, job_id in ids.items()]
    for key, name in [
        ("pinterest_batch", "demo-pinterest-batch"),
        ("pinterest_stream", "demo-pinterest-stream"),
    ]:
        assert_deployed_equals_bundle(env_auth.settings(ids[name]), key)


def test_the_local_target_reads_host_and_token_from_the_stacks_outputs(workspace, tmp_path, capsys):
    write_local_outputs(tmp_path / "state", workspace.url, workspace.token)
    assert main(["import-notebooks", "-t", "local"]) == 0
    assert main(["deploy-job", "-t", "local", "--only", "batch"]) == 0
    assert "created job 'demo-pinterest-batch'" in capsys.readouterr().out
    (job_id,) = workspace.jobs().values()
    job = workspace.client.jobs.get(job_id).settings
    assert job.name == "demo-pinterest-batch"
    notebook = job.tasks[0].notebook_task.notebook_path
    status = workspace.client.workspace.get_status(notebook)  # the job runs what the import put there
    assert status.object_type.value == "NOTEBOOK" and status.language.value == "PYTHON"
    source = workspace.client.workspace.export(notebook, format=ExportFormat.SOURCE).content or ""
    assert base64.b64decode(source) == (REPO_ROOT / "notebooks" / "batch.py").read_bytes()


def test_a_setting_changed_in_the_bundle_changes_what_deploy_creates(env_auth, tmp_path, capsys):
    root = tmp_path / "bundle"
    shutil.copytree(REPO_ROOT / "resources", root / "resources")
    shutil.copy(REPO_ROOT / "databricks.yml", root)
    shutil.copytree(REPO_ROOT / "notebooks", root / "notebooks")
    jobs = root / "resources" / "pinterest.jobs.yml"
    jobs.write_text(jobs.read_text().replace("num_workers: 1", "num_workers: 3"))
    assert main(["deploy-job", "--bundle", str(root), "-t", "prod", "--var", "instance_profile_arn=x"]) == 0
    ids = env_auth.jobs()
    assert len(ids) == 2
    for job_id in ids.values():
        assert env_auth.client.jobs.get(job_id).settings.job_clusters[0].new_cluster.num_workers == 3


def test_a_wrong_token_is_reported_without_traceback(workspace, monkeypatch, capsys):
    monkeypatch.setenv("DATABRICKS_HOST", workspace.url)
    monkeypatch.setenv("DATABRICKS_TOKEN", "dapi-wrong")
    assert main(["deploy-job", "-t", "prod", "--var", "instance_profile_arn=x"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: Databricks API: Invalid access token.") and "Traceback" not in err
    assert "dapi-wrong" not in err
    assert workspace.jobs() == {}


def test_an_api_failure_mid_command_is_reported_without_traceback(fake, monkeypatch, capsys):
    """On the fake: the local workspace cannot be made to fail `jobs/list` with a 500 while it answers the rest."""
    monkeypatch.setenv("DATABRICKS_HOST", fake.url)
    monkeypatch.setenv("DATABRICKS_TOKEN", fake.token)
    fake.fail("GET", "/api/2.2/jobs/list", 500, "INTERNAL_ERROR", "cannot list jobs")
    assert main(["deploy-job", "-t", "prod", "--var", "instance_profile_arn=x"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: Databricks API: cannot list jobs") and "Traceback" not in err
    assert fake.jobs == {}


def test_an_unknown_job_in_only_is_an_error(no_databricks_config, capsys):
    assert main(["deploy-job", "--dry-run", "-t", "local", "--only", "nightly"]) == 1
    assert "the bundle's jobs are pinterest_batch, pinterest_stream" in capsys.readouterr().err
