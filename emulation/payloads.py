"""Turn source rows into the JSON values the API carries (docs/data-contracts.md 3.3 and 3.5).

Datetimes become ISO-8601 strings (`2019-03-02T11:01:22`), or in the course's mode the course's form
(`2019-03-02 11:01:22`: what its scripts' `json.dumps(..., default=str)` sends); every other column keeps its JSON
type. The Kafka REST Proxy body and the Kinesis record bodies are built here, once, for both paths.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

import orjson

KAFKA_JSON_CONTENT_TYPE = "application/vnd.kafka.json.v2+json"


def record_value(row: Mapping[str, Any], *, course: bool = False) -> dict[str, Any]:
    """One source row as a JSON-ready dict: datetimes/dates to ISO-8601 (`course`: `YYYY-MM-DD HH:MM:SS`, the
    course's form), Decimals to float."""
    return {key: _jsonable(value, course) for key, value in row.items()}


def _jsonable(value: Any, course: bool = False) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" " if course else "T")  # " ": exactly str(value), as the course sends
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def kafka_body(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """REST Proxy v2 produce body: `{"records": [{"value": {...}}, ...]}`."""
    return {"records": [{"value": record_value(row)} for row in rows]}


def kinesis_record_body(stream: str, row: Mapping[str, Any], partition_key: str) -> dict[str, Any]:
    """API Gateway PutRecord body (docs/data-contracts.md 3.5): `Data` as a JSON object; the integration
    base64-encodes it."""
    return {"StreamName": stream, "Data": record_value(row), "PartitionKey": partition_key}


def kinesis_records_body(
    stream: str, rows: Iterable[Mapping[str, Any]], partition_key: Callable[[Mapping[str, Any]], str]
) -> dict[str, Any]:
    """API Gateway PutRecords body: `{"StreamName": ..., "Records": [{"Data": {...}, "PartitionKey": ...}]}`."""
    return {
        "StreamName": stream,
        "Records": [{"Data": record_value(row), "PartitionKey": partition_key(row)} for row in rows],
    }


def to_json_bytes(obj: Any) -> bytes:
    """Compact JSON bytes (orjson, fast): datetimes and dates as ISO-8601 (as `record_value`), Decimals as floats."""
    return orjson.dumps(obj, default=_orjson_default)


def _orjson_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def kafka_body_bytes(rows: Iterable[Mapping[str, Any]]) -> bytes:
    """`kafka_body(rows)` encoded, without the intermediate copies (the batch emulator's hot path)."""
    return to_json_bytes({"records": [{"value": row} for row in rows]})
