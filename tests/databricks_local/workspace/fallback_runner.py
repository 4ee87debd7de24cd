"""Test tooling only: the notebook runner's `run --workspace W --widget k=v --available-now --result FILE NOTEBOOK`
contract for the workspace's tests while `local_stack.notebook_runner` does not have `--result` yet.

When the real runner accepts `--result`, this hands over to it unchanged (`python -m local_stack.notebook_runner`).
Otherwise it runs each notebook with `databricks_local.runner.run_notebook` on one local Spark session, gives the
run's secrets file (`DATABRICKS_LOCAL_SECRETS_FILE`) to the current `dbutils.secrets` through its
`DATABRICKS_SECRET_<SCOPE>_<KEY>` variables, and writes the result file the workspace reads.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def real_runner_has_result() -> bool:
    from local_stack.notebook_runner.__main__ import build_parser

    run = build_parser()._subparsers._group_actions[0].choices["run"]  # type: ignore[union-attr]
    return any("--result" in action.option_strings for action in run._actions)


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(REPO))
    if real_runner_has_result():
        os.execv(sys.executable, [sys.executable, "-m", "local_stack.notebook_runner", *argv])
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["run"])
    parser.add_argument("--workspace", type=Path)
    parser.add_argument("--widget", action="append", default=[])
    parser.add_argument("--available-now", action="store_true")
    parser.add_argument("--result", type=Path, required=True)
    parser.add_argument("notebooks", nargs="+", type=Path)
    args = parser.parse_args(argv)
    secrets_file = os.environ.get("DATABRICKS_LOCAL_SECRETS_FILE")
    if secrets_file:
        from databricks_local.adapter import secret_env_name
        from databricks_local.workspace.secrets import load_secret_store

        for scope, keys in load_secret_store(secrets_file).items():
            for key, value in keys.items():
                os.environ[secret_env_name(scope, key)] = value
    from databricks_local.runner import run_notebook
    from databricks_local.session import local_spark

    widgets = dict(w.split("=", 1) for w in args.widget)
    spark = local_spark()
    results = []
    status = 0
    for notebook in args.notebooks:
        # the contract: the notebook's folder and the workspace root are on sys.path (modules beside notebooks)
        sys.path[:0] = [str(notebook.parent), *([str(args.workspace)] if args.workspace else [])]
        started = time.perf_counter()
        entry = {
            "notebook": str(notebook),
            "state": "SUCCESS",
            "exit_value": None,
            "error": None,
            "trace": None,
        }
        try:
            run = run_notebook(notebook, spark, widgets=widgets)
            entry["exit_value"] = run.exit_value
        except Exception as exc:
            entry.update(state="FAILED", error=f"{type(exc).__name__}: {exc}", trace=traceback.format_exc())
            status = 1
        entry["seconds"] = round(time.perf_counter() - started, 3)
        results.append(entry)
        if status:
            break
    args.result.write_text(json.dumps(results))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
