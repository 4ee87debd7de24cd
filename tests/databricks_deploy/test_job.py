"""deploy-job's create-or-reset by name against the fake workspace, with the bundle's job settings."""

from __future__ import annotations

import copy

import pytest

from databricks_deploy.bundle import load_bundle
from databricks_deploy.discovery import DeployError
from databricks_deploy.job import deploy_job

JOBS = load_bundle(
    target="prod", variables={"user_id": "alice", "instance_profile_arn": "arn:aws:iam::1:x"}
).jobs
BATCH = JOBS["pinterest_batch"].settings
STREAM = JOBS["pinterest_stream"].settings


def test_create_then_update_keeps_one_job(client, fake):
    job_id, outcome = deploy_job(client, BATCH)
    assert outcome == "created"
    (create,) = fake.calls_to("/jobs/create")
    assert create.body == BATCH

    moved = copy.deepcopy(BATCH)
    moved["tasks"][0]["notebook_task"]["base_parameters"]["bucket"] = "other-bucket"
    again_id, outcome = deploy_job(client, moved)
    assert (again_id, outcome) == (job_id, "updated")
    assert len(fake.calls_to("/jobs/create")) == 1
    (reset,) = fake.calls_to("/jobs/reset")
    assert reset.body == {"job_id": job_id, "new_settings": moved}
    assert list(fake.jobs) == [job_id]
    assert fake.jobs[job_id]["settings"] == moved
    assert all(c.query.get("name") == "alice-pinterest-batch" for c in fake.calls_to("/jobs/list"))


def test_a_job_of_another_name_is_left_alone(client, fake):
    other_id, _ = deploy_job(client, {**BATCH, "name": "bob-pinterest-batch"})
    job_id, outcome = deploy_job(client, BATCH)
    assert outcome == "created" and job_id != other_id
    assert {j["settings"]["name"] for j in fake.jobs.values()} == {
        "alice-pinterest-batch",
        "bob-pinterest-batch",
    }


def test_duplicate_jobs_of_the_name_are_an_error(client, fake):
    for _ in range(2):
        fake.handle("POST", "/api/2.2/jobs/create", {}, BATCH)
    with pytest.raises(DeployError, match="2 jobs are named 'alice-pinterest-batch'"):
        deploy_job(client, BATCH)
    assert fake.calls_to("/jobs/reset") == []


def test_batch_and_stream_jobs_live_side_by_side(client, fake):
    batch_id, _ = deploy_job(client, BATCH)
    stream_id, outcome = deploy_job(client, STREAM)
    assert outcome == "created" and stream_id != batch_id
    assert fake.jobs[stream_id]["settings"] == STREAM
    assert fake.jobs[batch_id]["settings"] == BATCH
