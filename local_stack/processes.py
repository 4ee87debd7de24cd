"""Start, health-check and stop the local stack's background processes by PID.

Each component runs detached (own session) with its output in `<state>/logs/<name>.log` and its PID in
`<state>/run/<name>.pid`. The PID file also records the command line, so `is_running` only trusts a PID whose
`/proc/<pid>/cmdline` still matches what we started (a recycled PID is never mistaken for ours, and nothing
is ever stopped by name). Errors name the component: a port already taken (and by whom, when we can tell), a
component that dies or fails its health check (with the last lines of its log). Logs are written 0600 (a
component's debug log may name a secret) and so are files written with `write_private` (outputs holding the API
key). Every polling wait uses the project's one retry policy (`emulation.retry.RetryPolicy`, via `wait_for`).
`listeners` reads which addresses a process tree listens on from /proc/net/tcp{,6} (not from its flags).
"""

from __future__ import annotations

import contextlib
import ipaddress
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

from emulation.retry import RetryPolicy

LOG_TAIL_LINES = 30
#: Waits between polls of a condition (a health check, a process exiting): a few ms first, at most 0.5 s.
POLL = RetryPolicy(attempts=None, base=0.02, cap=0.5)


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


def _decode_address(hex_address: str) -> str:
    """An address of /proc/net/tcp{,6} (hex, 32-bit words in host byte order) as text."""
    raw = bytes.fromhex(hex_address)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))  # x86/arm: little-endian words
    return str(ipaddress.ip_address(words))


def listening_sockets() -> dict[str, tuple[str, int]]:
    """Socket inode -> (address, port) of every TCP socket in LISTEN state (IPv4 and IPv6)."""
    found: dict[str, tuple[str, int]] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as fh:
            for line in fh.readlines()[1:]:
                fields = line.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state == "0A":
                    address, port = local.rsplit(":", 1)
                    found[inode] = (_decode_address(address), int(port, 16))
    return found


def socket_inodes(pid: int) -> set[str]:
    """Inodes of the sockets process `pid` holds open (empty when /proc does not let us see them)."""
    inodes: set[str] = set()
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                link = os.readlink(fd)
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
    return inodes


def port_owner(port: int) -> str | None:
    """`pid <n> (<command>)` of the process listening on `port`, when /proc lets us see it."""
    inodes = {inode for inode, (_, p) in listening_sockets().items() if p == port}
    if not inodes:
        return None
    for pid_dir in Path("/proc").iterdir():
        if pid_dir.name.isdigit() and socket_inodes(int(pid_dir.name)) & inodes:
            cmd = " ".join(read_cmdline(int(pid_dir.name)) or [])
            return f"pid {pid_dir.name} ({cmd[:120]})"
    return None


@dataclass(frozen=True)
class Listener:
    """One listening TCP socket of a process."""

    pid: int
    command: str
    address: str
    port: int

    @property
    def loopback(self) -> bool:
        address = ipaddress.ip_address(self.address)
        mapped = getattr(address, "ipv4_mapped", None)
        return (mapped or address).is_loopback

    def __str__(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{host}:{self.port} (pid {self.pid}: {self.command[:100]})"


def process_tree(pid: int) -> list[int]:
    """`pid` and every live descendant of it (children of children included), from /proc/<pid>/stat."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        if current in tree or read_cmdline(current) is None:
            continue
        tree.append(current)
        todo += children.get(current, [])
    return tree


def listeners(pids: Sequence[int]) -> list[Listener]:
    """Every TCP socket the processes `pids` and their descendants listen on, as /proc/net/tcp{,6} report."""
    sockets = listening_sockets()
    found: list[Listener] = []
    for root in pids:
        for pid in process_tree(root):
            command = " ".join(read_cmdline(pid) or [])
            for inode in sorted(socket_inodes(pid) & sockets.keys()):
                address, port = sockets[inode]
                found.append(Listener(pid, command, address, port))
    return sorted(set(found), key=lambda li: (li.pid, li.port))


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


# --- waiting and private files -----------------------------------------------------------------------
def wait_for(
    condition: Callable[[], bool],
    timeout: float,
    policy: RetryPolicy = POLL,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Poll `condition` with the policy's waits until it holds (True) or `timeout` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    for delay in policy.delays():
        if condition():
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        sleep(min(delay, remaining))
    return condition()


def private_dir(path: Path) -> Path:
    """`path` as a directory only its owner can use (0700): created so, or tightened if it exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.mkdir(mode=0o700, exist_ok=True)
    path.chmod(0o700)
    return path


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` readable by its owner only (0600), atomically (the file may hold a secret), in a
    directory only its owner can list or enter (0700, made so if an older run left it 0755)."""
    private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(path)


def open_private_log(path: Path) -> int:
    """A file descriptor appending to `path`, which is made (or kept) readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.fchmod(fd, 0o600)
    return fd


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
    paths.pid.parent.mkdir(parents=True, exist_ok=True)
    with os.fdopen(open_private_log(paths.log), "ab") as log:
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
    wait_for(lambda: read_cmdline(proc.pid) is not None or proc.poll() is not None, timeout=2)
    cmdline = read_cmdline(proc.pid)
    paths.pid.write_text(json.dumps({"pid": proc.pid, "argv": cmdline or list(argv)}))
    _CHILDREN[proc.pid] = proc
    return proc.pid


# Popen objects of the processes this interpreter started, so they are reaped (never left as zombies).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def is_alive(pid: int) -> bool:
    """True until process `pid` has fully exited (its sockets closed): a zombie has, a process whose command line
    is already gone but which is still closing its files has not (reading /proc/<pid>/cmdline alone races)."""
    child = _CHILDREN.get(pid)
    if child is not None:
        return child.poll() is None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def wait_healthy(
    paths: ProcessPaths,
    pid: int,
    check: Callable[[], bool],
    timeout: float,
    what: str = "",
) -> None:
    """Poll `check` until it passes; raise HealthCheckError naming the component (with its log tail)."""

    def healthy() -> bool:
        if check():
            return True
        if not is_alive(pid):
            raise HealthCheckError(
                f"{paths.name} exited while starting (pid {pid}). Last lines of {paths.log}:\n{tail(paths.log)}"
            )
        return False

    if not wait_for(healthy, timeout):
        raise HealthCheckError(
            f"{paths.name} failed its health check{f' ({what})' if what else ''} within {timeout:.0f}s "
            f"(pid {pid} still running; stop it with `python -m local_stack down`). "
            f"Last lines of {paths.log}:\n{tail(paths.log)}"
        )


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
    if not wait_for(lambda: not is_alive(pid), timeout):
        _signal(pid, signal.SIGKILL)
        wait_for(lambda: not is_alive(pid), 5)
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
