"""Start, health-check and stop the local stack's background processes by PID.

Each component runs detached (own session) with its output in `<state>/logs/<name>.log` and its PID in
`<state>/run/<name>.pid`. The PID file also records the command line, so `is_running` only trusts a PID whose
`/proc/<pid>/cmdline` still matches what we started (a recycled PID is never mistaken for ours, and nothing
is ever stopped by name). Errors name the component: a port already taken (and by whom, when we can tell), a
component that dies or fails its health check (with the last lines of its log).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

LOG_TAIL_LINES = 30


class StackError(RuntimeError):
    """A local-stack problem the user can fix; the message says what and how."""


class PortInUseError(StackError):
    """The port a component needs is already taken by another process."""


class HealthCheckError(StackError):
    """A component did not become healthy in time (or exited while starting)."""


@dataclass(frozen=True)
class ProcessPaths:
    """Where one component's log and PID file live."""

    name: str
    log: Path
    pid: Path

    @classmethod
    def for_component(cls, state_dir: Path, name: str) -> ProcessPaths:
        return cls(name, state_dir / "logs" / f"{name}.log", state_dir / "run" / f"{name}.pid")


# --- ports -------------------------------------------------------------------------------------------
def port_is_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def port_owner(port: int) -> str | None:
    """`pid <n> (<command>)` of the process listening on `port`, when /proc lets us see it."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as fh:
            for line in fh.readlines()[1:]:
                fields = line.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                    inodes.add(inode)
    if not inodes:
        return None
    for pid_dir in Path("/proc").iterdir():
        if not pid_dir.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (pid_dir / "fd").iterdir():
                link = os.readlink(fd)
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    cmd = " ".join(read_cmdline(int(pid_dir.name)) or [])
                    return f"pid {pid_dir.name} ({cmd[:120]})"
    return None


def ensure_port_free(name: str, host: str, port: int) -> None:
    """Raise PortInUseError naming the component and whoever holds the port."""
    if not port_is_open(host, port):
        return
    owner = port_owner(port)
    who = f"it is held by {owner}" if owner else "another process holds it"
    raise PortInUseError(
        f"{name}: port {host}:{port} is already in use ({who}). Stop that process "
        f"(`python -m local_stack down` if it is this project's stack, or `kill <pid>`), "
        f"or pick another port for {name} (see local_stack/config.py)."
    )


def free_port(host: str = "127.0.0.1") -> int:
    """An ephemeral TCP port that is free right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


# --- health checks -----------------------------------------------------------------------------------
def http_ok(url: str, timeout: float = 2.0) -> bool:
    """True when GET url answers 2xx (no proxy: every component is on loopback)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def http_check(url: str) -> Callable[[], bool]:
    return lambda: http_ok(url)


def tcp_check(host: str, port: int) -> Callable[[], bool]:
    return lambda: port_is_open(host, port)


# --- process bookkeeping -----------------------------------------------------------------------------
def read_cmdline(pid: int) -> list[str] | None:
    """The argv of a live process, or None when it is gone (or a zombie)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    if not raw:  # zombies and kernel threads have an empty cmdline
        return None
    return raw.rstrip(b"\0").decode(errors="replace").split("\0")


def read_pid_file(paths: ProcessPaths) -> tuple[int, list[str]] | None:
    """(pid, argv) recorded when the component was started, or None."""
    try:
        data = json.loads(paths.pid.read_text())
        return int(data["pid"]), list(data["argv"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def running_pid(paths: ProcessPaths) -> int | None:
    """PID of the component when it runs and really is the process we started; else None."""
    recorded = read_pid_file(paths)
    if recorded is None:
        return None
    pid, argv = recorded
    return pid if read_cmdline(pid) == argv else None


def is_running(paths: ProcessPaths) -> bool:
    return running_pid(paths) is not None


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """Last lines of a log file ('' when absent)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 64 * 1024))
            text = fh.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def start(
    paths: ProcessPaths,
    argv: Sequence[str],
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> int:
    """Start argv detached (own session, stdin closed), output appended to the log; record its PID."""
    paths.log.parent.mkdir(parents=True, exist_ok=True)
    paths.pid.parent.mkdir(parents=True, exist_ok=True)
    with open(paths.log, "ab") as log:
        log.write(
            f"\n--- {time.strftime('%Y-%m-%dT%H:%M:%S')} starting {paths.name}: {' '.join(argv)}\n".encode()
        )
        log.flush()
        try:
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                start_new_session=True,
            )
        except OSError as exc:
            raise StackError(f"{paths.name}: cannot start {argv[0]}: {exc}") from exc
    # Record the argv as /proc will report it (absolute resolution is the kernel's, not ours).
    deadline = time.monotonic() + 2
    cmdline = read_cmdline(proc.pid)
    while cmdline is None and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
        cmdline = read_cmdline(proc.pid)
    paths.pid.write_text(json.dumps({"pid": proc.pid, "argv": cmdline or list(argv)}))
    _CHILDREN[proc.pid] = proc
    return proc.pid


# Popen objects of the processes this interpreter started, so they are reaped (never left as zombies).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def _alive(pid: int) -> bool:
    child = _CHILDREN.get(pid)
    if child is not None:
        return child.poll() is None
    return read_cmdline(pid) is not None


def wait_healthy(
    paths: ProcessPaths,
    pid: int,
    check: Callable[[], bool],
    timeout: float,
    what: str = "",
) -> None:
    """Poll `check` until it passes; raise HealthCheckError naming the component (with its log tail)."""
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        if check():
            return
        if not _alive(pid):
            raise HealthCheckError(
                f"{paths.name} exited while starting (pid {pid}). Last lines of {paths.log}:\n{tail(paths.log)}"
            )
        if time.monotonic() >= deadline:
            raise HealthCheckError(
                f"{paths.name} failed its health check{f' ({what})' if what else ''} within {timeout:.0f}s "
                f"(pid {pid} still running; stop it with `python -m local_stack down`). "
                f"Last lines of {paths.log}:\n{tail(paths.log)}"
            )
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)


def stop(paths: ProcessPaths, timeout: float = 10.0) -> bool:
    """Stop the component by its recorded PID: SIGTERM its process group, wait, then SIGKILL.

    Returns True when a process of ours was running. A PID that no longer matches what we started is left
    alone and only its stale PID file is removed.
    """
    pid = running_pid(paths)
    if pid is None:
        paths.pid.unlink(missing_ok=True)
        return False
    _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(pid):
        _signal(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
    child = _CHILDREN.pop(pid, None)
    if child is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=1)
    paths.pid.unlink(missing_ok=True)
    return True


def _signal(pid: int, sig: signal.Signals) -> None:
    """Signal the process group we created with start_new_session (the leader's pid is the group id)."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
