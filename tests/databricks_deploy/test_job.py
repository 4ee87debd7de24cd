"""deploy-job's settings (batch and stream jobs) and its create-or-reset by name against the fake workspace."""

from __future__ import annotations

import pytest

from databricks_deploy.discovery import DeployError
from databricks_deploy.job import deploy_job
from databricks_deploy.job_spec import JobSpec, StreamJobSpec, job_settings

SPEC = JobSpec(user_id="alice", bucket="user-alice-bucket", notebook_path="/Shared/pinterest-pipeline/batch")
STREAM = StreamJobSpec(
    user_id="alice", bucket="user-alice-bucket", notebook_path="/Shared/pinterest-pipeline/stream"
)


def test_settings_run_the_batch_notebook_with_its_widgets_on_a_job_cluster():
    settings = job_settings(SPEC)
    assert settings["name"] == "alice-pinterest-batch"
    (task,) = settings["tasks"]
    assert task["notebook_task"] == {
        "notebook_path": "/Shared/pinterest-pipeline/batch",
        "source": "WORKSPACE",
        "base_parameters": {"user_id": "alice", "lake_access": "direct", "bucket": "user-alice-bucket"},
    }
    assert task["new_cluster"]["spark_version"] == "18.0.x-scala2.13"  # Databricks Runtime 18 LTS, Spark 4.1
    assert task["new_cluster"]["node_type_id"] == "m5d.large"
    assert "existing_cluster_id" not in task
    assert task["new_cluster"]["data_security_mode"] == "SINGLE_USER"
    assert settings["max_concurrent_runs"] == 1
    assert "schedule" not in settings and "continuous" not in settings  # Airflow triggers it


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


# --- the stream job ----------------------------------------------------------------------------------------
def test_stream_job_drains_the_streams_hourly_with_available_now():
    settings = job_settings(STREAM)
    assert settings["name"] == "alice-pinterest-stream"
    (task,) = settings["tasks"]
    assert task["notebook_task"] == {
        "notebook_path": "/Shared/pinterest-pipeline/stream",
        "source": "WORKSPACE",
        "base_parameters": {
            "user_id": "alice",
            "region": "us-east-1",
            "trigger": "availableNow",
            "initial_position": "trim_horizon",
            "kinesis_auth": "instance_profile",
            "bucket": "user-alice-bucket",
        },
    }
    assert settings["schedule"] == {
        "quartz_cron_expression": "0 0 * * * ?",
        "timezone_id": "UTC",
        "pause_status": "UNPAUSED",
    }
    assert "continuous" not in settings
    assert task["timeout_seconds"] == settings["timeout_seconds"] == 3600
    assert settings["max_concurrent_runs"] == 1
    assert task["new_cluster"] == job_settings(SPEC)["tasks"][0]["new_cluster"]
    assert settings["tags"]["path"] == "stream"


def test_continuous_stream_job_runs_a_processing_time_stream_without_schedule_timeout_or_retries():
    spec = StreamJobSpec(**{**STREAM.__dict__, "continuous": True, "interval": "30 seconds"})
    settings = job_settings(spec)
    (task,) = settings["tasks"]
    params = task["notebook_task"]["base_parameters"]
    assert (params["trigger"], params["interval"]) == ("processingTime", "30 seconds")
    assert settings["continuous"] == {"pause_status": "UNPAUSED"}
    # continuous jobs take no schedule, no retry policy; a timeout would end the stream
    for key in ("schedule", "timeout_seconds"):
        assert key not in settings
    for key in ("timeout_seconds", "max_retries"):
        assert key not in task


@pytest.mark.parametrize(
    ("auth", "extra", "expected"),
    [
        ("instance_profile", {}, {}),
        (
            "service_credential",
            {"service_credential": "kinesis-cred"},
            {"service_credential": "kinesis-cred"},
        ),
        ("secret_scope", {"secret_scope": "aws-keys"}, {"secret_scope": "aws-keys"}),
    ],
)
def test_stream_credentials_widgets_only_for_the_chosen_mode(auth, extra, expected):
    spec = StreamJobSpec(**{**STREAM.__dict__, "kinesis_auth": auth, "secret_scope": "aws-keys", **extra})
    params = job_settings(spec)["tasks"][0]["notebook_task"]["base_parameters"]
    assert params["kinesis_auth"] == auth
    assert {k: params[k] for k in ("service_credential", "secret_scope") if k in params} == expected


def test_stream_checkpoint_root_and_bucket_are_passed_only_when_set():
    spec = StreamJobSpec(
        user_id="bo", notebook_path="/x/stream", checkpoint_root="/Volumes/main/pinterest/checkpoints"
    )
    params = job_settings(spec)["tasks"][0]["notebook_task"]["base_parameters"]
    assert params["checkpoint_root"] == "/Volumes/main/pinterest/checkpoints"
    assert "bucket" not in params  # the notebook's default, user-bo-bucket


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kinesis_auth": "keys"}, "kinesis_auth must be one of instance_profile, service_credential"),
        ({"initial_position": "at_timestamp"}, "initial_position must be one of trim_horizon, latest"),
        ({"kinesis_auth": "service_credential"}, "needs the name of a service credential"),
    ],
)
def test_bad_stream_settings_are_refused(fields, message):
    with pytest.raises(ValueError, match=message):
        StreamJobSpec(**{**STREAM.__dict__, **fields})


def test_batch_and_stream_jobs_live_side_by_side_and_switching_to_continuous_drops_the_schedule(client, fake):
    batch_id, _ = deploy_job(client, SPEC)
    stream_id, outcome = deploy_job(client, STREAM)
    assert outcome == "created" and stream_id != batch_id
    assert "schedule" in fake.jobs[stream_id]["settings"]

    continuous = StreamJobSpec(**{**STREAM.__dict__, "continuous": True})
    assert deploy_job(client, continuous) == (stream_id, "updated")
    stored = fake.jobs[stream_id]["settings"]
    assert stored == job_settings(continuous)
    assert "schedule" not in stored and stored["continuous"] == {"pause_status": "UNPAUSED"}
    assert fake.jobs[batch_id]["settings"] == job_settings(SPEC)  # left alone
