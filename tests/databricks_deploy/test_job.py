"""deploy-job's create-or-reset by name against the real local workspace, with the bundle's job settings: what
`jobs/get` answers afterwards is what was sent (apart from the defaults a workspace adds to every job).

No fake here: everything these tests need (duplicate names included: Databricks, and the local workspace, accept
several jobs of one name) the real workspace does."""

from __future__ import annotations

import copy

import pytest
from databricks.sdk.service.jobs import JobSettings

from databricks_deploy.bundle import load_bundle
from databricks_deploy.discovery import DeployError
from databricks_deploy.job import deploy_job, find_job

JOBS = load_bundle(
    target="prod", variables={"user_id": "alice", "instance_profile_arn": "arn:aws:iam::1:x"}
).jobs
BATCH = JOBS["pinterest_batch"].settings
STREAM = JOBS["pinterest_stream"].settings


def test_create_then_update_keeps_one_job(client, workspace):
    job_id, outcome = deploy_job(client, BATCH)
    assert outcome == "created"
    assert workspace.jobs() == {"alice-pinterest-batch": job_id}
    assert workspace.settings_as_sent(job_id, BATCH) == BATCH

    moved = copy.deepcopy(BATCH)
    moved["tasks"][0]["notebook_task"]["base_parameters"]["bucket"] = "other-bucket"
    again_id, outcome = deploy_job(client, moved)
    assert (again_id, outcome) == (job_id, "updated")
    assert workspace.jobs() == {"alice-pinterest-batch": job_id}
    assert workspace.settings_as_sent(job_id, moved) == moved
    assert find_job(client, "alice-pinterest-batch") == job_id


def test_a_job_of_another_name_is_left_alone(client, workspace):
    other = {**BATCH, "name": "bob-pinterest-batch"}
    other_id, _ = deploy_job(client, other)
    job_id, outcome = deploy_job(client, BATCH)
    assert outcome == "created" and job_id != other_id
    assert workspace.jobs() == {"alice-pinterest-batch": job_id, "bob-pinterest-batch": other_id}
    assert workspace.settings_as_sent(other_id, other) == other


def test_duplicate_jobs_of_the_name_are_an_error(client, workspace):
    stale = copy.deepcopy(BATCH)
    stale["tasks"][0]["notebook_task"]["base_parameters"]["bucket"] = "stale-bucket"
    ids = [client.jobs.create(**JobSettings.from_dict(stale).as_shallow_dict()).job_id for _ in range(2)]
    with pytest.raises(DeployError, match="2 jobs are named 'alice-pinterest-batch'"):
        deploy_job(client, BATCH)
    assert sorted(j.job_id for j in client.jobs.list()) == sorted(ids)
    for job_id in ids:  # neither was reset
        assert workspace.settings_as_sent(job_id, stale) == stale


def test_batch_and_stream_jobs_live_side_by_side(client, workspace):
    batch_id, _ = deploy_job(client, BATCH)
    stream_id, outcome = deploy_job(client, STREAM)
    assert outcome == "created" and stream_id != batch_id
    assert workspace.settings_as_sent(stream_id, STREAM) == STREAM
    assert workspace.settings_as_sent(batch_id, BATCH) == BATCH
