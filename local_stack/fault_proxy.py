"""An HTTP fault proxy: put it in front of the API to see the emulator survive 429s, 5xx, resets and delays.

Every request to `http://127.0.0.1:<port>/<path>` is forwarded to `<upstream>/<path>` (method, headers, body;
the answer comes back unchanged), except that, with probability `rate` (drawn from a seeded generator), one fault
of the chosen kinds happens instead:

| kind | what the client sees | reaches the API? |
|---|---|---|
| `429` | 429 Too Many Requests with `Retry-After: <retry_after>` | no |
| `500`, `503` | that status with a JSON error body | no |
| `reset` | the connection reset (TCP RST) before any answer | no |
| `delay` | the real answer, `delay` seconds late | yes |
| `reset_after` | a reset after the API accepted the request (the answer is lost) | yes: a retry duplicates it |

The default kinds are all but `reset_after`, which makes at-least-once delivery show duplicates. The proxy never
faults its own `GET /__fault_proxy__/stats`, which answers what it did so far (`FaultStats.as_dict()`): requests,
forwarded, faults by kind. It binds 127.0.0.1 only.

    python -m local_stack.fault_proxy --upstream http://127.0.0.1:4566/_aws/execute-api/<id>/dev --port 8099 \\
        --rate 0.2 --seed 7
    python -m emulation batch --api-url http://127.0.0.1:8099        # the API key is passed through

In Python: `with FaultProxy(upstream, rate=0.2, seed=7) as proxy: ... proxy.url ... proxy.stats`.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import socket
import struct
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import requests
from requests.adapters import HTTPAdapter

HOST = "127.0.0.1"
KINDS: tuple[str, ...] = ("429", "500", "503", "reset", "delay", "reset_after")
DEFAULT_KINDS: tuple[str, ...] = ("429", "500", "503", "reset", "delay")
STATS_PATH = "/__fault_proxy__/stats"
# Hop-by-hop headers (RFC 9110 7.6.1) and the ones the proxy sets itself.
_NOT_FORWARDED = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "host"}
)
_NOT_RETURNED = _NOT_FORWARDED | {"content-length"}


@dataclass
class FaultStats:
    """What the proxy did: requests received, forwarded to the API, faults injected by kind."""

    requests: int = 0
    forwarded: int = 0
    upstream_errors: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        with self.lock:
            return {
                "requests": self.requests,
                "forwarded": self.forwarded,
                "upstream_errors": self.upstream_errors,
                "faults": {kind: self.faults[kind] for kind in KINDS if self.faults[kind]},
            }


class FaultProxy:
    """The proxy as a server in this process (a thread); `with FaultProxy(...) as proxy` starts and stops it."""

    def __init__(
        self,
        upstream: str,
        *,
        rate: float = 0.2,
        kinds: tuple[str, ...] = DEFAULT_KINDS,
        seed: int | None = None,
        port: int = 0,
        delay: float = 0.5,
        retry_after: int = 1,
        timeout: float = 60.0,
    ) -> None:
        if not 0 <= rate <= 1:
            raise ValueError(f"rate must be between 0 and 1, got {rate}")
        unknown = [k for k in kinds if k not in KINDS]
        if unknown or not kinds:
            raise ValueError(f"unknown fault kind(s) {unknown or kinds}; expected some of {', '.join(KINDS)}")
        self.upstream = upstream.rstrip("/")
        self.rate = rate
        self.kinds = tuple(kinds)
        self.delay = delay
        self.retry_after = retry_after
        self.timeout = timeout
        self.stats = FaultStats()
        self._rng = random.Random(seed)
        self._rng_lock = threading.Lock()
        self._session = requests.Session()
        self._session.mount("http://", HTTPAdapter(pool_connections=4, pool_maxsize=32))
        self._session.mount("https://", HTTPAdapter(pool_connections=4, pool_maxsize=32))
        self.server = ThreadingHTTPServer((HOST, port), _handler(self))
        self.server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def url(self) -> str:
        """What to use as the API URL (the emulator's `--api-url`)."""
        return f"http://{HOST}:{self.port}"

    def fault(self) -> str | None:
        """The fault for the next request (None: forward it as it is), from the seeded generator."""
        with self._rng_lock:
            if self._rng.random() >= self.rate:
                return None
            return self._rng.choice(self.kinds)

    def forward(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        """Send the request on to the API: its status, headers and body as sent (gzip stays gzip)."""
        with self._session.request(
            method,
            self.upstream + path,
            data=body,
            headers=headers,
            timeout=self.timeout,
            allow_redirects=False,
            stream=True,
        ) as response:
            return response.status_code, dict(response.headers), response.raw.read(decode_content=False)

    def start(self) -> FaultProxy:
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.1,), daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        if self._thread is not None:
            self.server.shutdown()
            self._thread.join()
        self.server.server_close()
        self._session.close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "fault-proxy"

        def log_message(self, *args: Any) -> None:
            pass

        def _any(self) -> None:
            body = self._body()
            if body is None:
                return
            if self.command == "GET" and self.path == STATS_PATH:
                return self._answer(200, json.dumps(proxy.stats.as_dict()).encode(), {})
            with proxy.stats.lock:
                proxy.stats.requests += 1
            fault = proxy.fault()
            if fault is not None:
                with proxy.stats.lock:
                    proxy.stats.faults[fault] += 1
            if fault in ("429", "500", "503"):
                status = int(fault)
                headers = {"Retry-After": str(proxy.retry_after)} if status == 429 else {}
                message = {429: "Too Many Requests", 500: "Internal server error", 503: "Service Unavailable"}
                payload = json.dumps({"message": f"{message[status]} (injected by the fault proxy)"}).encode()
                return self._answer(status, payload, headers)
            if fault == "reset":
                return self._reset()
            if fault == "delay":
                time.sleep(proxy.delay)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _NOT_FORWARDED}
            try:
                status, answer_headers, payload = proxy.forward(self.command, self.path, headers, body)
            except requests.RequestException as exc:
                with proxy.stats.lock:
                    proxy.stats.upstream_errors += 1
                payload = json.dumps({"message": f"fault proxy: upstream failed: {type(exc).__name__}"})
                return self._answer(502, payload.encode(), {})
            with proxy.stats.lock:
                proxy.stats.forwarded += 1
            if fault == "reset_after":
                return self._reset()
            returned = {k: v for k, v in answer_headers.items() if k.lower() not in _NOT_RETURNED}
            return self._answer(status, payload, returned)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _any

        def _body(self) -> bytes | None:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                self._answer(411, b'{"message": "fault proxy: send a Content-Length"}', {})
                return None
            length = self.headers.get("Content-Length") or "0"
            if not length.isdigit():
                self._answer(400, b'{"message": "fault proxy: bad Content-Length"}', {})
                return None
            return self.rfile.read(int(length))

        def _answer(self, status: int, payload: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            headers.setdefault("Content-Type", "application/json")
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        def _reset(self) -> None:
            """Close with a TCP RST (SO_LINGER 0): the client sees `connection reset by peer`."""
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()

    return Handler


def _kinds(text: str) -> tuple[str, ...]:
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise argparse.ArgumentTypeError(
            f"unknown kind(s) {', '.join(unknown) or text!r}; choose from {', '.join(KINDS)}"
        )
    return kinds


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local_stack.fault_proxy",
        description=__doc__.split("\n\n", 1)[0],
        epilog="Kinds: "
        + ", ".join(KINDS)
        + f" (default {','.join(DEFAULT_KINDS)}). Stats: GET {STATS_PATH}.",
    )
    parser.add_argument(
        "--upstream", required=True, help="the API's invoke URL (terraform output invoke_url)"
    )
    parser.add_argument(
        "--port", type=int, default=0, help="port on 127.0.0.1 (default: any free one, printed)"
    )
    parser.add_argument(
        "--rate", type=_rate, default=0.2, help="share of requests that get a fault (default 0.2)"
    )
    parser.add_argument("--kinds", type=_kinds, default=DEFAULT_KINDS, help="comma-separated fault kinds")
    parser.add_argument("--seed", type=int, help="seed of the fault draws (default: unseeded)")
    parser.add_argument(
        "--delay", type=float, default=0.5, help="seconds a `delay` fault waits (default 0.5)"
    )
    parser.add_argument(
        "--retry-after", type=int, default=1, help="Retry-After of a 429, seconds (default 1)"
    )
    args = parser.parse_args(argv)
    try:
        proxy = FaultProxy(
            args.upstream,
            rate=args.rate,
            kinds=args.kinds,
            seed=args.seed,
            port=args.port,
            delay=args.delay,
            retry_after=args.retry_after,
        )
    except OSError as exc:
        print(f"error: cannot listen on {HOST}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with proxy:
        print(
            f"fault proxy on {proxy.url} -> {proxy.upstream} (rate {args.rate}, kinds {','.join(args.kinds)})",
            flush=True,
        )
        stop.wait()
    print(json.dumps(proxy.stats.as_dict()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
