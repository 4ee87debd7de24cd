"""The HTTP side of the local workspace: the REST API `databricks-sdk` and the Airflow Databricks provider call, on
aiohttp's low-level server with the REST Proxy's connection protocol (`local_stack.rest_proxy.connection`: a request
must arrive within the request timeout, a cap on open connections, idle keep-alive connections closed).

Every request needs the workspace's token (`Authorization: Bearer <token>`, or Basic auth with user `token` and the
token as password, as Databricks accepts): none is 401, a wrong one 403 `Invalid access token.` (Databricks'
answers). An endpoint not served is 404 `ENDPOINT_NOT_FOUND`, every error has Databricks' body
`{"error_code": ..., "message": ...}`. Served: Workspace 2.0, Jobs 2.1 and 2.2 (the same handlers), Secrets 2.0
(see `objects.py`, `jobs.py`, `secrets.py`), and SCIM `Me` (the one local user, whose home folder exists). `WorkspaceServer` binds, `serve_forever()` serves in the calling thread
until `shutdown()` (which stops the active runs first).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import orjson
from aiohttp import http_exceptions, web

from databricks_local.workspace import secrets
from databricks_local.workspace.errors import ApiError, invalid, malformed, no_endpoint
from databricks_local.workspace.executor import DEFAULT_RUNNER, Executor
from databricks_local.workspace.jobs import USER, Jobs
from databricks_local.workspace.objects import Workspace
from databricks_local.workspace.store import Store
from local_stack.rest_proxy.connection import Connection, LoopbackHttpServer, WebServer

log = logging.getLogger("databricks_workspace")

JSON_TYPE = "application/json"
MAX_BODY_BYTES = 16 * 1024 * 1024  # a 10 MB import, base64-encoded, fits
DEFAULT_REQUEST_TIMEOUT = 30.0
DEFAULT_IDLE_TIMEOUT = 75.0
DEFAULT_MAX_CONNECTIONS = 256
MISSING_TOKEN = "Credential was not sent or was of an unsupported type for this API."
WRONG_TOKEN = "Invalid access token."
#: The host metadata `databricks-sdk` probes first: an AWS workspace without OIDC (a token is the only credential).
HOST_METADATA_PATH = "/.well-known/databricks-config"
HOST_METADATA = {"cloud": "aws", "oidc_endpoint": ""}


def json_answer(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status, body=orjson.dumps(payload), headers={"Content-Type": JSON_TYPE, **(headers or {})}
    )


class WorkspaceConnection(Connection):
    """The REST Proxy's connection, with Databricks' error body for what aiohttp's parser refuses."""

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if exc is None or status >= 500:
            status, code, text = 500, "INTERNAL_ERROR", "Internal server error"
        else:
            status, code = 400, "MALFORMED_REQUEST"
            text = f"Malformed request: {getattr(exc, 'message', '') or exc}".split("\n")[0]
        response = json_answer(status, {"error_code": code, "message": text}, {"Connection": "close"})
        response.force_close()
        return response


class _WorkspaceWebServer(WebServer):
    """aiohttp's low-level server, making `WorkspaceConnection`s."""

    def __call__(self) -> WorkspaceConnection:  # type: ignore[override]
        return WorkspaceConnection(self, proxy=self._proxy, loop=self._loop, **self._kwargs)


Handler = Callable[[dict[str, Any], bytes | None], Awaitable[Any] | Any]


class WorkspaceServer(LoopbackHttpServer):
    """A bound local workspace over one state directory."""

    web_server_class = _WorkspaceWebServer
    backlog = 256
    drain_timeout = 5.0

    def __init__(
        self,
        address: tuple[str, int],
        state_dir: Path,
        token: str,
        *,
        runner: Sequence[str] = DEFAULT_RUNNER,
        run_env: Mapping[str, str] | None = None,
        max_parallel_runs: int = 2,
        kill_grace: float = 5.0,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        public_url: str | None = None,
    ) -> None:
        if not token:
            raise ValueError("the workspace needs a token")
        super().__init__(address)
        host, port = self.server_address
        self.url = public_url or f"http://{host}:{port}"
        self.token = token.encode()
        self.store = Store(Path(state_dir))
        self.workspace = Workspace(self.store, home=f"/Users/{USER}")
        self.jobs = Jobs(self.store, self.url)
        self.runner = list(runner)
        self.run_env = dict(os.environ if run_env is None else run_env)
        self.max_parallel_runs = max_parallel_runs
        self.kill_grace = kill_grace
        self.request_timeout = request_timeout
        self.idle_timeout = idle_timeout
        self.max_connections = max_connections
        self.open_connections = 0
        self.refused = 0
        self.executor: Executor | None = None
        self.routes: dict[tuple[str, str], Handler] = self._routes()

    # --- routes ------------------------------------------------------------------------------------
    def _routes(self) -> dict[tuple[str, str], Handler]:
        ws, jobs, store = self.workspace, self.jobs, self.store
        routes: dict[tuple[str, str], Handler] = {
            ("POST", "/api/2.0/workspace/import"): lambda b, content: ws.import_(b, content),
            ("GET", "/api/2.0/workspace/export"): self._export,
            ("GET", "/api/2.0/workspace/get-status"): lambda q, _: ws.get_status(q),
            ("GET", "/api/2.0/workspace/list"): lambda q, _: ws.list(q),
            ("POST", "/api/2.0/workspace/mkdirs"): lambda b, _: ws.mkdirs(b),
            ("POST", "/api/2.0/workspace/delete"): lambda b, _: ws.delete(b),
            ("GET", "/api/2.0/preview/scim/v2/Me"): lambda _q, _c: current_user(),
            ("POST", "/api/2.0/secrets/scopes/create"): lambda b, _: secrets.create_scope(store, b),
            ("GET", "/api/2.0/secrets/scopes/list"): lambda q, _: secrets.list_scopes(store, q),
            ("POST", "/api/2.0/secrets/scopes/delete"): lambda b, _: secrets.delete_scope(store, b),
            ("POST", "/api/2.0/secrets/put"): lambda b, _: secrets.put_secret(store, b),
            ("GET", "/api/2.0/secrets/list"): lambda q, _: secrets.list_secrets(store, q),
            ("POST", "/api/2.0/secrets/delete"): lambda b, _: secrets.delete_secret(store, b),
            ("GET", "/api/2.0/secrets/get"): lambda q, _: secrets.get_secret(store, q),
        }
        for version in ("2.1", "2.2"):
            base = f"/api/{version}/jobs"
            routes.update(
                {
                    ("POST", f"{base}/create"): lambda b, _: jobs.create(b),
                    ("POST", f"{base}/reset"): lambda b, _: jobs.reset(b),
                    ("POST", f"{base}/update"): lambda b, _: jobs.update(b),
                    ("GET", f"{base}/get"): lambda q, _: jobs.get(q),
                    ("GET", f"{base}/list"): lambda q, _: jobs.list(q),
                    ("POST", f"{base}/delete"): lambda b, _: jobs.delete(b),
                    ("POST", f"{base}/run-now"): self._run_now,
                    ("POST", f"{base}/runs/submit"): self._submit,
                    ("GET", f"{base}/runs/get"): lambda q, _: jobs.get_run(q),
                    ("GET", f"{base}/runs/get-output"): lambda q, _: jobs.get_output(q),
                    ("GET", f"{base}/runs/list"): lambda q, _: jobs.list_runs(q),
                    ("POST", f"{base}/runs/cancel"): self._cancel,
                    ("POST", f"{base}/runs/cancel-all"): self._cancel_all,
                    ("POST", f"{base}/runs/delete"): lambda b, _: jobs.delete_run(b),
                }
            )
        return routes

    def _export(self, query: dict[str, Any], _content: bytes | None) -> Any:
        data, answer = self.workspace.export(query)
        if str(query.get("direct_download", "")).lower() == "true":
            return web.Response(status=200, body=data, headers={"Content-Type": "application/octet-stream"})
        return {"content": base64.b64encode(data).decode("ascii"), **answer}

    def _run_now(self, body: dict[str, Any], _content: bytes | None) -> Any:
        return self._idempotent(body, self.jobs.run_now)

    def _submit(self, body: dict[str, Any], _content: bytes | None) -> Any:
        return self._idempotent(body, self.jobs.submit)

    def _idempotent(self, body: dict[str, Any], create: Callable[[dict[str, Any]], dict[str, Any]]) -> Any:
        """A run, or the run an earlier request with the same `idempotency_token` made (as Databricks does)."""
        token = body.get("idempotency_token")
        if token:
            if len(str(token)) > 64:
                raise invalid("idempotency_token must be at most 64 characters")
            existing = self.store.run_of_token(str(token))
            if existing is not None and (run := self.store.get_run(existing)) is not None:
                earlier: dict[str, Any] = {"run_id": run["run_id"]}
                if run.get("job_id") is not None:
                    earlier["number_in_job"] = run["number_in_job"]
                return earlier
        answer = create(body)
        if token:
            self.store.remember_token(str(token), answer["run_id"])
        self._start_run(answer["run_id"])
        return answer

    def _start_run(self, run_id: int) -> None:
        assert self.executor is not None
        run = self.store.get_run(run_id)
        assert run is not None
        job_id = run.get("job_id")
        if job_id is not None:
            job = self.store.get_job(job_id) or {}
            limit = int(job.get("settings", {}).get("max_concurrent_runs") or 1)
            active = [
                r
                for r in self.store.runs(job_id)
                if r["run_id"] != run_id
                and r["state"]["life_cycle_state"] in ("PENDING", "RUNNING", "TERMINATING")
            ]
            if len(active) >= limit:
                message = f"Skipping this run because the limit of {limit} maximum concurrent runs has been reached."
                for task in run["tasks"]:
                    self.executor._finish_task(
                        task, "SKIPPED", "MAXIMUM_CONCURRENT_RUNS_REACHED", message, {}
                    )
                self.executor._finish_run(run, "SKIPPED", "MAXIMUM_CONCURRENT_RUNS_REACHED", message)
                return
        self.executor.start(run_id)

    def _cancel(self, body: dict[str, Any], _content: bytes | None) -> Any:
        assert self.executor is not None
        run_id = body.get("run_id")
        if run_id is None:
            raise invalid("Missing required field: run_id")
        self.executor.cancel(run_id)
        return {}

    def _cancel_all(self, body: dict[str, Any], _content: bytes | None) -> Any:
        assert self.executor is not None
        job_id = body.get("job_id")
        if job_id is None and not body.get("all_queued_runs"):
            raise invalid("Missing required field: job_id")
        if job_id is not None:
            self.jobs.job(job_id)
        for run in list(self.store.runs(None if job_id is None else int(job_id))):
            if run["state"]["life_cycle_state"] in ("PENDING", "RUNNING"):
                self.executor.cancel(run["run_id"])
        return {}

    # --- life cycle ----------------------------------------------------------------------------------
    async def _on_start(self) -> None:
        self.executor = Executor(
            self.jobs,
            self.workspace,
            runner=self.runner,
            env=self.run_env,
            max_parallel=self.max_parallel_runs,
            kill_grace=self.kill_grace,
        )
        self.executor.recover()

    async def _on_stop(self) -> None:
        assert self.executor is not None
        await self.executor.shutdown()

    def server_close(self) -> None:
        self.socket.close()
        self.store.close()

    # --- dispatch ------------------------------------------------------------------------------------
    async def _dispatch(self, request: web.BaseRequest) -> web.StreamResponse:
        started = time.perf_counter()
        connection = request.protocol
        first_byte = (
            connection.request_began(request)
            if isinstance(connection, Connection)
            else asyncio.get_running_loop().time()
        )
        try:
            response = await self._handle(request, first_byte)
        except ApiError as exc:
            headers = {"X-Databricks-Reason-Phrase": exc.message} if exc.status in (401, 403) else {}
            response = json_answer(exc.status, exc.body(), headers)
            if exc.status in (408, 413) and isinstance(connection, Connection):
                connection.no_lingering()
                response.force_close()
        except Exception:
            log.exception("internal error on %s %s", request.method, request.path)
            response = json_answer(500, {"error_code": "INTERNAL_ERROR", "message": "Internal server error"})
        if self.closing:
            response.force_close()
        level = logging.INFO if response.status >= 400 else logging.DEBUG
        if log.isEnabledFor(level):
            log.log(
                level,
                "%s %s %d %.1f ms",
                request.method,
                request.path,
                response.status,
                (time.perf_counter() - started) * 1000,
            )
        return response

    def _authenticate(self, request: web.BaseRequest) -> None:
        header = request.headers.get("Authorization", "")
        scheme, _, credential = header.partition(" ")
        credential = credential.strip()
        if scheme.lower() == "basic" and credential:
            try:
                user, _, credential = base64.b64decode(credential, validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                raise ApiError(401, 401, MISSING_TOKEN) from None
            if user != "token":
                raise ApiError(401, 401, MISSING_TOKEN)
        elif scheme.lower() != "bearer" or not credential:
            raise ApiError(401, 401, MISSING_TOKEN)
        if not hmac.compare_digest(credential.encode(), self.token):
            raise ApiError(403, 403, WRONG_TOKEN)

    async def _handle(self, request: web.BaseRequest, first_byte: float) -> web.StreamResponse:
        path = request.path.rstrip("/") or "/"
        if path == HOST_METADATA_PATH and request.method in ("GET", "HEAD"):
            # unauthenticated on Databricks too: the SDK reads it before it sends credentials
            return json_answer(200, HOST_METADATA)
        self._authenticate(request)
        method = "GET" if request.method == "HEAD" else request.method
        handler = self.routes.get((method, path))
        if handler is None:
            raise no_endpoint(request.method, path)
        body = await self._read_body(request, first_byte)
        params: dict[str, Any] = dict(parse_qsl(request.query_string, keep_blank_values=True))
        content: bytes | None = None
        content_type = request.headers.get("Content-Type", "")
        if body and content_type.startswith("multipart/form-data"):
            fields, content = _multipart(content_type, body)
            params.update(fields)
        elif body:
            try:
                parsed = orjson.loads(body)
            except orjson.JSONDecodeError as exc:
                raise malformed(f"Invalid JSON given in the body of the request: {exc}") from None
            if not isinstance(parsed, dict):
                raise malformed("The body of the request must be a JSON object")
            params.update(parsed)
        answer = handler(params, content)
        if asyncio.iscoroutine(answer):
            answer = await answer
        if isinstance(answer, web.StreamResponse):
            return answer
        return json_answer(200, answer)

    async def _read_body(self, request: web.BaseRequest, first_byte: float) -> bytes:
        length = request.content_length
        if length is not None and length > MAX_BODY_BYTES:
            raise ApiError(
                413, "REQUEST_LIMIT_EXCEEDED", f"The request body is larger than {MAX_BODY_BYTES} bytes"
            )
        chunks: list[bytes] = []
        total = 0
        remaining = first_byte + self.request_timeout - asyncio.get_running_loop().time()
        try:
            async with asyncio.timeout(max(0.0, remaining)):
                async for chunk in request.content.iter_chunked(1 << 20):
                    total += len(chunk)
                    if total > MAX_BODY_BYTES:
                        raise ApiError(
                            413,
                            "REQUEST_LIMIT_EXCEEDED",
                            f"The request body is larger than {MAX_BODY_BYTES} bytes",
                        )
                    chunks.append(chunk)
        except TimeoutError:
            raise ApiError(408, "REQUEST_TIMEOUT", "The request body did not arrive in time") from None
        except (http_exceptions.HttpProcessingError, ValueError):
            raise malformed("Invalid chunked body") from None
        if length is not None and total < length:
            raise malformed("The request body ended early")
        return b"".join(chunks)


def current_user() -> dict[str, Any]:
    """SCIM `Me`: the one user of the local workspace (every token holder), whose home is `/Users/<userName>`."""
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "1",
        "userName": USER,
        "displayName": "Local User",
        "active": True,
        "emails": [{"value": USER, "type": "work", "primary": True}],
        "name": {"givenName": "Local", "familyName": "User"},
        "groups": [{"display": "users", "value": "users"}],
    }


def _multipart(content_type: str, body: bytes) -> tuple[dict[str, str], bytes | None]:
    """Fields and the `content` part of a multipart/form-data body (what the SDK's `workspace.upload` sends)."""
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode() + body
    )
    if not message.is_multipart():
        raise malformed("Invalid multipart body")
    fields: dict[str, str] = {}
    content: bytes | None = None
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if name == "content":
            content = payload
        elif name:
            fields[str(name)] = payload.decode("utf-8", "replace")
    return fields, content


def make_server(host: str, port: int, state_dir: Path, token: str, **kwargs: Any) -> WorkspaceServer:
    return WorkspaceServer((host, port), state_dir, token, **kwargs)
