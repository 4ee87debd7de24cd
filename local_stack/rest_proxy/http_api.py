"""The HTTP side of the REST Proxy: Confluent's v2 API (produce, metadata and consumer endpoints) on aiohttp's
low-level server, with the connection protocol of `connection.py` (request deadline, connection cap, JSON framing
errors). `ProxyServer` binds, serves in the calling thread until `shutdown()` and routes each request; idle
keep-alive connections close after `idle_timeout` s (aiohttp's keep-alive timeout). Blocking Kafka calls run on
thread pools off the event loop, one for produce and metadata, one for the consumer instances.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

from aiohttp import http_exceptions, web

from local_stack.rest_proxy import contract
from local_stack.rest_proxy.connection import Connection, LoopbackHttpServer, json_response
from local_stack.rest_proxy.consumer_routes import (
    CONSUMER_CONTENT_TYPES,
    INSTANCE_ROUTES,
    accepted_format,
    base_uri,
    instance_action,
    locked_read,
)
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
    RESPONSE_CONTENT_TYPE,
    ProxyError,
    not_found,
)
from local_stack.rest_proxy.producer import KafkaGateway
from local_stack.rest_proxy.validation import (
    ProduceRecord,
    check_content_type,
    parse_json_object,
    parse_produce_body,
)

log = logging.getLogger("rest_proxy")

EXPIRY_INTERVAL = 1.0
# --- the API -------------------------------------------------------------------------------------------------


class ProxyServer(LoopbackHttpServer):
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
        super().__init__(address)
        self.gateway = gateway
        self.consumers = consumers
        self.request_timeout = request_timeout
        self.idle_timeout = idle_timeout
        self.max_connections = max_connections
        self.drain_timeout = drain_timeout
        self.open_connections = 0
        self.refused = 0  # connections answered 503 (for tests and logs)
        self._executor = ThreadPoolExecutor(worker_threads, thread_name_prefix="kafka-call")
        # consumer calls (a records read waits up to its timeout) get threads of their own: produce never waits
        self._consumer_executor = ThreadPoolExecutor(worker_threads, thread_name_prefix="consumer-call")

    # lifecycle --------------------------------------------------------------------------------------------
    async def _on_start(self) -> None:
        assert self._loop is not None
        self._loop.set_default_executor(self._executor)
        self._expiry = asyncio.create_task(self._expire_idle_consumers())

    async def _on_stop(self) -> None:
        self._expiry.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._expiry

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
            connection.request_began(request) if isinstance(connection, Connection) else time.monotonic()
        )
        records = 0
        try:
            response, records = await self._route(request, first_byte)
        except ProxyError as exc:
            response = json_response(exc.status, exc.body(), exc.headers)
            if exc.status == HTTPStatus.REQUEST_TIMEOUT and isinstance(connection, Connection):
                connection.no_lingering()
            if exc.status in (
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                HTTPStatus.REQUEST_TIMEOUT,
            ) or exc.headers.get("Connection"):
                response.force_close()
        except Exception:
            log.exception("internal error on %s %s", request.method, request.raw_path)
            response = json_response(500, {"error_code": 500, "message": "Internal server error"})
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
            return json_response(200, {}), 0
        head, n = parts[0], len(parts)
        if head == "topics" and n <= 4:
            return await self._topics(request, parts, first_byte)
        if head == "brokers" and n == 1:
            _allow(method, "GET")
            return json_response(200, {"brokers": await self._call(self.gateway.brokers)}), 0
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
            return json_response(200, await self._call(self.gateway.list_topics)), 0
        topic = parts[1]
        if n == 2:
            _allow(method, "GET", "POST")
            if method == "GET":
                return json_response(200, await self._call(self.gateway.describe_topic, topic)), 0
            return await self._produce(request, topic, None, first_byte)
        if parts[2] != "partitions":
            raise not_found()
        if n == 3:
            _allow(method, "GET")
            return json_response(200, await self._call(self.gateway.partitions, topic)), 0
        partition = _partition_number(parts[3])
        _allow(method, "GET", "POST")
        if method == "GET":
            return json_response(200, await self._call(self.gateway.partition, topic, partition)), 0
        return await self._produce(request, topic, partition, first_byte)

    async def _produce(
        self, request: web.BaseRequest, topic: str, partition: int | None, first_byte: float
    ) -> tuple[web.StreamResponse, int]:
        body = await self._read_body(request, first_byte)
        charset = check_content_type(request.headers.get("Content-Type"))
        # parsed on the worker thread too: the event loop goes on reading the other requests meanwhile
        offsets = await self._call(self._parse_and_produce, body, charset, topic, partition)
        payload: dict[str, Any] = {"offsets": offsets, "key_schema_id": None, "value_schema_id": None}
        failed = [entry for entry in offsets if entry["error_code"] is not None]
        if len(failed) < len(offsets):
            if failed:
                log.warning(
                    "%s: %d of %d record(s) failed: %s", topic, len(failed), len(offsets), failed[0]["error"]
                )
            return json_response(200, payload), len(offsets)
        retriable = any(entry["error_code"] == KAFKA_RETRIABLE_ERROR for entry in failed)
        code = KAFKA_RETRIABLE_ERROR if retriable else KAFKA_ERROR
        prefix = "Retriable Kafka error" if retriable else "Kafka error"
        log.warning("%s: all %d record(s) failed: %s", topic, len(offsets), failed[0]["error"])
        return json_response(
            500, {"error_code": code, "message": f"{prefix}: {failed[0]['error']}", **payload}
        ), len(offsets)

    def _parse_and_produce(
        self, body: bytes, charset: str, topic: str, partition: int | None
    ) -> list[dict[str, Any]]:
        records = parse_produce_body(body, charset)
        if partition is not None:  # POST /topics/{topic}/partitions/{p}: every record goes there
            records = [ProduceRecord(r.value, r.key, partition) for r in records]
        return self.gateway.produce(topic, records)

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
            return json_response(
                200, {"instance_id": config.name, "base_uri": base_uri(request, group, config.name)}
            )
        if parts[2] != "instances" or n < 4:
            raise not_found()
        name, tail = parts[3], "/".join(parts[4:])
        if tail == "":
            _allow(method, "DELETE")
            await self._consumer_call(self.consumers.delete, group, name)
            return web.Response(status=204)
        instance = self.consumers.get(group, name) if tail in INSTANCE_ROUTES else None
        if instance is None:
            raise not_found()
        allowed = INSTANCE_ROUTES[tail]
        _allow(method, *allowed)
        if tail == "records":
            return await self._records(request, instance)
        document = (
            await self._document(request, first_byte, required=False)
            if method == "POST" or (method == "GET" and tail in ("offsets", "committed/offsets"))
            else {}
        )
        result = await self._consumer_call(instance_action, instance, tail, method, document)
        if result is None:
            return web.Response(status=204)
        return json_response(200, result)

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
        wanted = accepted_format(request.headers.get("Accept"))
        if wanted != instance.config.format:
            raise ProxyError(
                HTTPStatus.NOT_ACCEPTABLE,
                CONSUMER_FORMAT_MISMATCH,
                "The requested embedded data format does not match the deserializer for this consumer instance",
            )
        timeout = _query_int(request, "timeout")
        max_bytes = _query_int(request, "max_bytes")
        records = await self._consumer_call(locked_read, instance, timeout, max_bytes)
        content_type = JSON_V2 if wanted == "json" else BINARY_V2
        return json_response(200, records, content_type=content_type)


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
