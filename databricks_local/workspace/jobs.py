"""Jobs 2.1 and 2.2 of the local workspace: job CRUD (`create`, `reset`, `update`, `get`, `list`, `delete`) and the
run records (`run-now`, `runs/submit`, `runs/get`, `runs/get-output`, `runs/list`, `runs/cancel`, `runs/delete`).

Requests and answers have the shapes of `databricks-sdk`'s `service/jobs.py`. A run is a record with one task run per
task (each with its own `run_id`, as Databricks gives them); `executor.py` runs them and moves their state through
`PENDING` -> `RUNNING` -> `TERMINATED` (or `INTERNAL_ERROR`, or `SKIPPED`). Only `notebook_task`s of workspace
notebooks run locally: a job or run with another kind of task is refused with `INVALID_PARAMETER_VALUE` naming it.
Unknown jobs and runs are answered as Databricks does (400 `INVALID_PARAMETER_VALUE` "Job 5 does not exist.", which
`databricks-sdk` raises as `ResourceDoesNotExist`). Fields starting with `_` are internal and never answered.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from databricks_local.workspace.errors import ApiError, integer, invalid, require
from databricks_local.workspace.store import Store, now_ms

USER = "local-user@localhost"
FIRST_JOB_ID = 1000
FIRST_RUN_ID = 100000
TERMINAL = ("TERMINATED", "SKIPPED", "INTERNAL_ERROR")
#: Task kinds Databricks knows; only `notebook_task` runs here.
TASK_KINDS = (
    "notebook_task",
    "spark_python_task",
    "spark_jar_task",
    "spark_submit_task",
    "python_wheel_task",
    "pipeline_task",
    "sql_task",
    "dbt_task",
    "run_job_task",
    "condition_task",
    "for_each_task",
    "clean_rooms_notebook_task",
    "dashboard_task",
    "power_bi_task",
    "gen_ai_compute_task",
)
REFERENCE = re.compile(r"\{\{\s*([A-Za-z0-9_.\-]+)\s*\}\}")


def job_missing(job_id: Any) -> ApiError:
    return invalid(f"Job {job_id} does not exist.")


def run_missing(run_id: Any) -> ApiError:
    return invalid(f"Run {run_id} does not exist.")


def public(data: Any) -> Any:
    """`data` without internal (`_`) fields, recursively."""
    if isinstance(data, dict):
        return {k: public(v) for k, v in data.items() if not k.startswith("_")}
    if isinstance(data, list):
        return [public(v) for v in data]
    return data


def check_tasks(tasks: Any, where: str = "settings") -> list[dict[str, Any]]:
    """The tasks of a job or a submit, checked: unique keys, known dependencies, notebook tasks only."""
    if tasks is None:
        return []
    if not isinstance(tasks, list) or not all(isinstance(t, dict) for t in tasks):
        raise invalid(f"{where}.tasks must be a list of tasks")
    keys: set[str] = set()
    for task in tasks:
        key = task.get("task_key")
        if not isinstance(key, str) or not key:
            raise invalid("Missing required field: task_key")
        if key in keys:
            raise invalid(f"Task key {key} is used more than once.")
        keys.add(key)
        kinds = [k for k in TASK_KINDS if task.get(k) is not None]
        if kinds != ["notebook_task"]:
            raise invalid(
                f"Task {key}: the local workspace runs only notebook_task tasks"
                + (f" (this one is {', '.join(kinds)})" if kinds else " (this task has none)")
            )
        notebook = task["notebook_task"]
        require(notebook, "notebook_path")
        if (notebook.get("source") or "WORKSPACE") != "WORKSPACE":
            raise invalid(
                f"Task {key}: notebook source {notebook.get('source')} is not supported (only WORKSPACE)"
            )
        if not str(notebook["notebook_path"]).startswith("/"):
            raise invalid(
                f"Task {key}: notebook_path {notebook['notebook_path']} must be an absolute workspace path"
            )
    for task in tasks:
        if task.get("max_retries"):
            raise invalid(
                f"Task {task['task_key']}: max_retries is not supported by the local workspace (retry in the caller, "
                "as the Airflow DAG does)"
            )
        for dep in task.get("depends_on") or []:
            if dep.get("task_key") not in keys:
                raise invalid(
                    f"Task {task['task_key']} depends on {dep.get('task_key')}, which is not a task of the job."
                )
    order(tasks)  # a cycle is an error
    return tasks


def order(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tasks in dependency order (stable); a cycle is INVALID_PARAMETER_VALUE."""
    done: list[str] = []
    pending = list(tasks)
    while pending:
        ready = [t for t in pending if all(d["task_key"] in done for d in t.get("depends_on") or [])]
        if not ready:
            raise invalid(
                f"The tasks {', '.join(t['task_key'] for t in pending)} depend on each other in a cycle."
            )
        for task in ready:
            done.append(task["task_key"])
            pending.remove(task)
    by_key = {t["task_key"]: t for t in tasks}
    return [by_key[k] for k in done]


class Jobs:
    """Job definitions and run records in one store."""

    def __init__(self, store: Store, base_url: str) -> None:
        self.store = store
        self.base_url = base_url.rstrip("/")

    # --- jobs --------------------------------------------------------------------------------------
    def job(self, job_id: Any) -> dict[str, Any]:
        jid = integer(job_id, "job_id")
        job = self.store.get_job(jid)
        if job is None:
            raise job_missing(jid)
        return job

    def _settings(self, settings: Any) -> dict[str, Any]:
        if not isinstance(settings, dict):
            raise invalid("Job settings must be an object")
        settings = copy.deepcopy(settings)
        settings.setdefault("name", "Untitled")
        settings.setdefault("email_notifications", {})
        settings.setdefault("max_concurrent_runs", 1)
        settings.setdefault("timeout_seconds", 0)
        settings.setdefault("format", "MULTI_TASK")
        check_tasks(settings.get("tasks"))
        for param in settings.get("parameters") or []:
            if not isinstance(param, dict) or not param.get("name") or "default" not in param:
                raise invalid("Each job parameter needs a name and a default")
        return settings

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        settings = self._settings({k: v for k, v in body.items() if k not in ("access_control_list",)})
        job_id = self.store.next_id("job_id", FIRST_JOB_ID)
        job = {
            "job_id": job_id,
            "creator_user_name": USER,
            "run_as_user_name": USER,
            "run_as_owner": True,
            "created_time": now_ms(),
            "settings": settings,
        }
        self.store.save_job(job)
        return {"job_id": job_id}

    def reset(self, body: dict[str, Any]) -> dict[str, Any]:
        job = self.job(body.get("job_id"))
        job["settings"] = self._settings(require(body, "new_settings", dict))
        self.store.save_job(job)
        return {}

    def update(self, body: dict[str, Any]) -> dict[str, Any]:
        job = self.job(body.get("job_id"))
        settings = copy.deepcopy(job["settings"])
        new = body.get("new_settings") or {}
        if not isinstance(new, dict):
            raise invalid("new_settings must be an object")
        for field, value in new.items():
            if field in ("tasks", "job_clusters", "environments", "parameters") and isinstance(value, list):
                key = {
                    "tasks": "task_key",
                    "job_clusters": "job_cluster_key",
                    "environments": "environment_key",
                    "parameters": "name",
                }[field]
                merged = {item.get(key): item for item in settings.get(field) or []}
                for item in value:
                    merged[item.get(key)] = item
                settings[field] = list(merged.values())
            else:
                settings[field] = value
        for path in body.get("fields_to_remove") or []:
            field, _, key = str(path).partition("/")
            if not key:
                settings.pop(field, None)
            else:
                name = {
                    "tasks": "task_key",
                    "job_clusters": "job_cluster_key",
                    "environments": "environment_key",
                }.get(field)
                if name is None:
                    raise invalid(f"Invalid field to remove: {path}")
                settings[field] = [i for i in settings.get(field) or [] if i.get(name) != key]
        job["settings"] = self._settings(settings)
        self.store.save_job(job)
        return {}

    def get(self, query: Mapping[str, Any]) -> dict[str, Any]:
        return self.job(query.get("job_id"))

    def list(self, query: Mapping[str, Any]) -> dict[str, Any]:
        expand = str(query.get("expand_tasks", "false")).lower() == "true"
        page, answer = _page(
            query, self.store.jobs(query.get("name") or None), default_limit=20, max_limit=100
        )
        out = []
        for job in page:
            job = copy.deepcopy(job)
            if not expand:
                for field in ("tasks", "job_clusters", "environments"):
                    job["settings"].pop(field, None)
            job.pop("run_as_owner", None)
            out.append(job)
        if out:
            answer["jobs"] = out
        return answer

    def delete(self, body: dict[str, Any]) -> dict[str, Any]:
        job = self.job(body.get("job_id"))
        self.store.delete_job(job["job_id"])
        return {}

    # --- runs --------------------------------------------------------------------------------------
    def new_run(
        self,
        *,
        job: dict[str, Any] | None,
        tasks: list[dict[str, Any]],
        run_name: str,
        timeout_seconds: int,
        job_parameters: dict[str, str],
        notebook_params: dict[str, str],
        overriding: dict[str, Any] | None,
    ) -> dict[str, Any]:
        run_id = self.store.next_id("run_id", FIRST_RUN_ID)
        job_id = job["job_id"] if job else None
        number = self.store.next_id(f"runs_of_{job_id}", 0) if job else run_id
        stamp = now_ms()
        task_runs = []
        for task in order(copy.deepcopy(tasks)):
            task_run_id = self.store.next_id("run_id", FIRST_RUN_ID)
            task_run = {k: v for k, v in task.items() if k not in ("run_if_dummy",)}
            widgets = self._widgets(task, job_parameters, notebook_params, job_id, run_id, task_run_id)
            task_run.update(
                {
                    "run_id": task_run_id,
                    "attempt_number": 0,
                    "start_time": 0,
                    "end_time": 0,
                    "setup_duration": 0,
                    "execution_duration": 0,
                    "cleanup_duration": 0,
                    "state": {
                        "life_cycle_state": "PENDING",
                        "state_message": "",
                        "user_cancelled_or_timedout": False,
                    },
                    "status": {"state": "PENDING"},
                    "run_page_url": self.run_page_url(job_id, task_run_id),
                    "_widgets": widgets,
                }
            )
            task_run["notebook_task"] = dict(task_run["notebook_task"], base_parameters=widgets)
            task_runs.append(task_run)
            self.store.save_run(
                {"run_id": task_run_id, "job_id": job_id, "parent_run_id": run_id, "_task_of": run_id}
            )
        run: dict[str, Any] = {
            "run_id": run_id,
            "number_in_job": number,
            "original_attempt_run_id": run_id,
            "run_name": run_name,
            "run_type": "JOB_RUN" if job else "SUBMIT_RUN",
            "trigger": "ONE_TIME",
            "creator_user_name": USER,
            "start_time": stamp,
            "end_time": 0,
            "setup_duration": 0,
            "execution_duration": 0,
            "cleanup_duration": 0,
            "run_duration": 0,
            "format": "MULTI_TASK",
            "state": {
                "life_cycle_state": "PENDING",
                "state_message": "",
                "user_cancelled_or_timedout": False,
            },
            "status": {"state": "PENDING"},
            "run_page_url": self.run_page_url(job_id, run_id),
            "tasks": task_runs,
            "_timeout_seconds": timeout_seconds,
        }
        if job:
            run["job_id"] = job_id
            if job["settings"].get("parameters"):
                run["job_parameters"] = [
                    {
                        "name": p["name"],
                        "default": p["default"],
                        **({"value": job_parameters[p["name"]]} if p["name"] in job_parameters else {}),
                    }
                    for p in job["settings"]["parameters"]
                ]
        if overriding:
            run["overriding_parameters"] = overriding
        self.store.save_run(run)
        return run

    def run_page_url(self, job_id: int | None, run_id: int) -> str:
        return f"{self.base_url}/#job/{job_id if job_id is not None else 'runs'}/run/{run_id}"

    def _widgets(
        self,
        task: dict[str, Any],
        job_parameters: dict[str, str],
        notebook_params: dict[str, str],
        job_id: int | None,
        run_id: int,
        task_run_id: int,
    ) -> dict[str, str]:
        """The widget values of a task run: base parameters (with `{{...}}` references resolved), then the run's
        notebook parameters, then the job parameters (pushed down to every task, as on Databricks)."""
        values = {
            "job.id": "" if job_id is None else str(job_id),
            "job.run_id": str(run_id),
            "run.id": str(run_id),
            "task.name": task["task_key"],
            "task.run_id": str(task_run_id),
            "parent_run_id": str(run_id),
            "job_id": "" if job_id is None else str(job_id),
            "run_id": str(task_run_id),
        }
        values.update({f"job.parameters.{k}": v for k, v in job_parameters.items()})

        def resolve(text: str) -> str:
            def one(match: re.Match[str]) -> str:
                name = match.group(1)
                if name not in values:
                    raise invalid(f"Task {task['task_key']}: unknown dynamic value reference {{{{{name}}}}}")
                return values[name]

            return REFERENCE.sub(one, text)

        base = task["notebook_task"].get("base_parameters") or {}
        widgets = {str(k): resolve(str(v)) for k, v in base.items()}
        widgets.update(notebook_params)
        widgets.update(job_parameters)
        return widgets

    def run_now(self, body: dict[str, Any]) -> dict[str, Any]:
        job = self.job(body.get("job_id"))
        settings = job["settings"]
        if not settings.get("tasks"):
            raise invalid(f"Job {job['job_id']} has no tasks to run.")
        job_params = body.get("job_parameters") or {}
        notebook_params = body.get("notebook_params") or {}
        if not isinstance(job_params, dict) or not isinstance(notebook_params, dict):
            raise invalid("job_parameters and notebook_params must be objects of name to value")
        defined = {p["name"]: str(p["default"]) for p in settings.get("parameters") or []}
        if defined and notebook_params:
            raise invalid("notebook_params cannot be used together with job parameters: use job_parameters")
        unknown = sorted(set(job_params) - set(defined))
        if unknown:
            raise invalid(f"Job parameters {', '.join(unknown)} are not defined in job {job['job_id']}")
        for kind in (
            "python_params",
            "jar_params",
            "spark_submit_params",
            "python_named_params",
            "sql_params",
        ):
            if body.get(kind):
                raise invalid(f"{kind} do not apply to notebook tasks")
        overriding = {k: body[k] for k in ("notebook_params",) if body.get(k)}
        if job_params:
            overriding["job_parameters"] = job_params
        run = self.new_run(
            job=job,
            tasks=settings["tasks"],
            run_name=settings.get("name", "Untitled"),
            timeout_seconds=int(settings.get("timeout_seconds") or 0),
            job_parameters={**defined, **{k: str(v) for k, v in job_params.items()}},
            notebook_params={k: str(v) for k, v in notebook_params.items()},
            overriding=overriding or None,
        )
        return {"run_id": run["run_id"], "number_in_job": run["number_in_job"]}

    def submit(self, body: dict[str, Any]) -> dict[str, Any]:
        tasks = check_tasks(body.get("tasks"), "runs/submit")
        if not tasks:
            raise invalid("runs/submit needs at least one task")
        run = self.new_run(
            job=None,
            tasks=tasks,
            run_name=str(body.get("run_name") or "Untitled"),
            timeout_seconds=int(body.get("timeout_seconds") or 0),
            job_parameters={},
            notebook_params={},
            overriding=None,
        )
        return {"run_id": run["run_id"]}

    def run(self, run_id: Any) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """(top-level run, task run or None) of a run id or a task run id."""
        rid = integer(run_id, "run_id")
        data = self.store.get_run(rid)
        if data is None:
            raise run_missing(rid)
        if "_task_of" in data:
            parent = self.store.get_run(data["_task_of"])
            if parent is None:
                raise run_missing(rid)
            task = next(t for t in parent["tasks"] if t["run_id"] == rid)
            return parent, task
        return data, None

    def get_run(self, query: Mapping[str, Any]) -> dict[str, Any]:
        run, task = self.run(query.get("run_id"))
        if task is None:
            return public(run)
        return public(self.task_as_run(run, task))

    def task_as_run(self, run: dict[str, Any], task: dict[str, Any]) -> dict[str, Any]:
        """A task run in the shape of a run (what runs/get and get-output's metadata give for a task run id)."""
        out = {k: v for k, v in task.items() if not k.startswith("_")}
        out.update(
            {
                "job_id": run.get("job_id"),
                "number_in_job": run["number_in_job"],
                "run_name": task["task_key"],
                "run_type": run["run_type"],
                "trigger": run["trigger"],
                "creator_user_name": USER,
                "parent_run_id": run["run_id"],
                "tasks": [out.copy()],
                "format": "MULTI_TASK",
            }
        )
        if out.get("job_id") is None:
            out.pop("job_id")
        return out

    def get_output(self, query: Mapping[str, Any]) -> dict[str, Any]:
        run, task = self.run(query.get("run_id"))
        if task is None:
            if len(run["tasks"]) != 1:
                raise invalid(
                    "Retrieving the output of runs with multiple tasks is not supported. "
                    "Please retrieve the output of each individual task run instead."
                )
            task = run["tasks"][0]
        out: dict[str, Any] = {"metadata": public(self.task_as_run(run, task))}
        output = task.get("_output") or {}
        if task["state"]["life_cycle_state"] in TERMINAL and output.get("notebook_output") is not None:
            out["notebook_output"] = output["notebook_output"]
        if output.get("error"):
            out["error"] = output["error"]
        if output.get("error_trace"):
            out["error_trace"] = output["error_trace"]
        return out

    def list_runs(self, query: Mapping[str, Any]) -> dict[str, Any]:
        job_id = query.get("job_id")
        jid = integer(job_id, "job_id") if job_id not in (None, "") else None
        active = str(query.get("active_only", "false")).lower() == "true"
        completed = str(query.get("completed_only", "false")).lower() == "true"
        if active and completed:
            raise invalid("active_only and completed_only cannot both be true")
        expand = str(query.get("expand_tasks", "false")).lower() == "true"
        run_type = query.get("run_type")
        t_from, t_to = query.get("start_time_from"), query.get("start_time_to")
        selected = []
        for run in self.store.runs(jid):
            terminal = run["state"]["life_cycle_state"] in TERMINAL
            if (active and terminal) or (completed and not terminal):
                continue
            if run_type and run["run_type"] != run_type:
                continue
            if (t_from and run["start_time"] < int(t_from)) or (t_to and run["start_time"] > int(t_to)):
                continue
            selected.append(run)
        page, answer = _page(query, selected, default_limit=25, max_limit=25)
        out = [public(r) for r in page]
        if not expand:
            for run in out:
                run.pop("tasks", None)
        if out:
            answer["runs"] = out
        return answer

    def delete_run(self, body: dict[str, Any]) -> dict[str, Any]:
        run, task = self.run(body.get("run_id"))
        if task is not None:
            raise invalid("Only a top-level run can be deleted, not a task run.")
        if run["state"]["life_cycle_state"] not in TERMINAL:
            raise invalid(f"Run {run['run_id']} is active: cancel it before deleting it.")
        self.store.delete_run(run["run_id"])
        for task_run in run["tasks"]:
            self.store.delete_run(task_run["run_id"])
        return {}


def _page(
    query: Mapping[str, Any], items: list[dict[str, Any]], *, default_limit: int, max_limit: int
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The page of `items` the query's `limit` and `page_token` (or `offset`) ask for, and the answer's paging
    fields (`has_more`, `next_page_token`, `prev_page_token`), as the Jobs API's list calls give them."""
    limit = integer(query.get("limit") or default_limit, "limit")
    if not 0 < limit <= max_limit:
        raise invalid(f"limit must be between 1 and {max_limit}, got {limit}")
    start = _page_start(query)
    answer: dict[str, Any] = {"has_more": start + limit < len(items)}
    if answer["has_more"]:
        answer["next_page_token"] = str(start + limit)
    if start:
        answer["prev_page_token"] = str(max(0, start - limit))
    return items[start : start + limit], answer


def _page_start(query: Mapping[str, Any]) -> int:
    token = query.get("page_token")
    if token:
        if not str(token).isdigit():
            raise invalid(f"Invalid page token: {token}")
        return int(token)
    return integer(query.get("offset") or 0, "offset")
