"""Small network and polling helpers for tests: free loopback ports and waiting for a condition."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on `host` that nothing listens on right now (bind to port 0, read it back)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def wait_until(
    probe: Callable[[], T], done: Callable[[T], bool], timeout: float = 30.0, interval: float = 0.5
) -> T:
    """Call `probe` until `done(result)` holds; return the last result (the caller asserts on it)."""
    deadline = time.monotonic() + timeout
    result = probe()
    while not done(result) and time.monotonic() < deadline:
        time.sleep(interval)
        result = probe()
    return result
