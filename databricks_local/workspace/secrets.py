"""Secrets 2.0 of the local workspace (`scopes/create`, `scopes/list`, `scopes/delete`, `put`, `list`, `delete`,
`get`) and the hand-over to runs: each run's process gets the scopes in a 0600 JSON file named by the environment
variable `DATABRICKS_LOCAL_SECRETS_FILE`, which the notebook runtime reads with `load_secret_store(path)` so that
`dbutils.secrets.get(scope, key)` returns what this API stored.

The file is `{"scopes": {"<scope>": {"<key>": "<value>", ...}, ...}}`.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from databricks_local.workspace.errors import ApiError, already_exists, invalid, not_found, require
from databricks_local.workspace.store import Store, now_ms

#: The environment variable naming a run's secrets file.
SECRETS_FILE_ENV = "DATABRICKS_LOCAL_SECRETS_FILE"
#: Databricks: scope names and keys are alphanumeric, dashes, underscores, periods; at most 128 characters.
NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,128}$")
MAX_VALUE_BYTES = 128 * 1024


def load_secret_store(path: str | Path) -> dict[str, dict[str, str]]:
    """The scopes of a run's secrets file: scope -> {key: value}. A missing or malformed file is an error naming
    the file (a run without secrets gets an empty file, never none)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise RuntimeError(f"secrets file {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise RuntimeError(f"secrets file {path} is not JSON: {exc}") from exc
    scopes = data.get("scopes") if isinstance(data, dict) else None
    if not isinstance(scopes, dict) or not all(
        isinstance(keys, dict) and all(isinstance(v, str) for v in keys.values()) for keys in scopes.values()
    ):
        raise RuntimeError(f'secrets file {path}: expected {{"scopes": {{scope: {{key: value}}}}}}')
    return {str(scope): dict(keys) for scope, keys in scopes.items()}


class SecretFileStore:
    """A run's secret scopes as the runtime's `dbutils.secrets` reads them (`databricks_local.dbutils.SecretStore`:
    `get`, `list_scopes`, `list_keys`), loaded once from the run's secrets file."""

    def __init__(self, scopes: Mapping[str, Mapping[str, str]]) -> None:
        self._scopes = {scope: dict(keys) for scope, keys in scopes.items()}

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> SecretFileStore | None:
        """The store of `DATABRICKS_LOCAL_SECRETS_FILE`, or None outside a workspace run."""
        path = (os.environ if environ is None else environ).get(SECRETS_FILE_ENV)
        return cls(load_secret_store(path)) if path else None

    def get(self, scope: str, key: str) -> str | None:
        return self._scopes.get(scope, {}).get(key)

    def list_scopes(self) -> list[str]:
        return sorted(self._scopes)

    def list_keys(self, scope: str) -> list[str]:
        return sorted(self._scopes.get(scope, {}))


def write_secret_store(path: Path, store: Mapping[str, Mapping[str, str]]) -> None:
    """Write a run's secrets file, 0600 from its creation."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"scopes": {scope: dict(keys) for scope, keys in store.items()}}, fh)


def _scope(store: Store, name: Any) -> dict[str, Any]:
    if not isinstance(name, str) or not name:
        raise invalid("Missing required field: scope")
    scope = store.get_scope(name)
    if scope is None:
        raise not_found(f"Scope {name} does not exist!")
    return scope


def create_scope(store: Store, body: dict[str, Any]) -> dict[str, Any]:
    name = require(body, "scope")
    if not NAME.match(name):
        raise invalid(
            f"Scope name {name!r} is invalid: it must consist of alphanumeric characters, dashes, underscores, "
            "and periods, and may not exceed 128 characters."
        )
    backend = body.get("scope_backend_type") or "DATABRICKS"
    if backend != "DATABRICKS":
        raise invalid(
            f"Scope backend type {backend} is not supported by the local workspace (only DATABRICKS)"
        )
    if store.get_scope(name) is not None:
        raise already_exists(f"Scope {name} already exists!")
    store.add_scope({"name": name, "backend_type": "DATABRICKS"})
    return {}


def list_scopes(store: Store, _query: Mapping[str, str]) -> dict[str, Any]:
    scopes = store.scopes()
    return {"scopes": scopes} if scopes else {}


def delete_scope(store: Store, body: dict[str, Any]) -> dict[str, Any]:
    scope = _scope(store, body.get("scope"))
    store.delete_scope(scope["name"])
    return {}


def put_secret(store: Store, body: dict[str, Any]) -> dict[str, Any]:
    scope = _scope(store, body.get("scope"))
    key = require(body, "key")
    if not NAME.match(key):
        raise invalid(
            f"Secret key {key!r} is invalid: it must consist of alphanumeric characters, dashes, underscores, "
            "and periods, and may not exceed 128 characters."
        )
    string_value, bytes_value = body.get("string_value"), body.get("bytes_value")
    if (string_value is None) == (bytes_value is None):
        raise invalid("Exactly one of string_value and bytes_value must be given")
    if string_value is not None:
        if not isinstance(string_value, str):
            raise invalid("string_value must be a string")
        value = string_value
    else:
        try:
            value = base64.b64decode(str(bytes_value), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise invalid(f"bytes_value is not base64 of UTF-8 text: {exc}") from exc
    if len(value.encode("utf-8")) > MAX_VALUE_BYTES:
        raise invalid(f"Secret value is larger than the limit of {MAX_VALUE_BYTES} bytes")
    store.put_secret(scope["name"], key, value)
    return {}


def list_secrets(store: Store, query: Mapping[str, str]) -> dict[str, Any]:
    scope = _scope(store, query.get("scope"))
    rows = store.secrets(scope["name"])
    if not rows:
        return {}
    return {"secrets": [{"key": r["key"], "last_updated_timestamp": r["updated"]} for r in rows]}


def delete_secret(store: Store, body: dict[str, Any]) -> dict[str, Any]:
    scope = _scope(store, body.get("scope"))
    key = require(body, "key")
    if not store.delete_secret(scope["name"], key):
        raise not_found(f"Secret {key} does not exist in scope {scope['name']}!")
    return {}


def get_secret(store: Store, query: Mapping[str, str]) -> dict[str, Any]:
    """`GET /api/2.0/secrets/get`: the value base64-encoded, as Databricks answers it."""
    scope = _scope(store, query.get("scope"))
    key = query.get("key") or ""
    row = store.get_secret(scope["name"], key)
    if row is None:
        raise not_found(f"Secret {key} does not exist in scope {scope['name']}!")
    return {"key": key, "value": base64.b64encode(row["value"].encode("utf-8")).decode("ascii")}


__all__ = ["SECRETS_FILE_ENV", "ApiError", "load_secret_store", "now_ms", "write_secret_store"]
