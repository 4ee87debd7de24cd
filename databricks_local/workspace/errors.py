"""Databricks' REST error bodies: `ApiError` carries an HTTP status, an `error_code` and a message, and is answered
as `{"error_code": ..., "message": ...}` (what the Databricks SDK and the Airflow provider parse)."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error answered to the client with Databricks' body."""

    def __init__(self, status: int, error_code: str | int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message

    def body(self) -> dict[str, Any]:
        return {"error_code": self.error_code, "message": self.message}


def not_found(message: str) -> ApiError:
    return ApiError(404, "RESOURCE_DOES_NOT_EXIST", message)


def invalid(message: str) -> ApiError:
    return ApiError(400, "INVALID_PARAMETER_VALUE", message)


def already_exists(message: str) -> ApiError:
    return ApiError(400, "RESOURCE_ALREADY_EXISTS", message)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BAD_REQUEST", message)


def malformed(message: str) -> ApiError:
    return ApiError(400, "MALFORMED_REQUEST", message)


def no_endpoint(method: str, path: str) -> ApiError:
    """An endpoint this workspace does not serve (Databricks answers 404 ENDPOINT_NOT_FOUND)."""
    return ApiError(404, "ENDPOINT_NOT_FOUND", f"No API found for '{method} {path}'")


def require(body: dict[str, Any], name: str, kind: type | tuple[type, ...] = str) -> Any:
    """`body[name]`, which must be present and of `kind`, else INVALID_PARAMETER_VALUE as Databricks words it."""
    value = body.get(name)
    if value is None or value == "":
        raise invalid(f"Missing required field: {name}")
    if kind is int and isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise invalid(f"Invalid value for field {name}: {value!r}")
    return value


def integer(value: Any, name: str) -> int:
    """A query or body integer (query strings are text)."""
    if isinstance(value, bool):
        raise invalid(f"Invalid value for field {name}: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    if value is None or value == "":
        raise invalid(f"Missing required field: {name}")
    raise invalid(f"Invalid value for field {name}: {value!r}")
