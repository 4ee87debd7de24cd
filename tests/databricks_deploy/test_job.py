"""deploy-job's settings and its create-or-reset by name against the fake workspace."""

from __future__ import annotations

import pytest

from databricks_deploy.discovery import DeployError
from databricks_deploy.job import deploy_job
from databricks_deploy.job_spec import JobSpec, job_settings

SPEC = JobSpec(user_id="alice", bucket="user-alice-bucket", notebook_path="/Shared/pinterest-pipeline/batch")


def test_settings_run_the_batch_notebook_with_its_widgets_on_a_job_cluster():
    settings = job_settings(SPEC)
    assert settings["name"] == "alice-pinterest-batch"
    (task,) = settings["tasks"]
    assert task["notebook_task"] == {
        "notebook_path": "/Shared/pinterest-pipeline/batch",
        "source": "WORKSPACE",
        "base_parameters": {"user_id": "alice", "lake_access": "direct", "bucket": "user-alice-bucket"},
    }
    assert task["new_cluster"]["spark_version"] == "15.4.x-scala2.12"
    assert task["new_cluster"]["node_type_id"] == "m5d.large"
    assert "existing_cluster_id" not in task
    assert settings["max_concurrent_runs"] == 1


def test_settings_on_an_existing_cluster_with_an_instance_profile_unused():
    spec = JobSpec(**{**SPEC.__dict__, "existing_cluster_id": "0101-xyz", "instance_profile_arn": "arn:x"})
    (task,) = job_settings(spec)["tasks"]
    assert task["existing_cluster_id"] == "0101-xyz"
    assert "new_cluster" not in task


def test_instance_profile_goes_on_the_job_cluster():
    spec = JobSpec(**{**SPEC.__dict__, "instance_profile_arn": "arn:aws:iam::1:instance-profile/dbx"})
    (task,) = job_settings(spec)["tasks"]
    assert task["new_cluster"]["aws_attributes"] == {
        "instance_profile_arn": "arn:aws:iam::1:instance-profile/dbx"
    }


def test_create_then_update_keeps_one_job(client, fake):
    job_id, outcome = deploy_job(client, SPEC)
    assert outcome == "created"
    (create,) = fake.calls_to("/jobs/create")
    assert create.body == job_settings(SPEC)

    moved = JobSpec(**{**SPEC.__dict__, "bucket": "other-bucket", "lake_access": "mount"})
    again_id, outcome = deploy_job(client, moved)
    assert (again_id, outcome) == (job_id, "updated")
    assert len(fake.calls_to("/jobs/create")) == 1
    (reset,) = fake.calls_to("/jobs/reset")
    assert reset.body == {"job_id": job_id, "new_settings": job_settings(moved)}
    assert list(fake.jobs) == [job_id]
    params = fake.jobs[job_id]["settings"]["tasks"][0]["notebook_task"]["base_parameters"]
    assert params == {"user_id": "alice", "lake_access": "mount", "bucket": "other-bucket"}
    assert all(c.query.get("name") == "alice-pinterest-batch" for c in fake.calls_to("/jobs/list"))


def test_a_job_of_another_name_is_left_alone(client, fake):
    other_id, _ = deploy_job(client, JobSpec(**{**SPEC.__dict__, "user_id": "bob", "bucket": "b"}))
    job_id, outcome = deploy_job(client, SPEC)
    assert outcome == "created" and job_id != other_id
    assert {j["settings"]["name"] for j in fake.jobs.values()} == {
        "alice-pinterest-batch",
        "bob-pinterest-batch",
    }


def test_duplicate_jobs_of_the_name_are_an_error(client, fake):
    for _ in range(2):
        fake.handle("POST", "/api/2.2/jobs/create", {}, job_settings(SPEC))
    with pytest.raises(DeployError, match="2 jobs are named 'alice-pinterest-batch'"):
        deploy_job(client, SPEC)
    assert fake.calls_to("/jobs/reset") == []
