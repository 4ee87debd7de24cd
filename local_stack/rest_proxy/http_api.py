"""The HTTP side of the REST Proxy: Confluent's v2 API (produce, metadata and consumer endpoints) served by
aiohttp's low-level server, which does the HTTP framing, chunked bodies and keep-alive.

aiohttp itself has no deadline for a request whose line or headers never finish, no connection cap and plain-text
framing errors, so a thin subclass of its connection protocol (`_Connection`) adds, and nothing else:
- a request must arrive whole (line and headers, then its body) within `request_timeout` s of its first byte,
  else 408 and close, so slow clients (slowloris) are dropped within the request timeout;
- at most `max_connections` are open at once; one more is answered 503 with `Retry-After` and closed. Held
  connections cost a socket each, not a thread, so a valid request is served meanwhile;
- errors aiohttp's parser answers itself (a malformed request line or Content-Length) get Confluent's JSON body;
- a client that half-closes after its request still gets the answer.
Idle keep-alive connections close after `idle_timeout` s (aiohttp's keep-alive timeout). Blocking Kafka calls
run on thread pools off the event loop, one for produce and metadata, one for the consumer instances.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from typing import Any
from urllib.parse import quote, unquote

import orjson
from aiohttp import http_exceptions, web
from aiohttp.web_protocol import RequestHandler

from local_stack.rest_proxy import contract
from local_stack.rest_proxy.consumers import ConsumerInstance, ConsumerManager, InstanceConfig
from local_stack.rest_proxy.contract import (
    BINARY_V2,
    CONSUMER_FORMAT_MISMATCH,
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_WORKER_THREADS,
    JSON_V2,
    KAFKA_ERROR,
    KAFKA_RETRIABLE_ERROR,
    PARTITION_NOT_FOUND,
    RECORD_FORMATS,
    RESPONSE_CONTENT_TYPE,
    RETRY_AFTER_SECONDS,
    ProxyError,
    not_found,
)
from local_stack.rest_proxy.producer import KafkaGateway
from local_stack.rest_proxy.validation import (
    ProduceRecord,
    check_content_type,
    parse_json_object,
    parse_produce_body,
    topic_partition_offsets,
    topic_partitions,
)

log = logging.getLogger("rest_proxy")

#: Request bodies of the consumer API may be sent in any of Confluent's v2 content types.
CONSUMER_CONTENT_TYPES = frozenset(
    {
        RESPONSE_CONTENT_TYPE,
        JSON_V2,
        BINARY_V2,
        "application/vnd.kafka.avro.v2+json",
        "application/vnd.kafka.jsonschema.v2+json",
        "application/vnd.kafka.protobuf.v2+json",
    }
)
#: Accept values Confluent's records endpoint serves; those other than json and binary need Schema Registry.
SCHEMA_FORMATS = frozenset(
    {
        "application/vnd.kafka.avro.v2+json",
        "application/vnd.kafka.jsonschema.v2+json",
        "application/vnd.kafka.protobuf.v2+json",
    }
)
MAX_LINE = 65536
EXPIRY_INTERVAL = 1.0
_LENGTH_VALUE = re.compile(r"b'Content-Length:(.*)'")


def _json(
    status: int, payload: Any, headers: dict[str, str] | None = None, content_type: str = ""
) -> web.Response:
    return web.Response(
        status=status,
        body=None if payload is None else orjson.dumps(payload),
        headers={"Content-Type": content_type or RESPONSE_CONTENT_TYPE, **(headers or {})},
    )


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


class _Connection(RequestHandler):
    """aiohttp's connection protocol plus the request deadline, the connection cap and JSON framing errors."""

    def __init__(self, manager: web.Server, *, proxy: ProxyServer, **kwargs: Any) -> None:
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
        response = _json(status, {"error_code": status, "message": text}, {"Connection": "close"})
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


class _WebServer(web.Server):
    """aiohttp's low-level server, making `_Connection`s."""

    def __init__(self, handler: Any, *, proxy: ProxyServer, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._proxy = proxy

    def __call__(self) -> RequestHandler:
        return _Connection(self, proxy=self._proxy, loop=self._loop, **self._kwargs)


# --- the API -------------------------------------------------------------------------------------------------

Handler = Callable[..., Awaitable[web.StreamResponse]]


class ProxyServer:
    """A bound proxy: `serve_forever()` runs it (in the calling thread), `shutdown()` (from any other thread)
    stops it after the requests in flight are answered, `server_close()` releases the socket and the threads.
    One `KafkaGateway` (producer) and one `ConsumerManager` are shared by every request."""

    def __init__(
        self,
        address: tuple[str, int],
        gateway: KafkaGateway,
        consumers: ConsumerManager,
        *,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        worker_threads: int = DEFAULT_WORKER_THREADS,
        drain_timeout: float = 10.0,
    ) -> None:
        if request_timeout <= 0 or idle_timeout <= 0 or max_connections < 1:
            raise ValueError("request_timeout and idle_timeout must be > 0, max_connections >= 1")
        self.socket = socket.create_server(address, backlog=1024)
        self.server_address: tuple[str, int] = self.socket.getsockname()[:2]
        self.gateway = gateway
        self.consumers = consumers
        self.request_timeout = request_timeout
        self.idle_timeout = idle_timeout
        self.max_connections = max_connections
        self.drain_timeout = drain_timeout
        self.open_connections = 0
        self.refused = 0  # connections answered 503 (for tests and logs)
        self.closing = False  # set at shutdown: answer the request in progress, then close the connection
        self._executor = ThreadPoolExecutor(worker_threads, thread_name_prefix="kafka-call")
        # consumer calls (a records read waits up to its timeout) get threads of their own: produce never waits
        self._consumer_executor = ThreadPoolExecutor(worker_threads, thread_name_prefix="consumer-call")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._running = threading.Event()
        self._done = threading.Event()
        self._shutdown_requested = False

    # lifecycle --------------------------------------------------------------------------------------------
    def serve_forever(self, poll_interval: float | None = None) -> None:
        """Serve until `shutdown()`. (`poll_interval` is accepted for socketserver compatibility.)"""
        try:
            asyncio.run(self._serve())
        finally:
            self._done.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop.set_default_executor(self._executor)
        self._stop = asyncio.Event()
        web_server = _WebServer(
            self._dispatch,
            proxy=self,
            keepalive_timeout=self.idle_timeout,
            max_line_size=MAX_LINE,
            max_field_size=MAX_LINE,
            access_log=None,
            lingering_time=2.0,
        )
        server = await self._loop.create_server(web_server, sock=self.socket)
        expiry = asyncio.create_task(self._expire_idle_consumers())
        self._running.set()
        if self._shutdown_requested:
            self._stop.set()
        await self._stop.wait()
        self.closing = True
        server.close()
        await web_server.shutdown(self.drain_timeout)
        expiry.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await expiry

    def shutdown(self) -> None:
        """Stop serving (from another thread) and wait until the requests in flight are answered."""
        self._shutdown_requested = True
        if not self._running.wait(10):
            return
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._done.wait()

    def server_close(self) -> None:
        """Release the socket, the consumer instances and the worker threads."""
        self.socket.close()
        self.consumers.close()
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._consumer_executor.shutdown(wait=False, cancel_futures=True)

    async def _expire_idle_consumers(self) -> None:
        while True:
            await asyncio.sleep(EXPIRY_INTERVAL)
            await self._consumer_call(self.consumers.expire)

    async def _call(self, function: Callable[..., Any], *args: Any) -> Any:
        assert self._loop is not None
        return await self._loop.run_in_executor(self._executor, function, *args)

    async def _consumer_call(self, function: Callable[..., Any], *args: Any) -> Any:
        assert self._loop is not None
        return await self._loop.run_in_executor(self._consumer_executor, function, *args)

    # dispatch ---------------------------------------------------------------------------------------------
    async def _dispatch(self, request: web.BaseRequest) -> web.StreamResponse:
        started = time.perf_counter()
        connection = request.protocol
        first_byte = (
            connection.request_began(request) if isinstance(connection, _Connection) else time.monotonic()
        )
        records = 0
        try:
            response, records = await self._route(request, first_byte)
        except ProxyError as exc:
            response = _json(exc.status, exc.body(), exc.headers)
            if exc.status == HTTPStatus.REQUEST_TIMEOUT and isinstance(connection, _Connection):
                connection.no_lingering()
            if exc.status in (
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                HTTPStatus.REQUEST_TIMEOUT,
            ) or exc.headers.get("Connection"):
                response.force_close()
        except Exception:
            log.exception("internal error on %s %s", request.method, request.raw_path)
            response = _json(500, {"error_code": 500, "message": "Internal server error"})
        if self.closing:
            response.force_close()
        if response.status >= 400 or log.isEnabledFor(logging.DEBUG):
            log.log(
                logging.DEBUG if response.status < 400 else logging.INFO,
                "%s %s %d %d record(s) %.1f ms",
                request.method,
                request.raw_path,
                response.status,
                records,
                (time.perf_counter() - started) * 1000,
            )
        return response

    async def _route(self, request: web.BaseRequest, first_byte: float) -> tuple[web.StreamResponse, int]:
        method = request.method
        parts = [unquote(p) for p in request.raw_path.split("?", 1)[0].split("/") if p]
        if not parts:
            _allow(method, "GET")
            return _json(200, {}), 0
        head, n = parts[0], len(parts)
        if head == "topics" and n <= 4:
            return await self._topics(request, parts, first_byte)
        if head == "brokers" and n == 1:
            _allow(method, "GET")
            return _json(200, {"brokers": await self._call(self.gateway.brokers)}), 0
        if head == "consumers" and n >= 2:
            return await self._consumers(request, parts, first_byte), 0
        raise not_found()

    # produce and metadata ----------------------------------------------------------------------------------
    async def _topics(
        self, request: web.BaseRequest, parts: list[str], first_byte: float
    ) -> tuple[web.StreamResponse, int]:
        method, n = request.method, len(parts)
        if n == 1:
            _allow(method, "GET")
            return _json(200, await self._call(self.gateway.list_topics)), 0
        topic = parts[1]
        if n == 2:
            _allow(method, "GET", "POST")
            if method == "GET":
                return _json(200, await self._call(self.gateway.describe_topic, topic)), 0
            return await self._produce(request, topic, None, first_byte)
        if parts[2] != "partitions":
            raise not_found()
        if n == 3:
            _allow(method, "GET")
            return _json(200, await self._call(self.gateway.partitions, topic)), 0
        partition = _partition_number(parts[3])
        _allow(method, "GET", "POST")
        if method == "GET":
            return _json(200, await self._call(self.gateway.partition, topic, partition)), 0
        return await self._produce(request, topic, partition, first_byte)

    async def _produce(
        self, request: web.BaseRequest, topic: str, partition: int | None, first_byte: float
    ) -> tuple[web.StreamResponse, int]:
        body = await self._read_body(request, first_byte)
        charset = check_content_type(request.headers.get("Content-Type"))
        records = parse_produce_body(body, charset)
        if partition is not None:  # POST /topics/{topic}/partitions/{p}: every record goes there
            records = [ProduceRecord(r.value, r.key, partition) for r in records]
        offsets = await self._call(self.gateway.produce, topic, records)
        payload: dict[str, Any] = {"offsets": offsets, "key_schema_id": None, "value_schema_id": None}
        failed = [entry for entry in offsets if entry["error_code"] is not None]
        if len(failed) < len(offsets):
            if failed:
                log.warning(
                    "%s: %d of %d record(s) failed: %s", topic, len(failed), len(offsets), failed[0]["error"]
                )
            return _json(200, payload), len(offsets)
        retriable = any(entry["error_code"] == KAFKA_RETRIABLE_ERROR for entry in failed)
        code = KAFKA_RETRIABLE_ERROR if retriable else KAFKA_ERROR
        prefix = "Retriable Kafka error" if retriable else "Kafka error"
        log.warning("%s: all %d record(s) failed: %s", topic, len(offsets), failed[0]["error"])
        return _json(500, {"error_code": code, "message": f"{prefix}: {failed[0]['error']}", **payload}), len(
            offsets
        )

    async def _read_body(self, request: web.BaseRequest, first_byte: float) -> bytes:
        """The whole body within the request's deadline (408 otherwise). A POST needs Content-Length or chunked
        encoding (411, at once); a body over the limit is 413; one that ends early is 400."""
        chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
        length = request.content_length
        if request.method == "POST" and length is None and not chunked:
            raise ProxyError(
                HTTPStatus.LENGTH_REQUIRED,
                HTTPStatus.LENGTH_REQUIRED,
                "HTTP 411 Length Required: send Content-Length or Transfer-Encoding: chunked",
                {"Connection": "close"},
            )
        limit = contract.MAX_BODY_BYTES
        if length is not None and length > limit:
            raise _too_large(limit)
        chunks: list[bytes] = []
        total = 0
        remaining = first_byte + self.request_timeout - asyncio.get_running_loop().time()
        try:
            async with asyncio.timeout(max(0.0, remaining)):
                async for chunk in request.content.iter_chunked(1 << 20):
                    total += len(chunk)
                    if total > limit:
                        raise _too_large(limit)
                    chunks.append(chunk)
        except TimeoutError:
            raise ProxyError(
                HTTPStatus.REQUEST_TIMEOUT,
                HTTPStatus.REQUEST_TIMEOUT,
                f"HTTP 408 Request Timeout: the body did not arrive within {self.request_timeout:g} s",
            ) from None
        except (http_exceptions.HttpProcessingError, ValueError) as exc:  # a broken chunked body
            raise ProxyError(
                HTTPStatus.BAD_REQUEST,
                HTTPStatus.BAD_REQUEST,
                "Invalid chunked body",
                {"Connection": "close"},
            ) from exc
        if length is not None and total < length:  # the client closed early
            raise ProxyError(
                HTTPStatus.BAD_REQUEST,
                HTTPStatus.BAD_REQUEST,
                f"HTTP 400 Bad Request: the body ended after {total} of {length} bytes",
                {"Connection": "close"},
            )
        return b"".join(chunks)

    # consumers ------------------------------------------------------------------------------------------
    async def _consumers(
        self, request: web.BaseRequest, parts: list[str], first_byte: float
    ) -> web.StreamResponse:
        method, n, group = request.method, len(parts), parts[1]
        if n == 2:
            _allow(method, "POST")
            document = await self._document(request, first_byte, required=False)
            config = InstanceConfig.from_body(document)
            await self._consumer_call(self.consumers.create, group, config)
            return _json(
                200, {"instance_id": config.name, "base_uri": _base_uri(request, group, config.name)}
            )
        if parts[2] != "instances" or n < 4:
            raise not_found()
        name, tail = parts[3], "/".join(parts[4:])
        if tail == "":
            _allow(method, "DELETE")
            await self._consumer_call(self.consumers.delete, group, name)
            return web.Response(status=204)
        instance = self.consumers.get(group, name) if tail in _INSTANCE_ROUTES else None
        if instance is None:
            raise not_found()
        allowed = _INSTANCE_ROUTES[tail]
        _allow(method, *allowed)
        if tail == "records":
            return await self._records(request, instance)
        document = (
            await self._document(request, first_byte, required=False)
            if method == "POST" or (method == "GET" and tail in ("offsets", "committed/offsets"))
            else {}
        )
        result = await self._consumer_call(_instance_action, instance, tail, method, document)
        if result is None:
            return web.Response(status=204)
        return _json(200, result)

    async def _document(
        self, request: web.BaseRequest, first_byte: float, *, required: bool
    ) -> dict[str, Any]:
        if request.method == "GET" and request.content_length is None and not request.body_exists:
            return {}
        body = await self._read_body(request, first_byte)
        if body.strip():
            media = request.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
            if media not in CONSUMER_CONTENT_TYPES:
                shown = repr(request.headers.get("Content-Type")) if media else "missing"
                raise ProxyError(
                    HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                    HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                    f"HTTP 415 Unsupported Media Type: Content-Type is {shown}; use {RESPONSE_CONTENT_TYPE}",
                )
        return parse_json_object(body, required=required)

    async def _records(self, request: web.BaseRequest, instance: ConsumerInstance) -> web.StreamResponse:
        wanted = _accepted_format(request.headers.get("Accept"))
        if wanted != instance.config.format:
            raise ProxyError(
                HTTPStatus.NOT_ACCEPTABLE,
                CONSUMER_FORMAT_MISMATCH,
                "The requested embedded data format does not match the deserializer for this consumer instance",
            )
        timeout = _query_int(request, "timeout")
        max_bytes = _query_int(request, "max_bytes")
        records = await self._consumer_call(_locked_read, instance, timeout, max_bytes)
        content_type = JSON_V2 if wanted == "json" else BINARY_V2
        return _json(200, records, content_type=content_type)


#: Instance sub-resources and their methods (in Allow order).
_INSTANCE_ROUTES: dict[str, tuple[str, ...]] = {
    "subscription": ("GET", "POST", "DELETE"),
    "assignments": ("GET", "POST"),
    "positions": ("POST",),
    "positions/beginning": ("POST",),
    "positions/end": ("POST",),
    "records": ("GET",),
    "offsets": ("GET", "POST"),
    "committed/offsets": ("GET",),
}


def _locked_read(
    instance: ConsumerInstance, timeout: int | None, max_bytes: int | None
) -> list[dict[str, Any]]:
    with instance.lock:
        try:
            return instance.read(timeout, max_bytes)
        finally:
            instance.last_used = time.monotonic()


def _instance_action(instance: ConsumerInstance, tail: str, method: str, document: dict[str, Any]) -> Any:
    """Run one instance call under its lock: the result to send as JSON, or None for 204 No Content."""
    with instance.lock:
        try:
            return _instance_call(instance, tail, method, document)
        finally:
            instance.last_used = time.monotonic()


def _instance_call(instance: ConsumerInstance, tail: str, method: str, document: dict[str, Any]) -> Any:
    if tail == "subscription":
        if method == "GET":
            return {"topics": instance.subscription()}
        if method == "DELETE":
            instance.unsubscribe()
            return None
        topics, pattern = document.get("topics"), document.get("topic_pattern")
        if topics is not None and pattern is not None:
            raise ProxyError(HTTPStatus.CONFLICT, 40903, "Illegal state: " + _EXCLUSIVE)
        if pattern is not None:
            if not isinstance(pattern, str) or not pattern:
                raise _bad_field("topic_pattern must be a non-empty string")
            instance.subscribe(None, pattern)
        else:
            if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
                raise _bad_field("topics must be an array of topic names (or send topic_pattern)")
            instance.subscribe(topics, None)
        return None
    if tail == "assignments":
        if method == "GET":
            return {"partitions": [{"topic": t, "partition": p} for t, p in instance.assignment()]}
        instance.assign(topic_partitions(document))
        return None
    if tail == "positions":
        instance.seek(topic_partition_offsets(document))
        return None
    if tail in ("positions/beginning", "positions/end"):
        instance.seek_to(topic_partitions(document), tail.rsplit("/", 1)[1])
        return None
    if tail == "offsets" and method == "POST":
        instance.commit(topic_partition_offsets(document) if document else None)
        return []
    # GET .../offsets (Confluent's path) or .../committed/offsets: the committed offsets of the partitions
    if not document:
        raise ProxyError(HTTPStatus.NOT_FOUND, PARTITION_NOT_FOUND, "Partition not found.")
    return {"offsets": instance.committed(topic_partitions(document))}


_EXCLUSIVE = "Subscription to topics, partitions and pattern are mutually exclusive"


def _bad_field(message: str) -> ProxyError:
    return ProxyError(HTTPStatus.UNPROCESSABLE_ENTITY, HTTPStatus.UNPROCESSABLE_ENTITY, message)


def _accepted_format(accept: str | None) -> str:
    """The embedded format a records read asks for, as Confluent's proxy picks it: binary for `*/*`, no
    Accept or `application/vnd.kafka.v2+json`; 406/406 when nothing acceptable is served."""
    choices: list[tuple[float, int, str]] = []
    for index, item in enumerate((accept or "*/*").split(",")):
        media, *params = (p.strip() for p in item.split(";"))
        media = media.lower()
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                with contextlib.suppress(ValueError):
                    quality = float(value)
        if quality > 0:
            choices.append((quality, -index, media))
    for _quality, _index, media in sorted(choices, reverse=True):
        if media in RECORD_FORMATS:
            return RECORD_FORMATS[media]
        if media in SCHEMA_FORMATS:
            return media  # served by Confluent (with Schema Registry), never matching a json/binary instance
        if media in ("*/*", "application/*"):
            return "binary"
    raise ProxyError(HTTPStatus.NOT_ACCEPTABLE, HTTPStatus.NOT_ACCEPTABLE, "HTTP 406 Not Acceptable")


def _query_int(request: web.BaseRequest, name: str) -> int | None:
    value = request.query.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise ProxyError(
            HTTPStatus.BAD_REQUEST, HTTPStatus.BAD_REQUEST, f"HTTP 400 Bad Request: {name} must be an integer"
        ) from None


def _partition_number(text: str) -> int:
    if not text.isascii() or not text.isdigit():
        raise ProxyError(HTTPStatus.NOT_FOUND, PARTITION_NOT_FOUND, "Partition not found.")
    return int(text)


def _base_uri(request: web.BaseRequest, group: str, name: str) -> str:
    """The instance's URL as the client reached it. Through the API Gateway that is the gateway's URL: its
    integration sends `X-Forwarded-Host`, `-Proto` and `-Prefix` (with `{api_id}` and `{stage}` to fill in from
    `X-Forwarded-Api-Id` and `-Stage`); directly, this server's own URL."""
    headers = request.headers
    host = headers.get("X-Forwarded-Host") or request.host
    scheme = headers.get("X-Forwarded-Proto") or request.scheme
    prefix = (headers.get("X-Forwarded-Prefix") or "").rstrip("/")
    prefix = prefix.replace("{api_id}", headers.get("X-Forwarded-Api-Id", "")).replace(
        "{stage}", headers.get("X-Forwarded-Stage", "")
    )
    return f"{scheme}://{host}{prefix}/consumers/{quote(group, safe='')}/instances/{quote(name, safe='')}"


def _allow(method: str, *allowed: str) -> None:
    if method not in allowed:
        raise ProxyError(
            HTTPStatus.METHOD_NOT_ALLOWED,
            HTTPStatus.METHOD_NOT_ALLOWED,
            "HTTP 405 Method Not Allowed",
            {"Allow": ", ".join(allowed)},
        )


def _too_large(limit: int) -> ProxyError:
    return ProxyError(
        HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
        HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
        f"Request body larger than {limit // (1024 * 1024)} MiB; send fewer records per request",
        {"Connection": "close"},
    )


def make_server(
    host: str,
    port: int,
    bootstrap_servers: str,
    *,
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    worker_threads: int = DEFAULT_WORKER_THREADS,
    consumer_instance_timeout_ms: int = contract.DEFAULT_CONSUMER_INSTANCE_TIMEOUT_MS,
    consumer_session_timeout_ms: int = contract.DEFAULT_CONSUMER_SESSION_TIMEOUT_MS,
    **gateway_options: Any,
) -> ProxyServer:
    """A bound, not yet serving proxy (port 0 picks a free one); `gateway_options` go to `KafkaGateway`."""
    gateway = KafkaGateway(bootstrap_servers, **gateway_options)
    consumers = ConsumerManager(
        bootstrap_servers,
        instance_timeout_ms=consumer_instance_timeout_ms,
        session_timeout_ms=consumer_session_timeout_ms,
    )
    try:
        return ProxyServer(
            (host, port),
            gateway,
            consumers,
            request_timeout=request_timeout,
            idle_timeout=idle_timeout,
            max_connections=max_connections,
            worker_threads=worker_threads,
        )
    except (OSError, ValueError):
        gateway.close(0)
        raise
