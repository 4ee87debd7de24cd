"""The bundle (databricks.yml + resources/*.yml) and its loader: the repository's bundle validates for every
target, settings follow variables, targets and modes, and a construct outside the supported subset is a clear
error naming the file and the key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from databricks.bundles.jobs import Job

from databricks_deploy.bundle import REPO_ROOT, BundleError, NeedsCurrentUser, load_bundle

ARN = "arn:aws:iam::123456789012:instance-profile/pdp-demo-databricks"
ME = {"userName": "ada@example.com", "short_name": "ada"}


@pytest.fixture
def bundle_copy(tmp_path: Path) -> Path:
    """A copy of the repository's bundle (its YAML and the notebooks) to edit."""
    root = tmp_path / "bundle"
    (root / "resources").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "databricks.yml", root)
    shutil.copy(REPO_ROOT / "resources" / "pinterest.jobs.yml", root / "resources")
    shutil.copytree(REPO_ROOT / "notebooks", root / "notebooks", ignore=shutil.ignore_patterns("__pycache__"))
    return root


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize("target", ["dev", "prod", "local"])
def test_every_target_validates_with_the_databricks_bundles_job_model(target):
    bundle = load_bundle(target=target, variables={"instance_profile_arn": ARN}, current_user=ME)
    assert set(bundle.jobs) == {"pinterest_batch", "pinterest_stream"}
    for job in bundle.jobs.values():
        model = Job.from_dict(job.settings)  # strict: an unknown field or a wrong type raises
        assert model.as_dict()["name"] == job.name
        (task,) = job.settings["tasks"]
        cluster = job.settings["job_clusters"][0]["new_cluster"]
        assert cluster["spark_version"] == "18.0.x-scala2.13"  # Databricks Runtime 18 LTS
        assert task["notebook_task"]["notebook_path"] == f"{bundle.file_path}/notebooks/{task['task_key']}"
        assert job.notebooks == {
            task["notebook_task"]["notebook_path"]: REPO_ROOT / "notebooks" / f"{task['task_key']}.py"
        }


def test_the_local_target_keeps_the_job_names_the_dag_triggers():
    bundle = load_bundle(target="local")
    batch, stream = bundle.jobs["pinterest_batch"].settings, bundle.jobs["pinterest_stream"].settings
    assert (batch["name"], stream["name"]) == ("demo-pinterest-batch", "demo-pinterest-stream")
    assert batch["schedule"]["pause_status"] == "PAUSED"  # Airflow triggers it
    assert stream["schedule"]["pause_status"] == "PAUSED"  # the local target's override
    assert batch["tasks"][0]["notebook_task"]["base_parameters"] == {
        "user_id": "demo",
        "lake_access": "direct",
        "bucket": "user-demo-bucket",
        "secret_scope": "aws",
    }
    assert bundle.workspace["root_path"] == "/Shared/pinterest-pipeline"


def test_prod_runs_the_stream_hourly_with_the_terraform_instance_profile():
    bundle = load_bundle(target="prod", variables={"instance_profile_arn": ARN, "user_id": "zed"})
    stream = bundle.jobs["pinterest_stream"].settings
    assert stream["name"] == "zed-pinterest-stream"
    assert stream["schedule"] == {
        "quartz_cron_expression": "0 0 * * * ?",
        "timezone_id": "UTC",
        "pause_status": "UNPAUSED",
    }
    params = stream["tasks"][0]["notebook_task"]["base_parameters"]
    assert (params["trigger"], params["bucket"]) == ("availableNow", "user-zed-bucket")
    for job in bundle.jobs.values():
        assert job.settings["job_clusters"][0]["new_cluster"]["aws_attributes"] == {
            "instance_profile_arn": ARN
        }


def test_development_mode_prefixes_tags_and_pauses_and_needs_to_know_who_you_are():
    with pytest.raises(NeedsCurrentUser, match=r"workspace\.current_user\.short_name"):
        load_bundle(target="dev", variables={"instance_profile_arn": ARN})
    bundle = load_bundle(target="dev", variables={"instance_profile_arn": ARN}, current_user=ME)
    stream = bundle.jobs["pinterest_stream"].settings
    assert stream["name"] == "[dev ada] demo-pinterest-stream"
    assert stream["tags"]["dev"] == "ada"
    assert stream["schedule"]["pause_status"] == "PAUSED"
    assert bundle.workspace["file_path"] == "/Shared/.bundle/pinterest_pipeline/dev/files"


def test_a_required_variable_without_a_value_is_an_error_only_where_used():
    with pytest.raises(BundleError, match=r"variables\.instance_profile_arn: no value .*pass --var"):
        load_bundle(target="prod")
    assert load_bundle(target="prod", resolve_jobs=False).file_path == "/Shared/pinterest-pipeline/files"


def test_a_setting_changed_in_the_bundle_changes_the_job(bundle_copy):
    jobs = bundle_copy / "resources" / "pinterest.jobs.yml"
    edit(jobs, "node_type_id: m5d.large", "node_type_id: i3.xlarge")
    edit(jobs, "timeout_seconds: 7200", "timeout_seconds: 600")
    batch = load_bundle(bundle_copy, "local").jobs["pinterest_batch"].settings
    assert batch["job_clusters"][0]["new_cluster"]["node_type_id"] == "i3.xlarge"
    assert batch["timeout_seconds"] == 600


def test_variable_precedence_var_then_environment_then_target_then_default(bundle_copy, monkeypatch):
    def lake_access(**kw: str) -> str:
        job = load_bundle(bundle_copy, "local", kw).jobs["pinterest_batch"]
        return job.settings["tasks"][0]["notebook_task"]["base_parameters"]["lake_access"]

    assert lake_access() == "direct"
    edit(
        bundle_copy / "databricks.yml",
        '      instance_profile_arn: ""',
        '      instance_profile_arn: ""\n      lake_access: mount',
    )
    assert lake_access() == "mount"
    monkeypatch.setenv("BUNDLE_VAR_lake_access", "direct")
    assert lake_access() == "direct"
    assert lake_access(lake_access="mount") == "mount"


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        (
            "databricks.yml",
            "include:",
            "artifacts: {}\ninclude:",
            r"databricks.yml: artifacts: not in the bundle subset",
        ),
        (
            "resources/pinterest.jobs.yml",
            "resources:\n  jobs:",
            "resources:\n  pipelines: {}\n  jobs:",
            r"pinterest.jobs.yml: resources.pipelines: not in the bundle subset",
        ),
        (
            "resources/pinterest.jobs.yml",
            "bucket: ${var.bucket}\n              secret_scope",
            "bucket: ${resources.jobs.pinterest_stream.id}\n              secret_scope",
            r"pinterest.jobs.yml: resources.jobs.pinterest_batch.tasks\[0\].notebook_task.base_parameters.bucket: "
            r"\$\{resources.jobs.pinterest_stream.id\} is outside the supported references",
        ),
        (
            "resources/pinterest.jobs.yml",
            "max_concurrent_runs: 1\n      timeout_seconds: 7200",
            "max_concurrent_runs: 1\n      timeout_seconds: 7200\n      retry_everything: true",
            r"resources.jobs.pinterest_batch: not a valid job \(databricks-bundles\): Unexpected field 'retry_everything'",
        ),
        (
            "resources/pinterest.jobs.yml",
            "../notebooks/batch.py",
            "../notebooks/missing.py",
            r"pinterest_batch.tasks\[0\].notebook_task.notebook_path: '../notebooks/missing.py': no such notebook",
        ),
        (
            "databricks.yml",
            "  user_id:\n",
            "  user_id:\n    lookup: {cluster: x}\n",
            r"variables.user_id.lookup: not in",
        ),
        ("databricks.yml", "mode: production", "mode: staging", r"targets.prod.mode: expected one of"),
        (
            "databricks.yml",
            "    variables:\n      # Locally",
            "    run_as: {user_name: x}\n    variables:\n      # Locally",
            r"targets.local.run_as: not in the bundle subset",
        ),
    ],
)
def test_constructs_outside_the_subset_are_clear_errors(bundle_copy, file, old, new, message):
    edit(bundle_copy / file, old, new)
    target = "prod" if "prod" in message else "local"
    with pytest.raises(BundleError, match=message):
        load_bundle(bundle_copy, target, {"instance_profile_arn": ARN})


def test_an_unknown_target_or_variable_is_an_error(bundle_copy):
    with pytest.raises(BundleError, match="no target 'staging' \\(targets: dev, prod, local\\)"):
        load_bundle(bundle_copy, "staging")
    with pytest.raises(BundleError, match="declares no variable 'colour'"):
        edit(bundle_copy / "resources" / "pinterest.jobs.yml", "${var.lake_access}", "${var.colour}")
        load_bundle(bundle_copy, "local")


def test_the_dag_names_the_bundles_batch_job_and_copies_none_of_its_settings():
    dag = (REPO_ROOT / "airflow" / "dags" / "pinterest_batch.py").read_text()
    job = load_bundle(target="local", variables={"user_id": "jane.doe"}).jobs["pinterest_batch"]
    assert job.name == "jane.doe-pinterest-batch"
    assert (
        "~ '-pinterest-batch'" in dag
        and "f\"{get('pinterest_user_id', DEFAULT_USER_ID)}-pinterest-batch\"" in dag
    )
    for setting in (
        "spark_version",
        "node_type",
        "num_workers",
        "notebook_path",
        "base_parameters",
        "18.0.x",
    ):
        assert setting not in dag, f"the DAG repeats the bundle's {setting}"
