"""`make run-dag`: the real DAG (airflow/dags/pinterest_batch.py) once, under Airflow 3.0.6, against the local
workspace of the running stack.

1. The local workspace's host and token come from the stack's outputs (`<state dir>/outputs/local.json`).
2. When the workspace lacks the bundle's notebooks or its batch job, they are imported and deployed first with
   the code of `make import-notebooks TARGET=local` and `make deploy-job TARGET=local` (and it says so).
3. Airflow runs in its own venv (`.venv-airflow`) with `AIRFLOW_HOME=<state dir>/airflow` (its SQLite database is
   initialised on the first run and kept), a Databricks connection to the local workspace
   (`AIRFLOW_CONN_DATABRICKS_DEFAULT`), the trigger's polling interval from the Variable
   `pinterest_polling_seconds` (1 s here; the DAG's default is the provider's 30 s) and `dag.test()`: the DAG
   triggers the batch job by name, the job's run executes the batch notebook on the lake, the check task reads the
   nine counts from the run output.
4. It prints each task's state and the run's duration, and exits 1 when the DAG run fails (with the failed
   Databricks run's error).

`--retries` (default 0 here, so a failure shows at once; the DAG's own default is 2) and `--variable NAME=VALUE`
set Airflow Variables as `AIRFLOW_VAR_<NAME>` environment variables.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emulation.config import default_state_dir

REPO_ROOT = Path(__file__).resolve().parent.parent
DAGS = REPO_ROOT / "airflow" / "dags"
DAG_ID = "pinterest_batch"
CHILD = Path(__file__).resolve().parent / "airflow_dag_test.py"
LOCAL_POLLING_SECONDS = "1"
BATCH_JOB = "pinterest_batch"


class RunDagError(Exception):
    """A user-facing error (no stack, no Airflow venv): printed without a traceback, exit status 1."""


@dataclass
class DagRunResult:
    """What one DAG run did: its state, each task's state and seconds, and the Databricks run it started."""

    state: str
    tasks: dict[str, dict[str, Any]]
    wall_seconds: float
    airflow_seconds: float = 0.0
    databricks_run: dict[str, Any] = field(default_factory=dict)
    prepared: list[str] = field(default_factory=list)
    log: Path | None = None

    @property
    def ok(self) -> bool:
        return self.state == "success"

    def as_dict(self) -> dict[str, Any]:
        """The result as JSON-ready data (`--json`)."""
        return {
            "dag_id": DAG_ID,
            "state": self.state,
            "tasks": self.tasks,
            "wall_seconds": round(self.wall_seconds, 3),
            "airflow_seconds": self.airflow_seconds,
            "databricks_run": self.databricks_run,
            "prepared": self.prepared,
            "log": str(self.log) if self.log else None,
        }

    def summary(self) -> str:
        lines = [f"{'task':<16} {'state':<10} {'seconds':>8}"]
        for task_id, info in self.tasks.items():
            seconds = f"{info['seconds']:.1f}" if info.get("seconds") is not None else "-"
            lines.append(f"{task_id:<16} {info['state']:<10} {seconds:>8}")
        run = self.databricks_run
        if run:
            lines.append(
                f"Databricks run {run.get('run_id')} of job {run.get('job_name')!r}: {run.get('result_state')} in "
                f"{run.get('seconds', 0):.1f} s" + (f"\n  error: {run['error']}" if run.get("error") else "")
            )
        lines.append(f"DAG run {DAG_ID}: {self.state} in {self.wall_seconds:.1f} s")
        return "\n".join(lines)


def airflow_python() -> Path:
    """The Airflow venv's interpreter (`$PIPELINE_AIRFLOW_PYTHON`, else `<repo>/.venv-airflow/bin/python`)."""
    path = Path(os.environ.get("PIPELINE_AIRFLOW_PYTHON") or REPO_ROOT / ".venv-airflow" / "bin" / "python")
    if not path.exists():
        raise RunDagError(f"no Airflow venv at {path}: run `make setup`")
    return path


def connection(host: str, token: str) -> str:
    """The `AIRFLOW_CONN_DATABRICKS_DEFAULT` JSON of the local workspace: host, port, schema http, token."""
    from urllib.parse import urlsplit

    url = urlsplit(host)
    return json.dumps(
        {
            "conn_type": "databricks",
            "host": url.hostname,
            "port": url.port,
            "schema": url.scheme or "http",
            "password": token,
        }
    )


def prepare(client: Any, echo: Any = print, user_id: str | None = None) -> list[str]:
    """Import the notebooks and deploy the jobs (the make targets' code) when the workspace lacks them."""
    from databricks.sdk.errors import NotFound

    from databricks_deploy.__main__ import main as deploy_main
    from databricks_deploy.bundle import load_bundle
    from databricks_deploy.job import find_job

    user = _user_var(user_id)
    bundle = load_bundle(target="local", variables=user)
    batch = bundle.jobs[BATCH_JOB]
    done: list[str] = []
    missing = []
    for job in bundle.jobs.values():
        for path in job.notebooks:
            try:
                client.workspace.get_status(path)
            except NotFound:
                missing.append(path)
    if missing:
        echo(
            f"the local workspace lacks {', '.join(missing)}: importing the notebooks (make import-notebooks TARGET=local)"
        )
        if deploy_main(["import-notebooks", "--target", "local"]) != 0:
            raise RunDagError("importing the notebooks failed (see above)")
        done.append("import-notebooks")
    if find_job(client, batch.name) is None:
        echo(
            f"the local workspace has no job {batch.name!r}: deploying the bundle (make deploy-job TARGET=local)"
        )
        if (
            deploy_main(["deploy-job", "--target", "local", *(f"--var=user_id={v}" for v in user.values())])
            != 0
        ):
            raise RunDagError("deploying the jobs failed (see above)")
        done.append("deploy-job")
    return done


def _user_var(user_id: str | None = None) -> dict[str, str]:
    user_id = user_id or os.environ.get("USER_ID")
    return {"user_id": user_id} if user_id else {}


def run_dag(
    retries: int = 0,
    variables: dict[str, str] | None = None,
    deploy: bool = True,
    state_dir: Path | None = None,
    echo: Any = print,
    user_id: str | None = None,
) -> DagRunResult:
    """One run of the DAG under Airflow against the local workspace; see the module docstring.

    Airflow's process starts first and imports Airflow while this one checks (and if need be imports and deploys)
    the workspace; then it is told to go.
    """
    from databricks_deploy.bundle import load_bundle
    from databricks_deploy.client import local_workspace
    from databricks_deploy.discovery import DeployError

    started = time.perf_counter()
    state = (state_dir or default_state_dir()).absolute()
    try:
        host, token = local_workspace()
    except DeployError as exc:
        raise RunDagError(str(exc)) from exc
    python = airflow_python()

    home = state / "airflow"
    logs = home / "runs"
    logs.mkdir(parents=True, exist_ok=True)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW_VAR_", "AIRFLOW_CONN_", "AIRFLOW__"))
    }
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW_CONN_DATABRICKS_DEFAULT": connection(host, token),
            "AIRFLOW_VAR_PINTEREST_POLLING_SECONDS": LOCAL_POLLING_SECONDS,
            "AIRFLOW_VAR_PINTEREST_RETRIES": str(retries),
        }
    )
    user = _user_var(user_id)
    if user:
        env["AIRFLOW_VAR_PINTEREST_USER_ID"] = user["user_id"]
    for name, value in (variables or {}).items():
        env[f"AIRFLOW_VAR_{name.upper()}"] = value
    job_name = (
        env.get("AIRFLOW_VAR_PINTEREST_JOB_NAME")
        or load_bundle(target="local", variables=user).jobs[BATCH_JOB].name
    )

    log = logs / f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}.log"
    with tempfile.TemporaryDirectory() as tmp, log.open("w") as out:
        result_file = Path(tmp) / "result.json"
        child = subprocess.Popen(
            [str(python), str(CHILD), "--dag-id", DAG_ID, "--result", str(result_file), "--wait"],
            env=env,
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            from databricks.sdk import WorkspaceClient

            client = WorkspaceClient(host=host, token=token, auth_type="pat")
            prepared = prepare(client, echo, user_id) if deploy else []
        except BaseException:
            child.communicate("stop\n", timeout=60)
            raise
        before = int(time.time() * 1000)
        echo(
            f"running DAG {DAG_ID} under Airflow ({python.parent.parent.name}, AIRFLOW_HOME={home}); log {log}"
        )
        child.communicate("go\n")
        if not result_file.exists():
            tail = "\n".join(log.read_text().splitlines()[-20:])
            raise RunDagError(f"Airflow exited with status {child.returncode} before the DAG ran:\n{tail}")
        data = json.loads(result_file.read_text())
    if data["state"] == "import_error":
        raise RunDagError(f"the DAG does not load: {data['errors']}")
    return DagRunResult(
        state=data["state"],
        tasks=data["tasks"],
        wall_seconds=time.perf_counter() - started,
        airflow_seconds=data.get("airflow_seconds", 0.0),
        databricks_run=_latest_run(client, job_name, before),
        prepared=prepared,
        log=log,
    )


def _latest_run(client: Any, job_name: str, since_ms: int) -> dict[str, Any]:
    """The job's run this DAG run started (the newest since `since_ms`): state, seconds, error."""
    from databricks_deploy.job import find_job

    job_id = find_job(client, job_name)
    if job_id is None:
        return {}
    runs = [r for r in client.jobs.list_runs(job_id=job_id, limit=5) if (r.start_time or 0) >= since_ms]
    if not runs:
        return {}
    run = max(runs, key=lambda r: r.start_time or 0)
    state = run.state
    seconds = ((run.end_time or 0) - (run.start_time or 0)) / 1000 if run.end_time else 0.0
    info: dict[str, Any] = {
        "run_id": run.run_id,
        "job_name": job_name,
        "result_state": (state.result_state.value if state and state.result_state else None)
        or (state.life_cycle_state.value if state and state.life_cycle_state else None),
        "seconds": seconds,
    }
    if info["result_state"] not in (None, "SUCCESS"):
        for task in client.jobs.get_run(run.run_id).tasks or []:
            output = client.jobs.get_run_output(task.run_id)
            if output.error:
                info["error"] = output.error
                break
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local_stack.run_dag",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--retries", type=int, default=0, help="task retries (default 0; the DAG's own is 2)")
    parser.add_argument(
        "--variable",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an Airflow Variable for this run (say pinterest_check_results=false); repeatable",
    )
    parser.add_argument("--no-deploy", action="store_true", help="do not import or deploy, even when missing")
    parser.add_argument(
        "--json", type=Path, help="also write the result (tasks, durations, Databricks run) here"
    )
    args = parser.parse_args(argv)
    variables = {}
    for pair in args.variable:
        name, sep, value = pair.partition("=")
        if not sep:
            parser.error(f"--variable expects NAME=VALUE, not {pair!r}")
        variables[name] = value
    try:
        result = run_dag(args.retries, variables, deploy=not args.no_deploy)
    except RunDagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(result.summary())
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result.as_dict(), indent=2) + "\n")
    if not result.ok:
        print(f"error: the DAG run failed (Airflow's log: {result.log})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
