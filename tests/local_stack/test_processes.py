"""Process control of the local stack: port-in-use and health-check errors, stop by PID, PID ownership."""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path

import pytest

from local_stack.processes import (
    HealthCheckError,
    Listener,
    PortInUseError,
    ProcessPaths,
    ensure_port_free,
    http_ok,
    is_alive,
    is_running,
    listeners,
    port_is_open,
    process_tree,
    read_cmdline,
    running_pid,
    start,
    stop,
    tcp_check,
    wait_for,
    wait_healthy,
    write_private,
)
from tests.support.net import free_port


@pytest.fixture
def paths(tmp_path: Path) -> ProcessPaths:
    return ProcessPaths.for_component(tmp_path, "widget")


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_paths_follow_the_state_dir_layout(tmp_path: Path) -> None:
    p = ProcessPaths.for_component(tmp_path, "tansu")
    assert p.log == tmp_path / "logs" / "tansu.log"
    assert p.pid == tmp_path / "run" / "tansu.pid"


def test_port_in_use_error_names_component_port_and_owner() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(PortInUseError) as err:
            ensure_port_free("tansu", "127.0.0.1", port)
    message = str(err.value)
    assert message.startswith(f"tansu: port 127.0.0.1:{port} is already in use")
    assert f"pid {os.getpid()}" in message  # who holds it: this test process
    assert "local_stack down" in message


def test_free_port_passes() -> None:
    ensure_port_free("rest-proxy", "127.0.0.1", free_port())


def test_start_writes_log_and_pid_and_stop_by_pid(paths: ProcessPaths) -> None:
    pid = start(paths, python("import time; print('hello', flush=True); time.sleep(60)"))
    try:
        assert running_pid(paths) == pid
        recorded = json.loads(paths.pid.read_text())
        assert recorded["pid"] == pid and recorded["argv"][-1].endswith("time.sleep(60)")
        deadline = time.monotonic() + 5
        while "hello" not in paths.log.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "hello" in paths.log.read_text()
    finally:
        assert stop(paths, timeout=5) is True
    assert not is_running(paths)
    assert not paths.pid.exists()
    assert read_cmdline(pid) is None


def test_stop_escalates_to_sigkill_when_sigterm_is_ignored(paths: ProcessPaths) -> None:
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(60)"
    pid = start(paths, python(code))
    deadline = time.monotonic() + 5
    while "ready" not in paths.log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    t0 = time.monotonic()
    assert stop(paths, timeout=0.5) is True
    assert time.monotonic() - t0 < 5
    assert running_pid(paths) is None
    assert read_cmdline(pid) is None


def test_a_pid_that_is_not_ours_is_never_trusted_or_stopped(paths: ProcessPaths) -> None:
    paths.pid.parent.mkdir(parents=True)
    # This very test process, recorded with a command line it does not have (a recycled PID).
    paths.pid.write_text(json.dumps({"pid": os.getpid(), "argv": ["/usr/bin/some-other-program"]}))
    assert running_pid(paths) is None
    assert stop(paths) is False  # and we are still alive to assert it
    assert not paths.pid.exists()


def test_health_check_failure_names_component_and_shows_log_tail(paths: ProcessPaths) -> None:
    pid = start(paths, python("import time; print('listening on nothing', flush=True); time.sleep(60)"))
    try:
        with pytest.raises(HealthCheckError) as err:
            wait_healthy(paths, pid, lambda: False, timeout=1.0, what="GET /health")
        message = str(err.value)
        assert message.startswith("widget failed its health check (GET /health) within 1s")
        assert "listening on nothing" in message
    finally:
        stop(paths)


def test_component_that_exits_while_starting_is_reported_with_its_log(paths: ProcessPaths) -> None:
    pid = start(paths, python("import sys; print('bad flag --x', flush=True); sys.exit(3)"))
    with pytest.raises(HealthCheckError) as err:
        wait_healthy(paths, pid, lambda: False, timeout=10)
    assert f"widget exited while starting (pid {pid})" in str(err.value)
    assert "bad flag --x" in str(err.value)


def test_tcp_and_http_checks_against_a_real_server(paths: ProcessPaths) -> None:
    port = free_port()
    pid = start(paths, [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)])
    try:
        wait_healthy(paths, pid, tcp_check("127.0.0.1", port), timeout=10)
        assert port_is_open("127.0.0.1", port)
        assert http_ok(f"http://127.0.0.1:{port}/")
        assert not http_ok(f"http://127.0.0.1:{port}/no-such-file")
    finally:
        stop(paths)
    assert not port_is_open("127.0.0.1", port)


# --- listeners, private files, polling --------------------------------------------------------------------
def test_listeners_of_a_process_tree_are_read_from_proc_net_with_their_real_address(
    paths: ProcessPaths,
) -> None:
    # A parent that starts a child; the child listens on every interface (IPv4) and the parent on loopback IPv6.
    public, private = free_port(), free_port()
    child = (
        f"import socket, time; s = socket.socket(); s.bind(('0.0.0.0', {public})); s.listen(); "
        "print('child ready', flush=True); time.sleep(60)"
    )
    parent = (
        f"import socket, subprocess, sys, time; subprocess.Popen([sys.executable, '-c', {child!r}]); "
        f"s = socket.socket(socket.AF_INET6); s.bind(('::1', {private})); s.listen(); time.sleep(60)"
    )
    pid = start(paths, python(parent))
    try:
        assert wait_for(lambda: "child ready" in paths.log.read_text(), timeout=10)
        found = wait_until_listeners(pid, 2)
        assert len(process_tree(pid)) == 2
        by_port = {li.port: li for li in found}
        assert set(by_port) == {public, private}
        assert by_port[public].address == "0.0.0.0" and not by_port[public].loopback
        assert by_port[public].pid != pid  # found in the child, not the process we started
        assert by_port[private].address == "::1" and by_port[private].loopback
        assert str(by_port[public]).startswith(f"0.0.0.0:{public} (pid ")
    finally:
        stop(paths)
    assert listeners([pid]) == []


def wait_until_listeners(pid: int, count: int) -> list[Listener]:
    found: list[Listener] = []

    def enough() -> bool:
        found[:] = listeners([pid])
        return len(found) >= count

    wait_for(enough, timeout=10)
    return found


@pytest.mark.parametrize(
    ("address", "loopback"),
    [("127.0.0.1", True), ("127.0.0.53", True), ("::1", True), ("::ffff:127.0.0.1", True),
     ("0.0.0.0", False), ("::", False), ("10.1.2.3", False)],
)  # fmt: skip
def test_what_counts_as_loopback(address: str, loopback: bool) -> None:
    assert Listener(1, "x", address, 80).loopback is loopback


def test_private_files_and_logs_are_readable_by_their_owner_only(paths: ProcessPaths, tmp_path: Path) -> None:
    secret = tmp_path / "outputs" / "local.json"
    write_private(secret, '{"api_key": "k"}')
    assert secret.read_text() == '{"api_key": "k"}'
    assert secret.stat().st_mode & 0o777 == 0o600
    secret.chmod(0o644)  # an older file: rewritten private
    write_private(secret, "{}")
    assert secret.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in secret.parent.iterdir()] == ["local.json"]  # no temporary file left
    assert secret.parent.stat().st_mode & 0o777 == 0o700  # `.local/outputs/`: created 0700
    secret.parent.chmod(0o755)  # left by an older run: tightened on the next write
    write_private(secret, "{}")
    assert secret.parent.stat().st_mode & 0o777 == 0o700
    paths.log.parent.mkdir(parents=True)
    paths.log.write_text("an older log\n")
    paths.log.chmod(0o644)
    pid = start(paths, python("print('x')"))
    wait_for(lambda: read_cmdline(pid) is None, timeout=10)
    stop(paths)
    assert paths.log.stat().st_mode & 0o777 == 0o600
    assert paths.log.read_text().startswith("an older log\n")


def test_wait_for_polls_with_the_shared_policy_until_true_or_timeout() -> None:
    calls, waits = [], []
    assert wait_for(lambda: calls.append(1) or len(calls) == 4, timeout=10, sleep=waits.append) is True
    assert len(calls) == 4 and len(waits) == 3 and all(0 <= w <= 0.5 for w in waits)
    t0 = time.monotonic()
    assert wait_for(lambda: False, timeout=0.2) is False
    assert 0.2 <= time.monotonic() - t0 < 2


def test_a_process_counts_as_alive_until_it_has_fully_exited() -> None:
    import subprocess

    proc = subprocess.Popen(python("import sys; sys.stdin.read()"), stdin=subprocess.PIPE)
    try:
        assert is_alive(proc.pid)
        proc.stdin.close()  # it exits; not reaped yet: a zombie, whose sockets are closed
        assert wait_for(lambda: not is_alive(proc.pid), timeout=10)
        assert read_cmdline(proc.pid) is None
    finally:
        proc.wait(10)
    assert not is_alive(proc.pid)
