"""The consumer API's routes below an instance (subscription, assignments, positions, records, offsets): the
table of sub-resources and methods, the instance calls each runs (blocking, under the instance's lock, on a
worker thread), the records read's choice of embedded format from `Accept`, and the instance's `base_uri`."""

from __future__ import annotations

import contextlib
import time
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

from aiohttp import web

from local_stack.rest_proxy.consumers import MUTUALLY_EXCLUSIVE, ConsumerInstance
from local_stack.rest_proxy.contract import (
    BINARY_V2,
    ILLEGAL_STATE,
    JSON_V2,
    PARTITION_NOT_FOUND,
    RECORD_FORMATS,
    RESPONSE_CONTENT_TYPE,
    ProxyError,
)
from local_stack.rest_proxy.validation import topic_partition_offsets, topic_partitions

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
#: Instance sub-resources and their methods (in Allow order).
INSTANCE_ROUTES: dict[str, tuple[str, ...]] = {
    "subscription": ("GET", "POST", "DELETE"),
    "assignments": ("GET", "POST"),
    "positions": ("POST",),
    "positions/beginning": ("POST",),
    "positions/end": ("POST",),
    "records": ("GET",),
    "offsets": ("GET", "POST"),
    "committed/offsets": ("GET",),
}


def locked_read(
    instance: ConsumerInstance, timeout: int | None, max_bytes: int | None
) -> list[dict[str, Any]]:
    with instance.lock:
        try:
            return instance.read(timeout, max_bytes)
        finally:
            instance.last_used = time.monotonic()


def instance_action(instance: ConsumerInstance, tail: str, method: str, document: dict[str, Any]) -> Any:
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
            raise ProxyError(HTTPStatus.CONFLICT, ILLEGAL_STATE, f"Illegal state: {MUTUALLY_EXCLUSIVE}")
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


def _bad_field(message: str) -> ProxyError:
    return ProxyError(HTTPStatus.UNPROCESSABLE_ENTITY, HTTPStatus.UNPROCESSABLE_ENTITY, message)


def accepted_format(accept: str | None) -> str:
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


def base_uri(request: web.BaseRequest, group: str, name: str) -> str:
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
