"""Request validation, pure functions: the produce body (`{"records": [...]}`, docs/data-contracts.md 3.3), its
Content-Type and charset, topic names, and the JSON bodies of the consumer API. Every failure is a `ProxyError`
(a 4xx) and nothing else (tests/local_stack/test_rest_proxy_properties.py)."""

from __future__ import annotations

import codecs
import json
import math
from collections.abc import Callable
from http import HTTPStatus
from typing import Any, NamedTuple

import orjson

from local_stack.rest_proxy.contract import (
    _LONG_DIGITS,
    JSON_V2,
    MAX_BODY_DEPTH,
    MAX_VALUE_DEPTH,
    NOT_CHARSETS,
    RECORD_FIELDS,
    REQUEST_FIELDS,
    TOPIC_NAME,
    TOPIC_NOT_FOUND,
    UNPROCESSABLE,
    ProxyError,
)


class ProduceRecord(NamedTuple):
    """One record of a produce request, serialised as the JSON embedded format does (compact JSON bytes)."""

    value: bytes
    key: bytes | None = None
    partition: int | None = None


def check_content_type(header: str | None) -> str:
    """Validate a produce request's Content-Type; return its charset (`utf-8` when absent). 415 otherwise, also
    for a charset Python does not know and for codecs that are not text encodings (`base64`, `hex`, `zlib`,
    `idna`, `unicode_escape`, ...), which `codecs.lookup` accepts."""
    media_type, _, params = (header or "").partition(";")
    if media_type.strip().lower() != JSON_V2:
        shown = f"{header!r}" if header else "missing"
        raise ProxyError(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            f"HTTP 415 Unsupported Media Type: Content-Type is {shown}; use {JSON_V2}",
        )
    charset = "utf-8"
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip('"').lower()
    try:
        info = codecs.lookup(charset)
    except (LookupError, ValueError):  # ValueError: a NUL in the name
        info = None
    if info is None or not getattr(info, "_is_text_encoding", True) or info.name in NOT_CHARSETS:
        raise ProxyError(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            f"HTTP 415 Unsupported Media Type: unknown charset {charset!r}",
        )
    return charset


def parse_produce_body(body: bytes, charset: str = "utf-8") -> list[ProduceRecord]:
    """Parse and validate a v2 JSON produce body into records. 400 for bad JSON, 422 for a bad shape or JSON
    nested too deeply. Any input raises nothing but `ProxyError` (tests/local_stack/test_rest_proxy_properties.py).

    Integers stay exact: orjson reads integers only within 64 bits (a larger one silently became a float), so a
    body with a run of 19 or more digits is read by the standard library's parser instead, and its values are
    written back with `json.dumps`, every integer as it was sent.
    """
    if not body.strip():
        raise ProxyError(HTTPStatus.UNPROCESSABLE_ENTITY, UNPROCESSABLE, "Request body is empty")
    try:
        text: bytes | str = body if codecs.lookup(charset).name == "utf-8" else body.decode(charset)
    except (LookupError, ValueError) as exc:  # ValueError covers UnicodeError
        raise _malformed(f"the body is not valid {charset}: {exc}") from None
    exact = _LONG_DIGITS.search(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
    document = _loads_exact(text) if exact else _loads(text)
    dumps = _dumps_exact if exact else _dumps
    if not isinstance(document, dict):
        raise _unprocessable('Request body must be a JSON object: {"records": [...]}')
    unknown = sorted(set(document) - REQUEST_FIELDS)
    if unknown:
        raise _unprocessable(f"Unrecognized field: {unknown[0]}")
    records = document.get("records")
    if records is None:
        raise _unprocessable("records may not be null")
    if not isinstance(records, list):
        raise _unprocessable("records must be an array")
    if not records:
        raise _unprocessable("records may not be empty")
    return [_parse_record(index, record, dumps) for index, record in enumerate(records)]


def _loads(text: bytes | str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        if "depth limit" in str(exc):
            raise _too_deep(f"the body is nested more than {MAX_BODY_DEPTH} levels deep") from None
        raise _malformed(str(exc)) from None


def _loads_exact(text: bytes | str) -> Any:
    """The standard library's parser, strict where orjson is: no NaN/Infinity, no number out of float range."""
    try:
        return json.loads(
            text.decode("utf-8") if isinstance(text, bytes) else text,
            parse_constant=_reject_constant,
            parse_float=_finite_float,
        )
    except RecursionError:
        raise _too_deep(f"the body is nested more than {MAX_BODY_DEPTH} levels deep") from None
    except ValueError as exc:  # JSONDecodeError, bad UTF-8, an integer over Python's 4300 digits
        raise _malformed(str(exc)) from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(literal: str) -> float:
    value = float(literal)
    if math.isinf(value):
        raise ValueError(f"number {literal[:40]} is out of range")
    return value


def _parse_record(index: int, record: Any, dumps: Callable[[Any, str], bytes]) -> ProduceRecord:
    if not isinstance(record, dict):
        raise _unprocessable(f"records[{index}] must be an object with a value")
    if not record.keys() <= RECORD_FIELDS:
        unknown = sorted(set(record) - RECORD_FIELDS)
        raise _unprocessable(f"records[{index}]: Unrecognized field: {unknown[0]}")
    if record.get("value") is None:
        raise _unprocessable(f"records[{index}]: value may not be null")
    partition = record.get("partition")
    if partition is not None and (type(partition) is not int or partition < 0):
        raise _unprocessable(f"records[{index}]: partition must be a non-negative integer")
    key = record.get("key")
    return ProduceRecord(
        value=dumps(record["value"], f"records[{index}].value"),
        key=None if key is None else dumps(key, f"records[{index}].key"),
        partition=partition,
    )


def _unprocessable(message: str) -> ProxyError:
    return ProxyError(HTTPStatus.UNPROCESSABLE_ENTITY, UNPROCESSABLE, message)


def _malformed(reason: str) -> ProxyError:
    return ProxyError(HTTPStatus.BAD_REQUEST, HTTPStatus.BAD_REQUEST, f"Malformed JSON: {reason}")


def _too_deep(where: str) -> ProxyError:
    return _unprocessable(f"JSON nested too deeply: {where}; flatten the record")


def _dumps(value: Any, where: str) -> bytes:
    """Compact JSON, non-ASCII as UTF-8: what Confluent's JSON embedded format (Jackson) writes."""
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:  # the only cause for parsed JSON: orjson's recursion limit
        raise _too_deep(f"{where} is nested more than {MAX_VALUE_DEPTH} levels deep") from None


def _dumps_exact(value: Any, where: str) -> bytes:
    """`_dumps` for values read by the standard library: big integers written exactly, the same depth limit."""
    if _deeper_than(value, MAX_VALUE_DEPTH):
        raise _too_deep(f"{where} is nested more than {MAX_VALUE_DEPTH} levels deep")
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate escape, which orjson refuses as well
        raise _malformed(f"{where} holds a lone surrogate ({exc.reason})") from None


def _deeper_than(value: Any, limit: int) -> bool:
    """True when `value` has more than `limit` nested arrays/objects (orjson.dumps's limit), without recursion."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def check_topic_name(topic: str) -> str:
    """`topic` (URL-decoded) when it is a name Kafka accepts, else 404/40401 saying why: no such topic can exist.

    Kafka's rule: 1 to 249 characters of `[a-zA-Z0-9._-]`, and not `.` or `..`.
    """
    if TOPIC_NAME.fullmatch(topic) and topic not in (".", ".."):
        return topic
    shown = topic if len(topic) <= 60 else f"{topic[:60]}... ({len(topic)} characters)"
    raise ProxyError(
        HTTPStatus.NOT_FOUND,
        TOPIC_NOT_FOUND,
        f"Topic not found: {shown!r} is not a valid Kafka topic name "
        "(1 to 249 characters of a-z, A-Z, 0-9, '.', '_', '-'; not '.' or '..')",
    )


class _UnknownTopic(ProxyError):
    """The broker does not know the topic (yet): retried for the topic wait, then the final 404/40401."""

    def __init__(self) -> None:
        super().__init__(HTTPStatus.NOT_FOUND, TOPIC_NOT_FOUND, "Topic not found.")


def parse_json_object(body: bytes, *, required: bool) -> dict[str, Any]:
    """A consumer-API body: a JSON object (400 when malformed, 422 when not an object). An absent body is `{}`
    unless `required` (then 422, as Confluent's `@NotNull` bodies)."""
    if not body.strip():
        if required:
            raise _unprocessable("Request body is empty")
        return {}
    document = _loads(body)
    if not isinstance(document, dict):
        raise _unprocessable("Request body must be a JSON object")
    return document


def topic_partitions(document: dict[str, Any], field: str = "partitions") -> list[tuple[str, int]]:
    """`[{"topic", "partition"}, ...]` of an assignments/positions/committed body as (topic, partition)."""
    items = document.get(field)
    if not isinstance(items, list):
        raise _unprocessable(f"{field} must be an array of {{topic, partition}}")
    return [(_topic_of(i, item, field), _int_of(i, item, field, "partition")) for i, item in enumerate(items)]


def topic_partition_offsets(document: dict[str, Any]) -> list[tuple[str, int, int]]:
    """`{"offsets": [{"topic", "partition", "offset"}, ...]}` as (topic, partition, offset)."""
    items = document.get("offsets")
    if not isinstance(items, list):
        raise _unprocessable("offsets must be an array of {topic, partition, offset}")
    return [
        (
            _topic_of(i, item, "offsets"),
            _int_of(i, item, "offsets", "partition"),
            _int_of(i, item, "offsets", "offset"),
        )
        for i, item in enumerate(items)
    ]


def _topic_of(index: int, item: Any, field: str) -> str:
    if not isinstance(item, dict) or not isinstance(item.get("topic"), str):
        raise _unprocessable(f"{field}[{index}].topic must be a string")
    return item["topic"]


def _int_of(index: int, item: dict[str, Any], field: str, name: str) -> int:
    value = item.get(name)
    if type(value) is not int or value < 0:
        raise _unprocessable(f"{field}[{index}].{name} must be a non-negative integer")
    return value
