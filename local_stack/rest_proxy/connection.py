"""The HTTP connection of the REST Proxy: a thin subclass of aiohttp's connection protocol, which does the
framing, chunked bodies and keep-alive, adding what aiohttp lacks and nothing else:
- a request must arrive whole (line and headers here, its body in the handler) within the request timeout of its
  first byte, else 408 and close, so slow clients (slowloris) are dropped within the request timeout;
- at most `max_connections` are open at once; one more is answered 503 with `Retry-After` and closed;
- errors aiohttp's parser answers itself (a malformed request line or Content-Length, a broken chunked body) get
  Confluent's JSON body;
- a client that half-closes after its request still gets the answer.

`LoopbackHttpServer` is the server life cycle around it, shared with the local Databricks workspace, as are the
pieces of their command lines: the connection options (`add_connection_options`, `connection_limits`) and
serving until a signal
(`serve_until_signalled`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import re
import signal
import socket
import threading
from http import HTTPStatus
from typing import Any, Protocol

import orjson
from aiohttp import http_exceptions, web
from aiohttp.web_protocol import RequestHandler

from local_stack.rest_proxy.contract import RESPONSE_CONTENT_TYPE, RETRY_AFTER_SECONDS

log = logging.getLogger("rest_proxy")


class ConnectionLimits(Protocol):
    """What a connection reads from (and counts into) its server."""

    open_connections: int
    max_connections: int
    refused: int
    request_timeout: float


def json_response(
    status: int, payload: Any, headers: dict[str, str] | None = None, content_type: str = ""
) -> web.Response:
    return web.Response(
        status=status,
        body=None if payload is None else orjson.dumps(payload),
        headers={"Content-Type": content_type or RESPONSE_CONTENT_TYPE, **(headers or {})},
    )


_LENGTH_VALUE = re.compile(r"b'Content-Length:(.*)'")


def _raw_answer(status: int, message: str, extra: str = "") -> bytes:
    """A complete HTTP/1.1 answer written straight to the transport (no request object exists yet)."""
    body = orjson.dumps({"error_code": status, "message": message})
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
        f"Content-Type: {RESPONSE_CONTENT_TYPE}\r\nContent-Length: {len(body)}\r\n{extra}Connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


_REFUSAL = _raw_answer(
    503,
    "HTTP 503 Service Unavailable: too many connections; retry later",
    f"Retry-After: {RETRY_AFTER_SECONDS}\r\n",
)


class Connection(RequestHandler):
    """aiohttp's connection protocol plus the request deadline, the connection cap and JSON framing errors."""

    def __init__(self, manager: web.Server, *, proxy: ConnectionLimits, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._proxy = proxy
        self._refused = False
        self._header_timer: asyncio.TimerHandle | None = None
        self._armed_at_count = 0
        self.request_started = 0.0
        self._linger: asyncio.TimerHandle | None = None
        self._peer_closed = False

    # the connection cap ------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        proxy = self._proxy
        if proxy.open_connections >= proxy.max_connections:
            self._refused = True
            proxy.refused += 1
            log.warning("%d connections open (the cap): refusing one with 503", proxy.max_connections)
            assert isinstance(transport, asyncio.Transport)
            self.transport = transport
            transport.write(_REFUSAL)
            transport.write_eof()  # then read what the client sent (at most 2 s) so closing does not reset it
            self._linger = self._loop.call_later(2.0, transport.close)
            return
        proxy.open_connections += 1
        super().connection_made(transport)

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._refused:
            if self._linger is not None:
                self._linger.cancel()
            return
        self._proxy.open_connections -= 1
        self._cancel_header_timer()
        super().connection_lost(exc)

    def eof_received(self) -> bool:
        if self._refused:
            return False
        # a body that ends early: the handler answers 400
        self._peer_closed = True
        if self._current_request is not None:
            self._current_request.content.feed_eof()
        for _message, payload in self._messages:
            payload.feed_eof()
        if self._waiter is None or self._request_in_progress or self._messages:  # a request in hand
            self.close()  # answer the request in hand, then close
            return True
        return False

    # the request deadline ------------------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._header_timer is None and not self._request_in_progress:  # the first byte of a request
            self.request_started = self._loop.time()
            self._armed_at_count = self._request_count
            self._header_timer = self._loop.call_later(self._proxy.request_timeout, self._headers_timed_out)
            # aiohttp's idle (keep-alive) timer must not close a request in progress: the deadline rules it now
            self._next_keepalive_close_time = self.request_started + 2 * self._proxy.request_timeout + 1
        # aiohttp's parser drops the requests it has parsed when later bytes of the same read fail to parse (as
        # the body of a POST sent without Content-Length does): feed it up to the end of the headers first.
        end = data.find(b"\r\n\r\n")
        if 0 <= end < len(data) - 4:
            super().data_received(data[: end + 4])
            data = data[end + 4 :]
        super().data_received(data)

    def request_began(self, request: web.BaseRequest) -> float:
        """Called as the handler starts: the headers are in; return when the request's first byte came."""
        self._cancel_header_timer()
        if self._peer_closed:
            request.content.feed_eof()
        return self.request_started

    def no_lingering(self) -> None:
        """Close right after the answer, without reading on (aiohttp lingers 2 s for the rest of a body): for a
        client too slow to send its request within the request timeout."""
        self._lingering_time = 0.0

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_timed_out(self) -> None:
        self._header_timer = None
        if self._request_count != self._armed_at_count or self._request_in_progress or self.transport is None:
            return
        message = (
            f"HTTP 408 Request Timeout: the request did not arrive within {self._proxy.request_timeout:g} s"
        )
        log.info("%s: %s", self._peer(), message)
        self.transport.write(_raw_answer(408, message))
        self.force_close()  # closes the transport once the answer is written

    def _peer(self) -> str:
        peer = self.transport.get_extra_info("peername") if self.transport else None
        return f"{peer[0]}:{peer[1]}" if peer else "?"

    # errors of aiohttp's own parser --------------------------------------------------------------------
    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        status, text = _framing_error(status, exc)
        log.info("%s: %s", self._peer(), text)
        response = json_response(status, {"error_code": status, "message": text}, {"Connection": "close"})
        response.force_close()
        return response


def _framing_error(status: int, exc: BaseException | None) -> tuple[int, str]:
    """Status and message for a request aiohttp's parser refused (or a handler failure aiohttp caught)."""
    if exc is None or status >= 500:
        return 500, "Internal server error"
    detail = getattr(exc, "message", "") or str(exc)
    first = detail.split(":", 1)[0]
    if "Content-Length" in detail:
        found = _LENGTH_VALUE.search(detail)
        value = found.group(1).strip() if found else ""
        return 400, f"HTTP 400 Bad Request: invalid Content-Length {value!r}"
    if isinstance(exc, http_exceptions.BadHttpMethod):
        line = detail.split("b'", 1)[-1].rsplit("'", 1)[0]
        if re.fullmatch(r"\S+ \S+ HTTP/\d\.\d", line):  # a well-formed line with an unknown method
            return 405, "HTTP 405 Method Not Allowed"
        return 400, f"HTTP 400 Bad request syntax ({line!r})"
    if isinstance(exc, http_exceptions.LineTooLong):
        if "Status line" in detail or "request line" in detail.lower():
            return 414, "HTTP 414 Request-URI Too Long"
        return 431, "HTTP 431 Request Header Fields Too Large"
    if "chunk" in detail.lower():
        return 400, "Invalid chunked body"
    return 400, f"HTTP 400 Bad Request: {first}"


class WebServer(web.Server):
    """aiohttp's low-level server, making `_Connection`s."""

    def __init__(self, handler: Any, *, proxy: ConnectionLimits, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._proxy = proxy

    def __call__(self) -> RequestHandler:
        return Connection(self, proxy=self._proxy, loop=self._loop, **self._kwargs)


class LoopbackHttpServer:
    """The life cycle both local HTTP services share (the REST Proxy, the local Databricks workspace): a bound
    socket, aiohttp's low-level server with `Connection` (request deadline, connection cap) serving `_dispatch`
    on an event loop in the thread that calls `serve_forever()`, until `shutdown()` from another thread. At
    shutdown the listener closes, `_on_stop()` runs, idle keep-alive connections close at once and the requests
    in flight get `drain_timeout` s to be answered. Subclasses set `open_connections`, `max_connections`, `refused`
    and `request_timeout` (`ConnectionLimits`), `idle_timeout` and `drain_timeout`, and write `_dispatch`."""

    web_server_class: type[WebServer] = WebServer
    backlog = 1024
    max_line = 65536
    idle_timeout: float
    drain_timeout: float

    def __init__(self, address: tuple[str, int]) -> None:
        self.socket = socket.create_server(address, backlog=self.backlog)
        self.server_address: tuple[str, int] = self.socket.getsockname()[:2]
        self.closing = False  # set at shutdown: answer the request in progress, then close the connection
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._running = threading.Event()
        self._done = threading.Event()
        self._shutdown_requested = False

    async def _dispatch(self, request: web.BaseRequest) -> web.StreamResponse:
        raise NotImplementedError

    async def _on_start(self) -> None:
        """Runs on the loop before the first connection is accepted."""

    async def _on_stop(self) -> None:
        """Runs on the loop once the listener is closed, before the connections drain."""

    def serve_forever(self, poll_interval: float | None = None) -> None:
        """Serve until `shutdown()`. (`poll_interval` is accepted for socketserver compatibility.)"""
        try:
            asyncio.run(self._serve())
        finally:
            self._done.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        await self._on_start()
        web_server = self.web_server_class(
            self._dispatch,
            proxy=self,  # type: ignore[arg-type]  # subclasses carry the ConnectionLimits fields
            keepalive_timeout=self.idle_timeout,
            max_line_size=self.max_line,
            max_field_size=self.max_line,
            access_log=None,
            lingering_time=2.0,
        )
        server = await self._loop.create_server(web_server, sock=self.socket, backlog=self.backlog)
        self._running.set()
        if self._shutdown_requested:
            self._stop.set()
        await self._stop.wait()
        self.closing = True
        server.close()
        await self._on_stop()
        for connection in list(web_server.connections):  # idle keep-alive connections: close now
            if not connection._request_in_progress:
                connection.close()
        await web_server.shutdown(self.drain_timeout)

    def server_close(self) -> None:
        """Release the socket (subclasses release what else they hold)."""
        self.socket.close()

    def shutdown(self) -> None:
        """Stop serving (from another thread) and wait until the requests in flight are answered."""
        self._shutdown_requested = True
        if self._done.is_set() or not self._running.wait(10):
            return
        assert self._loop is not None and self._stop is not None
        with contextlib.suppress(RuntimeError):  # the loop already closed: it stopped meanwhile
            self._loop.call_soon_threadsafe(self._stop.set)
        self._done.wait()


def serve_until_signalled(server: LoopbackHttpServer, log: logging.Logger) -> None:
    """Serve `server` in this (the main) thread until SIGTERM or SIGINT, then shut it down (the requests in flight
    are answered) and close it."""

    def stop(signum: int, _frame: Any) -> None:
        log.info("received %s: shutting down", signal.Signals(signum).name)
        threading.Thread(target=server.shutdown, name="shutdown", daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever()
    finally:
        server.server_close()


def add_connection_options(
    parser: argparse.ArgumentParser, *, request_timeout: float, idle_timeout: float, max_connections: int
) -> None:
    """`--request-timeout`, `--idle-timeout` and `--max-connections` (a `LoopbackHttpServer`'s limits), with
    the service's defaults."""
    parser.add_argument(
        "--request-timeout",
        type=positive_seconds,
        default=request_timeout,
        help="seconds a request's line, headers and body may take to arrive (else 408 and close)",
    )
    parser.add_argument(
        "--idle-timeout",
        type=positive_seconds,
        default=idle_timeout,
        help="seconds an idle keep-alive connection is kept open",
    )
    parser.add_argument(
        "--max-connections",
        type=int,
        default=max_connections,
        help="connections open at once; one more is answered 503 with Retry-After and closed",
    )


def connection_limits(args: argparse.Namespace) -> dict[str, Any]:
    """The values of `add_connection_options`' options, as a `LoopbackHttpServer` subclass takes them."""
    return {
        "request_timeout": args.request_timeout,
        "idle_timeout": args.idle_timeout,
        "max_connections": args.max_connections,
    }


def positive_seconds(text: str) -> float:
    """An argparse type: a finite number of seconds above 0."""
    value = float(text)
    if not value > 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value
