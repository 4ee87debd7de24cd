"""The command line of the local workspace: `python -m databricks_local.workspace --port 8090 --state-dir DIR
--token-file FILE` (what the stack's supervisor runs). Binds, serves until SIGTERM/SIGINT, then stops the active
runs (their process groups) and answers the requests in flight; a port in use is a clear error (exit 2)."""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys
from pathlib import Path

from databricks_local.workspace.access_token import ensure_token
from databricks_local.workspace.executor import DEFAULT_RUNNER
from databricks_local.workspace.server import (
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_REQUEST_TIMEOUT,
    WorkspaceServer,
)
from local_stack.rest_proxy.connection import (
    add_connection_options,
    connection_limits,
    serve_until_signalled,
)

log = logging.getLogger("databricks_workspace")
DEFAULT_PORT = 8090


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m databricks_local.workspace",
        description=(
            "A local Databricks workspace: the Workspace 2.0, Jobs 2.1/2.2 and Secrets 2.0 REST API that "
            "databricks-sdk and the Airflow Databricks provider call. Imported notebooks and files, jobs, runs and "
            "secrets are kept under --state-dir; each task run executes the imported notebook with "
            "`python -m local_stack.notebook_runner run` in its own process group."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (loopback only by default)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port to listen on")
    parser.add_argument("--state-dir", type=Path, required=True, help="where the workspace keeps its state")
    parser.add_argument(
        "--token-file",
        type=Path,
        help="the access token's file (created 0600 if missing); default STATE/token",
    )
    parser.add_argument(
        "--runner",
        default=shlex.join(DEFAULT_RUNNER),
        help="command that runs a notebook (`run --workspace ... --result FILE NOTEBOOK` is appended)",
    )
    parser.add_argument("--max-parallel-runs", type=int, default=2, help="task runs executing at once")
    parser.add_argument(
        "--kill-grace", type=float, default=5.0, help="seconds between SIGTERM and SIGKILL of a stopped run"
    )
    add_connection_options(
        parser,
        request_timeout=DEFAULT_REQUEST_TIMEOUT,
        idle_timeout=DEFAULT_IDLE_TIMEOUT,
        max_connections=DEFAULT_MAX_CONNECTIONS,
    )
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser


def serve(server: WorkspaceServer) -> int:
    """Serve until SIGTERM/SIGINT, then stop the active runs and answer the requests in flight."""
    log.info("local Databricks workspace listening on %s (state %s)", server.url, server.store.root)
    try:
        serve_until_signalled(server, log)
    finally:
        log.info("stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    os.umask(0o077)  # the state holds secrets: every file and directory is its owner's only
    state = args.state_dir.absolute()
    token = ensure_token(args.token_file or state / "token")
    try:
        server = WorkspaceServer(
            (args.host, args.port),
            state,
            token,
            runner=shlex.split(args.runner),
            max_parallel_runs=args.max_parallel_runs,
            kill_grace=args.kill_grace,
            **connection_limits(args),
        )
    except OSError as exc:
        print(f"databricks: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    return serve(server)
