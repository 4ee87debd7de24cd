"""Command line: `python -m databricks_deploy import-notebooks|deploy-job [options]` (see `--help`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from databricks_deploy import defaults
from databricks_deploy.discovery import DeployError, notebook_name, plan
from databricks_deploy.job_spec import JobSpec, StreamJobSpec, job_settings
from emulation.config import terraform_outputs
from emulation.names import PipelineNames

# The SDK takes seconds to import: commands import it only when they talk to a workspace.

REPO_ROOT = Path(__file__).resolve().parent.parent
AUTH_EPILOG = (
    "Authentication is the Databricks SDK's standard configuration: DATABRICKS_HOST + DATABRICKS_TOKEN, a "
    "~/.databrickscfg profile (--profile or DATABRICKS_CONFIG_PROFILE), or OAuth (`databricks auth login`)."
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m databricks_deploy",
        description="Deploy the pipeline to a Databricks workspace: import the notebooks, create the batch and "
        "stream jobs.",
        epilog=AUTH_EPILOG,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--profile", help="~/.databrickscfg profile to use (default: the SDK's resolution)")
    common.add_argument(
        "--folder",
        default=defaults.DEFAULT_FOLDER,
        help="workspace folder of the notebooks (default: %(default)s)",
    )
    common.add_argument(
        "--dry-run",
        action="store_true",
        help="print what would be done; contacts no workspace, needs no auth",
    )

    imp = sub.add_parser(
        "import-notebooks",
        parents=[common],
        help="import notebooks/ into the workspace folder (SOURCE format; unchanged ones skipped)",
        description="Import every Databricks source notebook under --source into --folder, keeping "
        "sub-folders: creates missing folders, overwrites changed notebooks, skips unchanged ones, and "
        "prints created/updated/unchanged for each.",
        epilog=AUTH_EPILOG,
    )
    imp.add_argument(
        "--source",
        type=Path,
        default=REPO_ROOT / "notebooks",
        help="local notebook directory (default: the repo's notebooks/)",
    )

    job = sub.add_parser(
        "deploy-job",
        parents=[common],
        help="create or update (by name) the batch job and the stream job; prints their job ids",
        description="Create the Databricks jobs that run the batch notebook (<user id>-pinterest-batch, "
        "triggered daily by Airflow) and the stream notebook (<user id>-pinterest-stream, hourly availableNow runs "
        "or --continuous), or reset the existing jobs of the same names to these settings (idempotent). They run "
        "on new job clusters unless --existing-cluster-id is given. The job clusters' instance profile is "
        "--instance-profile-arn, else the Terraform output databricks_instance_profile_arn of `make apply` "
        "(<state dir>/outputs/aws.json).",
        epilog=AUTH_EPILOG,
    )
    job.add_argument("--only", choices=("batch", "stream"), help="deploy only this job (default: both)")
    job.add_argument(
        "--user-id", default=defaults.default_user_id(), help="user id (default: $USER_ID or demo)"
    )
    job.add_argument("--bucket", help="data-lake bucket (default: user-<user id>-bucket)")
    cluster = job.add_argument_group("job clusters (both jobs)")
    cluster.add_argument(
        "--existing-cluster-id", help="run on this all-purpose cluster instead of job clusters"
    )
    cluster.add_argument(
        "--spark-version",
        default=defaults.DEFAULT_SPARK_VERSION,
        help="Databricks runtime of the job clusters (default: %(default)s, Databricks Runtime 18 LTS)",
    )
    cluster.add_argument(
        "--node-type", default=defaults.DEFAULT_NODE_TYPE, help="job cluster node type (default: %(default)s)"
    )
    cluster.add_argument(
        "--num-workers",
        type=int,
        default=defaults.DEFAULT_NUM_WORKERS,
        help="job cluster workers (default: %(default)s)",
    )
    cluster.add_argument(
        "--instance-profile-arn",
        help="instance profile of the job clusters: the lake, Kinesis and the checkpoints (default: the "
        "Terraform output databricks_instance_profile_arn, when `make apply` wrote it)",
    )
    batch = job.add_argument_group("batch job")
    batch.add_argument(
        "--lake-access",
        default=defaults.DEFAULT_LAKE_ACCESS,
        help="the batch notebook's lake access mode: direct (s3://) or mount (default: %(default)s)",
    )
    batch.add_argument(
        "--job-name", help="batch job name (default: <user id>-pinterest-batch, what the DAG triggers)"
    )
    batch.add_argument(
        "--notebook",
        help="batch notebook path relative to --folder, no extension (default: notebooks/batch.py's)",
    )
    batch.add_argument(
        "--timeout-seconds",
        type=int,
        default=7200,
        help="batch run timeout enforced by Databricks (default: 7200)",
    )
    stream = job.add_argument_group("stream job")
    stream.add_argument("--stream-job-name", help="stream job name (default: <user id>-pinterest-stream)")
    stream.add_argument(
        "--stream-notebook",
        help="stream notebook path relative to --folder, no extension (default: notebooks/stream.py's)",
    )
    stream.add_argument(
        "--continuous",
        action="store_true",
        help="run the stream continuously (trigger processingTime in a continuous job) instead of scheduled "
        "availableNow runs",
    )
    stream.add_argument(
        "--schedule",
        default=defaults.DEFAULT_STREAM_SCHEDULE,
        help="Quartz cron (UTC) of the scheduled runs (default: %(default)r, hourly)",
    )
    stream.add_argument(
        "--interval",
        default=defaults.DEFAULT_STREAM_INTERVAL,
        help="micro-batch interval of a continuous stream (default: %(default)r)",
    )
    stream.add_argument(
        "--stream-timeout-seconds",
        type=int,
        default=3600,
        help="timeout of a scheduled stream run (default: 3600; a continuous run has none)",
    )
    stream.add_argument(
        "--region",
        help="AWS region of the Kinesis streams (default: the Terraform output region, else us-east-1)",
    )
    stream.add_argument(
        "--initial-position",
        choices=defaults.INITIAL_POSITIONS,
        default=defaults.INITIAL_POSITIONS[0],
        help="where a stream without a checkpoint starts (default: %(default)s)",
    )
    stream.add_argument(
        "--kinesis-auth",
        choices=defaults.KINESIS_AUTH_MODES,
        default=defaults.KINESIS_AUTH_MODES[0],
        help="how the stream notebook authenticates to Kinesis (default: %(default)s)",
    )
    stream.add_argument(
        "--service-credential",
        default="",
        help="Unity Catalog service credential (--kinesis-auth service_credential)",
    )
    stream.add_argument(
        "--secret-scope",
        default=defaults.DEFAULT_SECRET_SCOPE,
        help="secret scope with access_key_id and secret_access_key (--kinesis-auth secret_scope; default: "
        "%(default)s)",
    )
    stream.add_argument(
        "--checkpoint-root", default="", help="checkpoint root (default: s3://<bucket>/checkpoints/stream)"
    )
    return parser


def _import_notebooks(args: argparse.Namespace) -> int:
    if args.dry_run:
        for line in plan(args.source, args.folder):
            print(line)
        return 0
    from databricks_deploy.client import with_workspace
    from databricks_deploy.notebooks import import_notebooks

    results = with_workspace(args.profile, lambda client: import_notebooks(client, args.source, args.folder))
    counts = {k: list(results.values()).count(k) for k in ("created", "updated", "unchanged")}
    print(", ".join(f"{n} {k}" for k, n in counts.items()) + f" in {args.folder}")
    return 0


def _deploy_job(args: argparse.Namespace) -> int:
    if args.num_workers < 0 or args.timeout_seconds <= 0 or args.stream_timeout_seconds <= 0:
        raise DeployError("--num-workers must be >= 0 and --timeout-seconds, --stream-timeout-seconds > 0")
    specs = job_specs(args)
    if args.dry_run:
        for spec in specs:
            print(f"would create or update job {spec.job_name!r} with settings:")
            print(json.dumps(job_settings(spec), indent=2))
        return 0
    from databricks_deploy.client import with_workspace
    from databricks_deploy.job import deploy_job

    def deploy_all(client: Any) -> list[tuple[int, str]]:
        return [deploy_job(client, spec) for spec in specs]

    for spec, (job_id, outcome) in zip(specs, with_workspace(args.profile, deploy_all), strict=True):
        print(f"{outcome} job {spec.job_name!r}: job_id {job_id}")
    return 0


def job_specs(args: argparse.Namespace) -> list[JobSpec | StreamJobSpec]:
    """The jobs `deploy-job` deploys (batch, stream or both), from the flags and the Terraform outputs."""
    outputs = terraform_outputs("aws")
    profile = args.instance_profile_arn or outputs.get("databricks_instance_profile_arn") or None
    if profile and not args.instance_profile_arn and not args.existing_cluster_id:
        print(
            f"instance profile {profile} (Terraform output databricks_instance_profile_arn)", file=sys.stderr
        )
    cluster = {
        "existing_cluster_id": args.existing_cluster_id,
        "spark_version": args.spark_version,
        "node_type_id": args.node_type,
        "num_workers": args.num_workers,
        "instance_profile_arn": profile,
    }
    bucket = args.bucket or PipelineNames(args.user_id).bucket
    notebooks = REPO_ROOT / "notebooks"
    specs: list[JobSpec | StreamJobSpec] = []
    if args.only in (None, "batch"):
        notebook = args.notebook or notebook_name(notebooks, "batch", defaults.BATCH_NOTEBOOK)
        specs.append(
            JobSpec(
                user_id=args.user_id,
                bucket=bucket,
                notebook_path=defaults.notebook_path(args.folder, notebook),
                lake_access=args.lake_access,
                name=args.job_name or "",
                timeout_seconds=args.timeout_seconds,
                **cluster,
            )
        )
    if args.only in (None, "stream"):
        notebook = args.stream_notebook or notebook_name(notebooks, "stream", defaults.STREAM_NOTEBOOK)
        try:
            stream = StreamJobSpec(
                user_id=args.user_id,
                notebook_path=defaults.notebook_path(args.folder, notebook),
                bucket=bucket,
                region=args.region or outputs.get("region") or defaults.DEFAULT_REGION,
                continuous=args.continuous,
                schedule=args.schedule,
                interval=args.interval,
                initial_position=args.initial_position,
                kinesis_auth=args.kinesis_auth,
                service_credential=args.service_credential,
                secret_scope=args.secret_scope,
                checkpoint_root=args.checkpoint_root,
                name=args.stream_job_name or "",
                timeout_seconds=args.stream_timeout_seconds,
                **cluster,
            )
        except ValueError as exc:
            raise DeployError(f"stream job: {exc} (see --kinesis-auth, --service-credential)") from exc
        if not profile and not args.existing_cluster_id:
            needs = (
                [f"Kinesis (--kinesis-auth {stream.kinesis_auth})"]
                if stream.kinesis_auth == "instance_profile"
                else []
            )
            if not stream.checkpoint_root or stream.checkpoint_root.startswith("s3"):
                needs.append(
                    f"the checkpoints under {stream.checkpoint_root or f's3://{bucket}/checkpoints/stream'}"
                )
            if needs:
                print(
                    f"warning: the stream job cluster has no instance profile, but {' and '.join(needs)} need one: "
                    "pass --instance-profile-arn or run `make apply` (output databricks_instance_profile_arn)",
                    file=sys.stderr,
                )
        specs.append(stream)
    return specs


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = {"import-notebooks": _import_notebooks, "deploy-job": _deploy_job}[args.command]
    try:
        return command(args)
    except DeployError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
