"""A fake Databricks REST API on 127.0.0.1 for unit tests of our own Databricks code (stdlib only).

It serves the subset of the workspace and jobs APIs that `databricks_deploy` (through `databricks-sdk`) and
the Airflow Databricks provider call, keeps their state in memory, records every call, and has switches to
make runs succeed, fail, time out on the Databricks side or never finish, and to make any endpoint return an
error. Importable from both the project venv and the Airflow venv.

    with FakeDatabricks() as fake:
        WorkspaceClient(host=fake.url, token=fake.token)
        ...
        fake.calls_to("/api/2.0/workspace/import")
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

TOKEN = "dapi-fake-token"

#: Run behaviours: what `runs/get` reports once a run has been polled `polls_before_terminal` times.
RUN_BEHAVIOURS = ("success", "fail", "timeout", "hang")


@dataclass
class Call:
    """One request the fake received."""

    method: str
    path: str
    query: dict[str, str]
    body: dict[str, Any] | None


@dataclass
class _Error:
    status: int
    error_code: str
    message: str
    times: int | None  # None: every time


@dataclass
class _Run:
    run_id: int
    job_id: int | None
    run_name: str
    tasks: list[dict[str, Any]]
    request: dict[str, Any]
    behaviour: str
    polls: int = 0
    cancelled: bool = False


class ApiError(Exception):
    """Raised by a handler to answer with a Databricks error body."""

    def __init__(self, status: int, error_code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error_code, self.message = status, error_code, message


@dataclass
class FakeDatabricks:
    """The fake server: start it (or use it as a context manager), point a client at `url`, inspect `calls`."""

    token: str = TOKEN
    #: What runs do: "success", "fail", "timeout" (Databricks ends the run as TIMEDOUT) or "hang" (never ends).
    run_behaviour: str = "success"
    #: How many `runs/get` answers say RUNNING before the terminal state.
    polls_before_terminal: int = 1
    #: What `runs/get-output` returns as `notebook_output.result` for a successful task run.
    notebook_result: str | None = None
    calls: list[Call] = field(default_factory=list)
    workspace: dict[str, dict[str, Any]] = field(default_factory=dict)
    jobs: dict[int, dict[str, Any]] = field(default_factory=dict)
    runs: dict[int, _Run] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._errors: dict[tuple[str, str], _Error] = {}
        self._next_id = 1000
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.workspace["/"] = {"object_type": "DIRECTORY", "path": "/", "object_id": 1}

    # --- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> FakeDatabricks:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="fake-databricks", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeDatabricks:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "the fake is not started"
        return self._server.server_address[1]

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def airflow_connection(self) -> str:
        """The `AIRFLOW_CONN_<ID>` JSON for a Databricks connection pointing at this fake."""
        return json.dumps(
            {
                "conn_type": "databricks",
                "host": self.host,
                "port": self.port,
                "schema": "http",
                "password": self.token,
            }
        )

    # --- switches and inspection -----------------------------------------------------------------------
    def fail(
        self,
        method: str,
        path: str,
        status: int = 500,
        error_code: str = "INTERNAL_ERROR",
        message: str = "injected failure",
        times: int | None = None,
    ) -> None:
        """Make `method path` answer with an error, `times` times (None: until `clear_failures`)."""
        self._errors[(method.upper(), path)] = _Error(status, error_code, message, times)

    def clear_failures(self) -> None:
        self._errors.clear()

    def calls_to(self, path: str, method: str | None = None) -> list[Call]:
        """Recorded calls to `path` (API version ignored for jobs: `/jobs/list` matches 2.1 and 2.2)."""
        with self._lock:
            return [
                c
                for c in self.calls
                if (c.path == path or (path.startswith("/jobs/") and c.path.endswith(path)))
                and (method is None or c.method == method.upper())
            ]

    def add_notebook(self, path: str, source: str | bytes, language: str = "PYTHON") -> None:
        """Put a notebook into the fake workspace (parents created), as if imported earlier."""
        data = source.encode() if isinstance(source, str) else source
        with self._lock:
            self._mkdirs(path.rsplit("/", 1)[0] or "/")
            self.workspace[path] = {
                "object_type": "NOTEBOOK",
                "path": path,
                "language": language,
                "content": base64.b64encode(data).decode(),
                "object_id": self._new_id(),
            }

    def notebook_source(self, path: str) -> str:
        """The decoded source of a notebook in the fake workspace."""
        return base64.b64decode(self.workspace[path]["content"]).decode()

    # --- request handling --------------------------------------------------------------------------------
    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def handle(self, method: str, path: str, query: dict[str, str], body: dict[str, Any] | None) -> Any:
        with self._lock:
            self.calls.append(Call(method, path, query, body))
            error = self._errors.get((method, path))
            if error is not None:
                if error.times is not None:
                    error.times -= 1
                    if error.times <= 0:
                        del self._errors[(method, path)]
                raise ApiError(error.status, error.error_code, error.message)
            route = _normalise(path)
            handler = _ROUTES.get((method, route))
            if handler is None:
                raise ApiError(404, "ENDPOINT_NOT_FOUND", f"No API found for '{method} {path}'")
            params = dict(query)
            if body:
                params.update(body)
            return handler(self, params)

    # workspace
    def _mkdirs(self, path: str) -> None:
        parts = [p for p in path.split("/") if p]
        current = ""
        for part in parts:
            current += "/" + part
            existing = self.workspace.get(current)
            if existing is None:
                self.workspace[current] = {
                    "object_type": "DIRECTORY",
                    "path": current,
                    "object_id": self._new_id(),
                }
            elif existing["object_type"] != "DIRECTORY":
                raise ApiError(400, "RESOURCE_ALREADY_EXISTS", f"Path ({current}) already exists.")

    def _get(self, params: dict[str, Any]) -> dict[str, Any]:
        path = _require(params, "path")
        obj = self.workspace.get(path.rstrip("/") or "/")
        if obj is None:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Path ({path}) doesn't exist.")
        return obj

    def ws_mkdirs(self, params: dict[str, Any]) -> dict[str, Any]:
        self._mkdirs(_require(params, "path"))
        return {}

    def ws_get_status(self, params: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in self._get(params).items() if k != "content"}

    def ws_list(self, params: dict[str, Any]) -> dict[str, Any]:
        obj = self._get(params)
        if obj["object_type"] != "DIRECTORY":
            return {"objects": [{k: v for k, v in obj.items() if k != "content"}]}
        prefix = obj["path"].rstrip("/") + "/"
        children = [
            {k: v for k, v in o.items() if k != "content"}
            for p, o in sorted(self.workspace.items())
            if p.startswith(prefix) and "/" not in p[len(prefix) :] and p != obj["path"]
        ]
        return {"objects": children} if children else {}

    def ws_import(self, params: dict[str, Any]) -> dict[str, Any]:
        path = _require(params, "path")
        content = _require(params, "content")
        fmt = params.get("format", "SOURCE")
        if fmt == "SOURCE" and not params.get("language"):
            raise ApiError(
                400, "INVALID_PARAMETER_VALUE", "The language field is required for SOURCE imports."
            )
        try:
            base64.b64decode(content, validate=True)
        except ValueError as exc:
            raise ApiError(400, "INVALID_PARAMETER_VALUE", "content is not valid base64") from exc
        parent = path.rsplit("/", 1)[0] or "/"
        if self.workspace.get(parent, {}).get("object_type") != "DIRECTORY":
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"The parent folder ({parent}) does not exist.")
        existing = self.workspace.get(path)
        if existing is not None and not params.get("overwrite"):
            raise ApiError(400, "RESOURCE_ALREADY_EXISTS", f"Path ({path}) already exists.")
        # AUTO: a source file without a notebook header is a workspace FILE (Databricks' own rule)
        header = base64.b64decode(content)[:40].startswith(b"# Databricks notebook source")
        kind = "FILE" if fmt in ("AUTO", "RAW") and not header else "NOTEBOOK"
        self.workspace[path] = {
            "object_type": kind,
            "path": path,
            "language": params.get("language") if kind == "NOTEBOOK" else None,
            "content": content,
            "object_id": existing["object_id"] if existing else self._new_id(),
        }
        return {}

    def ws_export(self, params: dict[str, Any]) -> dict[str, Any]:
        obj = self._get(params)
        if obj["object_type"] not in ("NOTEBOOK", "FILE"):
            raise ApiError(
                400, "INVALID_PARAMETER_VALUE", "Only notebooks and files can be exported by this fake."
            )
        return {"content": obj["content"], "file_type": "py"}

    # jobs
    def jobs_list(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params.get("name")
        jobs = [
            {"job_id": job_id, "settings": job["settings"], "created_time": job["created_time"]}
            for job_id, job in sorted(self.jobs.items())
            if name is None or job["settings"].get("name", "").lower() == name.lower()
        ]
        return {"jobs": jobs, "has_more": False} if jobs else {"has_more": False}

    def jobs_create(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("tasks"):
            raise ApiError(400, "INVALID_PARAMETER_VALUE", "A job needs at least one task.")
        job_id = self._new_id()
        self.jobs[job_id] = {"settings": dict(params), "created_time": job_id}
        return {"job_id": job_id}

    def _job(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        job_id = int(_require(params, "job_id"))
        if job_id not in self.jobs:
            raise ApiError(400, "INVALID_PARAMETER_VALUE", f"Job {job_id} does not exist.")
        return job_id, self.jobs[job_id]

    def jobs_get(self, params: dict[str, Any]) -> dict[str, Any]:
        job_id, job = self._job(params)
        return {"job_id": job_id, "settings": job["settings"], "created_time": job["created_time"]}

    def jobs_reset(self, params: dict[str, Any]) -> dict[str, Any]:
        _, job = self._job(params)
        job["settings"] = dict(_require(params, "new_settings"))
        return {}

    def _start_run(self, job_id: int | None, name: str, tasks: list[dict[str, Any]], request: dict) -> dict:
        run_id = self._new_id()
        task_runs = [
            {"task_key": t.get("task_key", f"task{i}"), "run_id": self._new_id()} for i, t in enumerate(tasks)
        ]
        self.runs[run_id] = _Run(run_id, job_id, name, task_runs, dict(request), self.run_behaviour)
        return {"run_id": run_id, "number_in_job": run_id}

    def jobs_run_now(self, params: dict[str, Any]) -> dict[str, Any]:
        job_id, job = self._job(params)
        return self._start_run(
            job_id, job["settings"].get("name", ""), job["settings"].get("tasks", []), params
        )

    def runs_submit(self, params: dict[str, Any]) -> dict[str, Any]:
        tasks = params.get("tasks") or []
        if not tasks:
            raise ApiError(400, "INVALID_PARAMETER_VALUE", "A run needs at least one task.")
        return self._start_run(None, params.get("run_name", "Untitled"), tasks, params)

    def _run(self, params: dict[str, Any]) -> _Run:
        run_id = int(_require(params, "run_id"))
        if run_id in self.runs:
            return self.runs[run_id]
        for run in self.runs.values():
            if any(t["run_id"] == run_id for t in run.tasks):
                return run
        raise ApiError(400, "INVALID_PARAMETER_VALUE", f"Run {run_id} does not exist.")

    def _state(self, run: _Run) -> dict[str, Any]:
        if run.cancelled:
            return {
                "life_cycle_state": "TERMINATED",
                "result_state": "CANCELED",
                "state_message": "Run cancelled.",
            }
        if run.behaviour == "hang" or run.polls <= self.polls_before_terminal:
            return {"life_cycle_state": "RUNNING", "state_message": "In run"}
        return {
            "success": {"life_cycle_state": "TERMINATED", "result_state": "SUCCESS", "state_message": ""},
            "fail": {
                "life_cycle_state": "TERMINATED",
                "result_state": "FAILED",
                "state_message": "Task failed.",
            },
            "timeout": {
                "life_cycle_state": "TERMINATED",
                "result_state": "TIMEDOUT",
                "state_message": "Run timed out.",
            },
        }[run.behaviour]

    def runs_get(self, params: dict[str, Any]) -> dict[str, Any]:
        run = self._run(params)
        run.polls += 1
        state = self._state(run)
        return {
            "run_id": run.run_id,
            "job_id": run.job_id,
            "run_name": run.run_name,
            "state": state,
            "run_page_url": f"{self._base_url()}/#job/{run.job_id}/run/{run.run_id}",
            "tasks": [{**t, "state": state} for t in run.tasks],
        }

    def runs_get_output(self, params: dict[str, Any]) -> dict[str, Any]:
        run = self._run(params)
        run_id = int(params["run_id"])
        if run_id == run.run_id and len(run.tasks) > 1:
            raise ApiError(
                400,
                "INVALID_PARAMETER_VALUE",
                "Retrieving the output of runs with multiple tasks is not supported.",
            )
        state = self._state(run)
        out: dict[str, Any] = {"metadata": {"run_id": run_id, "state": state}}
        if state.get("result_state") == "FAILED":
            out["error"] = "Exception: notebook failed"
            out["error_trace"] = "Traceback (most recent call last): ..."
        elif state.get("result_state") == "SUCCESS" and self.notebook_result is not None:
            out["notebook_output"] = {"result": self.notebook_result, "truncated": False}
        return out

    def runs_cancel(self, params: dict[str, Any]) -> dict[str, Any]:
        self._run(params).cancelled = True
        return {}

    def _base_url(self) -> str:
        return self.url if self._server is not None else "http://127.0.0.1"


def _require(params: dict[str, Any], name: str) -> Any:
    if params.get(name) in (None, ""):
        raise ApiError(400, "INVALID_PARAMETER_VALUE", f"Missing required field: {name}")
    return params[name]


def _normalise(path: str) -> str:
    """Jobs are served under both API 2.1 (the provider) and 2.2 (the SDK)."""
    for version in ("/api/2.1/jobs/", "/api/2.2/jobs/"):
        if path.startswith(version):
            return "/jobs/" + path[len(version) :]
    return path


_ROUTES = {
    ("POST", "/api/2.0/workspace/mkdirs"): FakeDatabricks.ws_mkdirs,
    ("POST", "/api/2.0/workspace/import"): FakeDatabricks.ws_import,
    ("GET", "/api/2.0/workspace/export"): FakeDatabricks.ws_export,
    ("GET", "/api/2.0/workspace/get-status"): FakeDatabricks.ws_get_status,
    ("GET", "/api/2.0/workspace/list"): FakeDatabricks.ws_list,
    ("GET", "/jobs/list"): FakeDatabricks.jobs_list,
    ("POST", "/jobs/create"): FakeDatabricks.jobs_create,
    ("POST", "/jobs/reset"): FakeDatabricks.jobs_reset,
    ("GET", "/jobs/get"): FakeDatabricks.jobs_get,
    ("POST", "/jobs/run-now"): FakeDatabricks.jobs_run_now,
    ("POST", "/jobs/runs/submit"): FakeDatabricks.runs_submit,
    ("GET", "/jobs/runs/get"): FakeDatabricks.runs_get,
    ("GET", "/jobs/runs/get-output"): FakeDatabricks.runs_get_output,
    ("POST", "/jobs/runs/cancel"): FakeDatabricks.runs_cancel,
}


class _Handler(BaseHTTPRequestHandler):
    fake: FakeDatabricks

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            if self.headers.get("Authorization") != f"Bearer {self.fake.token}":
                raise ApiError(
                    401, "UNAUTHENTICATED", "Credential was not sent or was of an unsupported type."
                )
            try:
                body = json.loads(raw) if raw else None
            except json.JSONDecodeError as exc:
                raise ApiError(400, "MALFORMED_REQUEST", f"Invalid JSON given in the body: {exc}") from exc
            status, payload = 200, self.fake.handle(self.command, url.path, query, body)
        except ApiError as exc:
            status, payload = exc.status, {"error_code": exc.error_code, "message": exc.message}
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_DELETE = _dispatch
