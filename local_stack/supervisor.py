"""Bring the whole local stack up, report it, and take it down: the `Stack` API and what the CLI calls.

`up` starts, in order, LocalStack, (the Tansu storage bucket,) Tansu, the REST Proxy, then applies
`terraform/envs/local` and starts the S3 sink on the bucket terraform made. It is idempotent: a component
that already runs (and is ours, and healthy) is reported "already up" and left alone, and terraform is only
re-applied when LocalStack is new (a fresh LocalStack keeps nothing, so the old local state is dropped first)
or no outputs were recorded. `down` stops, in reverse order and by PID, only what this state dir started.
After `up`, every socket the stack's processes (and their children) listen on must be on loopback: `up` reads them
from /proc/net/tcp{,6} and fails with the offending process named otherwise. The outputs file (it holds the API
key) is written 0600.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local_stack import components, terraform_env
from local_stack import config as cfg
from local_stack.config import StackConfig
from local_stack.processes import (
    HealthCheckError,
    Listener,
    ProcessPaths,
    StackError,
    ensure_port_free,
    http_ok,
    listeners,
    running_pid,
    start,
    stop,
    wait_for,
    wait_healthy,
    write_private,
)

TOPIC_PARTITIONS = 1
#: Where LocalStack's API Gateway reaches the REST Proxy inside the compose network (Docker mode).
DOCKER_REST_PROXY_URL = f"http://{cfg.REST_PROXY}:{cfg.REST_PROXY_PORT}"


@dataclass
class StackInfo:
    """Where everything is, for tests, the emulator and the demo."""

    user_id: str
    localstack_url: str
    bootstrap_servers: str
    rest_proxy_url: str
    bucket: str
    invoke_url: str | None
    api_key: str | None
    outputs: dict[str, Any]
    started: list[str] = field(default_factory=list)  # components this call started


def _print(message: str) -> None:
    print(message, flush=True)


class Stack:
    """One local stack, identified by its state dir (PID files, logs, outputs)."""

    def __init__(
        self,
        config: StackConfig | None = None,
        *,
        say: Callable[[str], None] = _print,
        **overrides: Any,
    ) -> None:
        base = config or StackConfig.from_env()
        if "state_dir" in overrides:
            overrides["state_dir"] = Path(overrides["state_dir"]).absolute()
        self.config = dataclasses.replace(base, **overrides) if overrides else base
        self.say = say

    # --- bookkeeping ---------------------------------------------------------------------------------
    def paths(self, name: str) -> ProcessPaths:
        return ProcessPaths.for_component(self.config.state_dir, name)

    def pid(self, name: str) -> int | None:
        return running_pid(self.paths(name))

    def component(self, name: str, bucket: str | None = None) -> components.Component:
        c = self.config
        if name == cfg.LOCALSTACK:
            return components.localstack(c)
        if name == cfg.TANSU:
            return components.tansu(c)
        if name == cfg.REST_PROXY:
            return components.rest_proxy(c)
        if name == cfg.S3_SINK:
            return components.s3_sink(c, bucket or self.bucket())
        raise StackError(f"unknown component {name!r}; expected one of {', '.join(cfg.COMPONENTS)}")

    def bucket(self) -> str:
        return str(self.recorded_outputs().get("bucket_name") or self.config.names.bucket)

    @property
    def applied_file(self) -> Path:
        """Which user_id and LocalStack process the recorded outputs belong to."""
        return self.config.run_dir / "terraform-applied.json"

    def recorded_outputs(self, for_running_localstack: bool = False) -> dict[str, Any]:
        """Terraform outputs `up` recorded for this user_id (optionally: only if applied to this LocalStack)."""
        try:
            applied = json.loads(self.applied_file.read_text())
            raw = json.loads(self.config.outputs_file.read_text())
        except (OSError, ValueError):
            return {}
        if applied.get("user_id") != self.config.user_id:
            return {}
        if for_running_localstack and applied.get("localstack_pid") != self.pid(cfg.LOCALSTACK):
            return {}
        return terraform_env.unwrap(raw)

    # --- start one component -------------------------------------------------------------------------
    def ensure(self, name: str, bucket: str | None = None) -> bool:
        """Start `name` unless it already runs; returns True when it was started now."""
        comp = self.component(name, bucket)
        paths = self.paths(name)
        pid = running_pid(paths)
        if pid is not None:
            wait_healthy(paths, pid, comp.check, comp.timeout, comp.health)
            self.say(f"  {name:<11} already up  {comp.address}  (pid {pid})")
            return False
        paths.pid.unlink(missing_ok=True)
        if comp.port is not None:
            ensure_port_free(name, self.config.host, comp.port)
        if name == cfg.TANSU:
            components.check_tansu_version(Path(comp.argv[0]))
        if name == cfg.LOCALSTACK:
            components.prepare_localstack_root(self.config)
        t0 = time.monotonic()
        pid = start(paths, comp.argv, comp.env, comp.cwd)
        try:
            wait_healthy(paths, pid, comp.check, comp.timeout, comp.health)
        except HealthCheckError:
            stop(paths)
            raise
        self.say(f"  {name:<11} started     {comp.address}  (pid {pid}, {time.monotonic() - t0:.1f}s)")
        return True

    # --- the whole stack -----------------------------------------------------------------------------
    def up(self, reapply: bool = False) -> StackInfo:
        """Start what is not running, apply terraform when needed (or when `reapply`), start the sink."""
        c = self.config
        self.say(f"local stack (user_id={c.user_id}, state {c.state_dir}):")
        started: list[str] = []
        if self.ensure(cfg.LOCALSTACK):
            started.append(cfg.LOCALSTACK)
            # Everything downstream kept state in the LocalStack that is gone: restart it on the new one.
            for name in (cfg.S3_SINK, cfg.REST_PROXY, cfg.TANSU):
                if stop(self.paths(name)):
                    self.say(f"  {name:<11} stopped (LocalStack is new)")
            terraform_env.drop_state(c)
            self.applied_file.unlink(missing_ok=True)
        self.ensure_bucket(c.tansu_bucket)
        if self.ensure(cfg.TANSU):
            started.append(cfg.TANSU)
        self.ensure_topics()
        if self.ensure(cfg.REST_PROXY):
            started.append(cfg.REST_PROXY)
        outputs = {} if reapply else self.recorded_outputs(for_running_localstack=True)
        if not outputs:
            t0 = time.monotonic()
            raw = terraform_env.apply(c, log=c.log_dir / "terraform.log")
            self.record_outputs(raw)
            outputs = terraform_env.unwrap(raw)
            self.say(f"  {'terraform':<11} applied     {c.terraform_dir} ({time.monotonic() - t0:.1f}s)")
        else:
            self.say(f"  {'terraform':<11} already applied (outputs: {c.outputs_file})")
        bucket = str(outputs.get("bucket_name") or c.names.bucket)
        if self.ensure(cfg.S3_SINK, bucket):
            started.append(cfg.S3_SINK)
        self.check_loopback()
        self.install_course_credentials()
        info = self.info(outputs, started)
        self.say(f"  invoke URL  {info.invoke_url}")
        self.say(f"  bucket      s3://{info.bucket}  (lake: s3://{info.bucket}/topics/)")
        self.say(f"  outputs     {c.outputs_file}")
        return info

    def up_docker(self) -> StackInfo:
        """Docker mode: `docker compose up -d`, then the same terraform apply (API -> http://rest-proxy:8082)."""
        c = self.config
        if docker_compose("up", "-d", "--build") != 0:
            raise StackError("docker: `docker compose up` failed (see its output above)")
        if not wait_for(lambda: http_ok(f"{c.localstack_url}/_localstack/health"), timeout=120):
            raise StackError(f"localstack: the container did not answer at {c.localstack_url} within 120s")
        raw = terraform_env.apply(c, log=c.log_dir / "terraform.log", rest_proxy_url=DOCKER_REST_PROXY_URL)
        self.record_outputs(raw)
        self.install_course_credentials()
        info = self.info(terraform_env.unwrap(raw))
        self.say(f"  invoke URL  {info.invoke_url}")
        self.say(f"  bucket      s3://{info.bucket}")
        return info

    def install_course_credentials(self) -> None:
        """The course's `authentication_credentials` table and CSV in the local DBFS (`databricks_local.credentials`)."""
        from databricks_local.credentials import install

        written = install(self.config)
        self.say(
            f"  {'credentials':<11} {written['table']} (and {written['csv'].name}, key {written['access_key_id']})"
        )

    def info(self, outputs: dict[str, Any] | None = None, started: list[str] | None = None) -> StackInfo:
        c = self.config
        outputs = self.recorded_outputs() if outputs is None else outputs
        return StackInfo(
            user_id=c.user_id,
            localstack_url=c.localstack_url,
            bootstrap_servers=c.bootstrap_servers,
            rest_proxy_url=c.rest_proxy_url,
            bucket=str(outputs.get("bucket_name") or c.names.bucket),
            invoke_url=outputs.get("invoke_url"),
            api_key=outputs.get("api_key"),
            outputs=outputs,
            started=list(started or []),
        )

    def record_outputs(self, raw: dict[str, Any]) -> None:
        """Write `terraform output -json` to the outputs file (the emulator's fallback) and what it belongs to."""
        write_private(self.config.outputs_file, json.dumps(raw, indent=2))  # holds the API key
        self.applied_file.parent.mkdir(parents=True, exist_ok=True)
        applied = {"user_id": self.config.user_id, "localstack_pid": self.pid(cfg.LOCALSTACK)}
        self.applied_file.write_text(json.dumps(applied))

    def down(self, names: list[str] | None = None) -> list[str]:
        """Stop (reverse order, by PID) the components of this state dir; returns those that were running."""
        stopped = []
        for name in reversed(cfg.COMPONENTS):
            if names is not None and name not in names:
                continue
            if stop(self.paths(name), timeout=20):
                stopped.append(name)
                self.say(f"  {name:<11} stopped")
            else:
                self.say(f"  {name:<11} not running")
        return stopped

    def restart(self, name: str) -> None:
        """Stop and start one component. LocalStack is only restarted with everything that depends on it."""
        if name not in cfg.COMPONENTS:
            raise StackError(f"unknown component {name!r}; expected one of {', '.join(cfg.COMPONENTS)}")
        if name == cfg.LOCALSTACK:
            self.down()
            self.up()
            return
        bucket = self.bucket()
        stop(self.paths(name), timeout=20)
        self.say(f"  {name:<11} stopped")
        self.ensure(name, bucket)

    def listeners(self) -> list[Listener]:
        """Every TCP socket the running components of this state dir (and their children) listen on."""
        pids = [pid for name in cfg.COMPONENTS if (pid := self.pid(name)) is not None]
        return listeners(pids)

    def check_loopback(self) -> None:
        """Fail, naming the process, when a component listens on anything but loopback (other hosts could reach it)."""
        public = [li for li in self.listeners() if not li.loopback]
        if public:
            raise StackError(
                "local stack: these processes listen on a non-loopback address, which other machines can reach: "
                + "; ".join(map(str, public))
                + ". Stop the stack (`make local-down`); local_stack/loopback binds LocalStack and its Kinesis engine "
                "to 127.0.0.1, so a LocalStack other than the pinned one may need the same patch."
            )

    def status(self) -> list[dict[str, Any]]:
        rows = []
        for name in cfg.COMPONENTS:
            try:
                comp = self.component(name, self.bucket())
            except StackError as exc:
                rows.append({"component": name, "pid": None, "address": "-", "health": f"unavailable: {exc}"})
                continue
            pid = self.pid(name)
            healthy = components.is_healthy(comp.check, comp.port, self.config.host)
            if pid is None:
                health = "port taken by another process" if healthy and comp.port else "down"
            else:
                health = "healthy" if healthy else "unhealthy"
            rows.append({"component": name, "pid": pid, "address": comp.address, "health": health})
        return rows

    # --- resources the stack needs before terraform --------------------------------------------------
    def s3(self) -> Any:
        from local_stack.s3_sink import make_s3

        return make_s3(self.config.localstack_url, self.config.region, cfg.TEST_CREDENTIALS)

    def ensure_bucket(self, bucket: str) -> None:
        """Create the bucket Tansu stores its log segments in (idempotent)."""
        from botocore.exceptions import BotoCoreError, ClientError

        s3 = self.s3()
        try:
            s3.head_bucket(Bucket=bucket)
            return
        except ClientError:
            pass  # 404: create it
        except BotoCoreError as exc:
            raise StackError(
                f"localstack: S3 at {self.config.localstack_url} does not answer: {exc}"
            ) from exc
        try:
            s3.create_bucket(Bucket=bucket)
        except (BotoCoreError, ClientError) as exc:
            raise StackError(f"localstack: cannot create bucket s3://{bucket}: {exc}") from exc
        self.say(f"  {'bucket':<11} created     s3://{bucket}")

    def ensure_topics(self, topics: list[str] | None = None) -> None:
        """Create the user's topics on the broker (what the course's EC2 client does with kafka-topics.sh)."""
        from local_stack.rest_proxy import ensure_topics

        wanted = topics or list(self.config.names.topics.values())
        try:
            created = ensure_topics(self.config.bootstrap_servers, wanted, partitions=TOPIC_PARTITIONS)
        except RuntimeError as exc:
            raise StackError(f"tansu: cannot create topics {', '.join(wanted)}: {exc}") from exc
        if created:
            self.say(f"  {'topics':<11} created     {', '.join(created)}")


# --- Docker mode -------------------------------------------------------------------------------------
COMPOSE_FILE = cfg.REPO_ROOT / "docker-compose.yml"


def docker_compose(*args: str) -> int:
    """`docker compose -f docker-compose.yml <args>`, with a clear error when Docker is not usable here."""
    docker = shutil.which("docker")
    if docker is None:
        raise StackError("docker: the docker CLI is not installed; use the host-mode stack (--stack host)")
    probe = subprocess.run([docker, "info"], capture_output=True, text=True)
    if probe.returncode != 0:
        reason = (probe.stderr or probe.stdout).strip().splitlines()[-1:] or ["no answer"]
        raise StackError(
            f"docker: no Docker engine is reachable ({reason[0]}); start Docker or use --stack host"
        )
    return subprocess.run(
        [docker, "compose", "-f", str(COMPOSE_FILE), *args], env=components.base_env()
    ).returncode


def format_status(rows: list[dict[str, Any]]) -> str:
    header = f"{'component':<11}  {'pid':>7}  {'health':<9}  address"
    lines = [header, "-" * len(header)]
    for row in rows:
        pid = str(row["pid"]) if row["pid"] else "-"
        lines.append(f"{row['component']:<11}  {pid:>7}  {row['health']:<9}  {row['address']}")
    return "\n".join(lines)
