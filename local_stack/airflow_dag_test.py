"""Run one DAG run under Airflow (`dag.test()`), in the Airflow venv, and write what happened as JSON.

`run_dag.py` starts this file by path with `.venv-airflow/bin/python` (it imports nothing of the project, so the
Airflow venv needs nothing but Airflow and the Databricks provider):

    python local_stack/airflow_dag_test.py --dag-id pinterest_batch --result FILE [--wait]

With `--wait` it imports Airflow (seconds) and then waits for a line `go` on stdin, so the caller can import and
deploy in the meantime.

AIRFLOW_HOME, the DAG folder, the connection and the Variables come from the environment. The metadata database is
initialised on the first run only (a marker file in AIRFLOW_HOME). The result is `{"state", "run_id",
"tasks": {task_id: {"state", "seconds", "try_number"}}}`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

MARKER = ".db-initialised"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dag-id", required=True)
    parser.add_argument("--result", required=True, type=Path)
    parser.add_argument("--wait", action="store_true", help="read `go` from stdin before running the DAG")
    args = parser.parse_args(argv)

    home = Path(os.environ["AIRFLOW_HOME"])
    started = time.perf_counter()
    if not (home / MARKER).exists():
        from airflow.utils.db import initdb

        initdb()
        (home / MARKER).write_text("airflow db initialised by local_stack/run_dag.py\n")
    initialised = time.perf_counter()

    from airflow.models import DagBag

    if args.wait:  # Airflow is imported; the caller deploys meanwhile and says when the workspace is ready
        line = sys.stdin.readline().strip()
        if line != "go":
            return 3
    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"], include_examples=False)
    if bag.import_errors:
        args.result.write_text(json.dumps({"state": "import_error", "errors": bag.import_errors}))
        return 1
    dag = bag.get_dag(args.dag_id)
    if dag is None:
        args.result.write_text(json.dumps({"state": "import_error", "errors": {args.dag_id: "no such DAG"}}))
        return 1
    dag_run = dag.test()
    tasks = {}
    for ti in dag_run.get_task_instances():
        seconds = (ti.end_date - ti.start_date).total_seconds() if ti.start_date and ti.end_date else None
        tasks[ti.task_id] = {"state": str(ti.state), "seconds": seconds, "try_number": ti.try_number}
    result = {
        "state": str(dag_run.state),
        "run_id": dag_run.run_id,
        "tasks": tasks,
        "db_init_seconds": round(initialised - started, 3),
        "airflow_seconds": round(time.perf_counter() - started, 3),
    }
    args.result.write_text(json.dumps(result))
    return 0 if result["state"] == "success" else 1


if __name__ == "__main__":
    sys.exit(main())
