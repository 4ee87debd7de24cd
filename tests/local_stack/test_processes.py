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
    PortInUseError,
    ProcessPaths,
    ensure_port_free,
    http_ok,
    is_running,
    port_is_open,
    read_cmdline,
    running_pid,
    start,
    stop,
    tcp_check,
    wait_healthy,
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
