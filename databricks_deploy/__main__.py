"""Command line: `python -m databricks_deploy import-notebooks|deploy-job [options]` (see `--help`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from databricks_deploy import defaults
from databricks_deploy.discovery import DeployError, batch_notebook_name, plan
from databricks_deploy.job_spec import JobSpec, job_settings
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
        description="Deploy the pipeline to a Databricks workspace: import the notebooks, create the batch job.",
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
        help="create or update (by name) the job that runs the batch notebook; prints the job id",
        description="Create the Databricks job that runs the batch notebook, or reset the existing job of "
        "the same name to these settings (idempotent). Runs on a new job cluster unless "
        "--existing-cluster-id is given. Prints the job id.",
        epilog=AUTH_EPILOG,
    )
    job.add_argument(
        "--user-id", default=defaults.default_user_id(), help="user id (default: $USER_ID or demo)"
    )
    job.add_argument("--bucket", help="data-lake bucket (default: user-<user id>-bucket)")
    job.add_argument(
        "--lake-access",
        default=defaults.DEFAULT_LAKE_ACCESS,
        help="the batch notebook's lake access mode: direct (s3://) or mount (default: %(default)s)",
    )
    job.add_argument(
        "--job-name", help="job name (default: <user id>-pinterest-batch, what the DAG triggers)"
    )
    job.add_argument(
        "--notebook",
        help="batch notebook path relative to --folder, no extension (default: the notebook under "
        "notebooks/ whose name contains 'batch')",
    )
    job.add_argument("--existing-cluster-id", help="run on this all-purpose cluster instead of a job cluster")
    job.add_argument(
        "--spark-version",
        default=defaults.DEFAULT_SPARK_VERSION,
        help="job cluster runtime (default: %(default)s)",
    )
    job.add_argument(
        "--node-type", default=defaults.DEFAULT_NODE_TYPE, help="job cluster node type (default: %(default)s)"
    )
    job.add_argument(
        "--num-workers",
        type=int,
        default=defaults.DEFAULT_NUM_WORKERS,
        help="job cluster workers (default: %(default)s)",
    )
    job.add_argument("--instance-profile-arn", help="instance profile of the job cluster (direct S3 access)")
    job.add_argument(
        "--timeout-seconds", type=int, default=7200, help="run timeout enforced by Databricks (default: 7200)"
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
    if args.num_workers < 0 or args.timeout_seconds <= 0:
        raise DeployError("--num-workers must be >= 0 and --timeout-seconds > 0")
    notebook = args.notebook or batch_notebook_name(REPO_ROOT / "notebooks", defaults.BATCH_NOTEBOOK)
    spec = JobSpec(
        user_id=args.user_id,
        bucket=args.bucket or PipelineNames(args.user_id).bucket,
        notebook_path=defaults.notebook_path(args.folder, notebook),
        lake_access=args.lake_access,
        name=args.job_name or "",
        existing_cluster_id=args.existing_cluster_id,
        spark_version=args.spark_version,
        node_type_id=args.node_type,
        num_workers=args.num_workers,
        instance_profile_arn=args.instance_profile_arn,
        timeout_seconds=args.timeout_seconds,
    )
    if args.dry_run:
        print(f"would create or update job {spec.job_name!r} with settings:")
        print(json.dumps(job_settings(spec), indent=2))
        return 0
    from databricks_deploy.client import with_workspace
    from databricks_deploy.job import deploy_job

    job_id, outcome = with_workspace(args.profile, lambda client: deploy_job(client, spec))
    print(f"{outcome} job {spec.job_name!r}: job_id {job_id}")
    print(job_id)
    return 0


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
