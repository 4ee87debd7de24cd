"""Command line: `python -m databricks_deploy import-notebooks|deploy-job [options]` (see `--help`).

Both commands read the Databricks Asset Bundle (`databricks.yml`, `resources/*.yml`) for a target: where the
notebooks go (`${workspace.file_path}/notebooks`) and every setting of the jobs. `--target local` talks to the local
stack's workspace (host and token from its outputs); any other target to the workspace of the SDK's standard
configuration. Variables the bundle leaves open come from `--var`, else from Terraform outputs (`make apply`'s for
a real workspace, the stack's for `local`): see OUTPUT_VARIABLES.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from databricks_deploy.bundle import REPO_ROOT, Bundle, BundleError, NeedsCurrentUser, load_bundle, parse_vars
from databricks_deploy.client import LOCAL_TARGET
from databricks_deploy.discovery import DeployError, plan
from emulation.config import terraform_outputs

# The SDK takes seconds to import: commands import it only when they talk to a workspace.

#: Bundle variable -> the Terraform output that gives it (`make deploy-job` passes it as `--var`).
OUTPUT_VARIABLES = {
    "instance_profile_arn": "databricks_instance_profile_arn",
    "region": "region",
}
#: `--only` accepts the job's bundle key or these short names.
JOB_ALIASES = {"batch": "pinterest_batch", "stream": "pinterest_stream"}
#: What `--dry-run` shows for `${workspace.current_user.*}` (no workspace is asked).
SOMEONE = {"userName": "<you>", "short_name": "<you>"}
AUTH_EPILOG = (
    "Authentication: --target local uses the local stack's workspace (make local-up). Any other target uses the "
    "Databricks SDK's standard configuration: DATABRICKS_HOST + DATABRICKS_TOKEN, a ~/.databrickscfg profile "
    "(--profile or DATABRICKS_CONFIG_PROFILE), or OAuth (`databricks auth login`). With the Databricks CLI, "
    "`databricks bundle deploy -t <target>` deploys the same bundle."
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m databricks_deploy",
        description="Deploy the pipeline's Databricks Asset Bundle (databricks.yml) to a workspace: import the "
        "notebooks, create or update its jobs.",
        epilog=AUTH_EPILOG,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--target", "-t", help="bundle target: dev, prod or local (default: the bundle's default target, dev)"
    )
    common.add_argument(
        "--var",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a bundle variable (repeatable; wins over Terraform outputs and the bundle)",
    )
    common.add_argument("--profile", help="~/.databrickscfg profile to use (default: the SDK's resolution)")
    common.add_argument(
        "--bundle", type=Path, default=REPO_ROOT, help="bundle root (default: the repository)"
    )
    common.add_argument(
        "--dry-run",
        action="store_true",
        help="print what would be done; contacts no workspace, needs no auth",
    )

    imp = sub.add_parser(
        "import-notebooks",
        parents=[common],
        help="import notebooks/ into the workspace (notebooks as SOURCE, Python modules as files; unchanged "
        "ones skipped)",
        description="Import every Databricks source notebook under notebooks/ (and the Python modules beside them, "
        "as workspace files) into the bundle target's ${workspace.file_path}/notebooks, keeping sub-folders: "
        "creates missing folders, overwrites changed files, skips unchanged ones, and prints "
        "created/updated/unchanged for each.",
        epilog=AUTH_EPILOG,
    )
    imp.add_argument(
        "--folder", help="workspace folder (default: the target's ${workspace.file_path}/notebooks)"
    )

    job = sub.add_parser(
        "deploy-job",
        parents=[common],
        help="create or update (by name) the bundle's jobs; prints their job ids",
        description="Create the jobs of the bundle's resources.jobs for the target, or reset the existing jobs of "
        "the same names to these settings (idempotent). Every setting comes from the bundle. The variables "
        f"{', '.join(OUTPUT_VARIABLES)} default to the Terraform outputs "
        f"{', '.join(OUTPUT_VARIABLES.values())} (<state dir>/outputs/aws.json, or local.json for --target local) "
        "and user_id to $USER_ID.",
        epilog=AUTH_EPILOG,
    )
    job.add_argument(
        "--only",
        action="append",
        metavar="JOB",
        help="deploy only this job: its bundle key, or batch / stream (repeatable; default: all)",
    )
    return parser


def variables(args: argparse.Namespace) -> dict[str, str]:
    """The variables passed to the bundle: `--var`, else Terraform outputs, else `$USER_ID` for user_id."""
    given = parse_vars(args.var)
    outputs = terraform_outputs("local" if args.target == LOCAL_TARGET else "aws")
    values: dict[str, str] = {}
    if os.environ.get("USER_ID"):
        values["user_id"] = os.environ["USER_ID"]
    for name, output in OUTPUT_VARIABLES.items():
        if name not in given and outputs.get(output):
            values[name] = str(outputs[output])
            if name == "instance_profile_arn":
                print(f"{name} = {outputs[output]} (Terraform output {output})", file=sys.stderr)
    return {**values, **given}


def bundle_for(args: argparse.Namespace, client: Any = None, resolve_jobs: bool = True) -> Bundle:
    """The bundle for the target; asks the workspace who you are only when the bundle needs to know."""
    values = variables(args)
    try:
        return load_bundle(args.bundle, args.target, values, None, resolve_jobs)
    except NeedsCurrentUser:
        if client is None:
            return load_bundle(args.bundle, args.target, values, SOMEONE, resolve_jobs)
        from databricks_deploy.client import current_user

        return load_bundle(args.bundle, args.target, values, current_user(client), resolve_jobs)
    except BundleError as exc:
        if exc.key == "variables.instance_profile_arn":
            raise DeployError(
                f"{exc}\n  (run `make apply`, which writes the Terraform output databricks_instance_profile_arn, "
                "or pass --var instance_profile_arn=<arn>)"
            ) from exc
        raise


def _workspace(args: argparse.Namespace, action: Any) -> Any:
    from databricks_deploy.client import with_workspace

    target = args.target or load_bundle(args.bundle, None, parse_vars(args.var), SOMEONE, False).target
    host = _bundle_host(args)
    return with_workspace(args.profile, action, target=target, host=host)


def _bundle_host(args: argparse.Namespace) -> str | None:
    try:
        ws = load_bundle(args.bundle, args.target, {}, SOMEONE, False).workspace
    except DeployError:
        return None
    return ws.get("host") if args.target != LOCAL_TARGET else None


def _import_notebooks(args: argparse.Namespace) -> int:
    source = args.bundle / "notebooks"
    if args.dry_run:
        folder = args.folder or notebooks_folder(bundle_for(args, resolve_jobs=False))
        for line in plan(source, folder):
            print(line)
        return 0
    from databricks_deploy.notebooks import import_notebooks

    def run(client: Any) -> tuple[str, dict[str, str]]:
        folder = args.folder or notebooks_folder(bundle_for(args, client, resolve_jobs=False))
        return folder, import_notebooks(client, source, folder)

    folder, results = _workspace(args, run)
    counts = {k: list(results.values()).count(k) for k in ("created", "updated", "unchanged")}
    print(", ".join(f"{n} {k}" for k, n in counts.items()) + f" in {folder}")
    return 0


def notebooks_folder(bundle: Bundle) -> str:
    """Where the notebooks go: the bundle's `notebooks/` under `${workspace.file_path}`, as the CLI syncs it."""
    return f"{bundle.file_path.rstrip('/')}/notebooks"


def selected(bundle: Bundle, only: list[str] | None) -> list[str]:
    """The bundle keys of the jobs to deploy."""
    if not only:
        return list(bundle.jobs)
    keys = [JOB_ALIASES.get(name, name) for name in only]
    unknown = [k for k in keys if k not in bundle.jobs]
    if unknown:
        raise DeployError(f"--only {', '.join(unknown)}: the bundle's jobs are {', '.join(bundle.jobs)}")
    return keys


def _deploy_job(args: argparse.Namespace) -> int:
    if args.dry_run:
        bundle = bundle_for(args)
        for key in selected(bundle, args.only):
            job = bundle.jobs[key]
            print(f"would create or update job {job.name!r} ({key}, target {bundle.target}) with settings:")
            print(json.dumps(job.settings, indent=2))
        return 0
    from databricks_deploy.job import deploy_job

    def deploy_all(client: Any) -> list[tuple[str, int, str]]:
        bundle = bundle_for(args, client)
        done = []
        for key in selected(bundle, args.only):
            job_id, outcome = deploy_job(client, bundle.jobs[key].settings)
            done.append((bundle.jobs[key].name, job_id, outcome))
        return done

    for name, job_id, outcome in _workspace(args, deploy_all):
        print(f"{outcome} job {name!r}: job_id {job_id}")
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
