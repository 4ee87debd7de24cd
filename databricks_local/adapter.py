"""The Databricks objects a notebook uses, for local runs: `spark`, `dbutils` and `display`.

* `dbutils.widgets`: `text`, `dropdown`, `combobox`, `multiselect`, `get`, `getAll`, `remove`, `removeAll`;
  values given to the runner (`--widget name=value`, job parameters on Databricks) override the defaults.
* `dbutils.secrets.get(scope, key)`: the environment variable `DATABRICKS_SECRET_<SCOPE>_<KEY>` (upper case, every
  character other than a letter or digit becomes `_`), e.g. scope `aws`, key `access_key_id` ->
  `DATABRICKS_SECRET_AWS_ACCESS_KEY_ID`. `list(scope)` and `listScopes()` read the same variables.
* `dbutils.fs`: `dbfs.FileSystem` (DBFS, mounts, S3), re-exported here.
* `spark`: the real SparkSession prepared by `spark_hooks.prepare_session` (re-exported here, with the former
  `SparkProxy` and `install_local_sources` names).
* `display(df)`: prints the first rows.
"""

from __future__ import annotations

import os
import re
from collections import namedtuple
from collections.abc import Mapping
from typing import Any

from pyspark.sql import DataFrame

from databricks_local.dbfs import FileInfo, FileSystem, MountInfo  # noqa: F401 - re-exported
from databricks_local.lake import S3Mirror
from databricks_local.spark_hooks import SparkProxy, install_local_sources, prepare_session  # noqa: F401

SecretScope = namedtuple("SecretScope", "name")
SecretMetadata = namedtuple("SecretMetadata", "key")
DISPLAY_ROWS = 20


class WidgetError(KeyError):
    """A widget was read before it was defined (Databricks: InputWidgetNotDefined)."""

    def __str__(self) -> str:
        return str(self.args[0])


class SecretError(KeyError):
    """A secret the environment does not provide."""

    def __str__(self) -> str:
        return str(self.args[0])


def secret_env_name(scope: str, key: str) -> str:
    """Environment variable holding secret `key` of `scope`: `DATABRICKS_SECRET_<SCOPE>_<KEY>`."""
    return "DATABRICKS_SECRET_" + re.sub(r"[^A-Za-z0-9]", "_", f"{scope}_{key}").upper()


class Widgets:
    """`dbutils.widgets`: defaults declared by the notebook, overridden by the runner's values."""

    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        self._overrides = dict(values or {})
        self._defaults: dict[str, str] = {}

    def text(self, name: str, defaultValue: str = "", label: str | None = None) -> None:
        self._defaults[name] = defaultValue

    def dropdown(self, name: str, defaultValue: str, choices: list[str], label: str | None = None) -> None:
        if defaultValue not in choices:
            raise ValueError(f"widget {name}: default {defaultValue!r} is not one of {choices}")
        value = self._overrides.get(name)
        if value is not None and value not in choices:
            raise ValueError(f"widget {name}: {value!r} is not one of {', '.join(choices)}")
        self._defaults[name] = defaultValue

    combobox = text

    def multiselect(self, name: str, defaultValue: str, choices: list[str], label: str | None = None) -> None:
        self._defaults[name] = defaultValue

    def get(self, name: str) -> str:
        if name in self._overrides:
            return self._overrides[name]
        if name in self._defaults:
            return self._defaults[name]
        raise WidgetError(f"no input widget named {name!r} is defined")

    getArgument = get

    def getAll(self) -> dict[str, str]:
        return {**self._defaults, **self._overrides}

    def remove(self, name: str) -> None:
        self._defaults.pop(name, None)

    def removeAll(self) -> None:
        self._defaults.clear()


class Secrets:
    """`dbutils.secrets`, read from `DATABRICKS_SECRET_<SCOPE>_<KEY>` environment variables."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ

    def get(self, scope: str, key: str) -> str:
        name = secret_env_name(scope, key)
        value = self._environ.get(name)
        if value is None:
            raise SecretError(f"secret {key!r} of scope {scope!r} is not set: export {name}=...")
        return value

    def getBytes(self, scope: str, key: str) -> bytes:
        return self.get(scope, key).encode()

    def listScopes(self) -> list[SecretScope]:
        return [SecretScope(s) for s in sorted({k.split("_")[2].lower() for k in self._secret_vars()})]

    def list(self, scope: str) -> list[SecretMetadata]:
        prefix = secret_env_name(scope, "")
        return [SecretMetadata(k[len(prefix) :].lower()) for k in self._secret_vars() if k.startswith(prefix)]

    def _secret_vars(self) -> list[str]:
        return sorted(k for k in self._environ if k.startswith("DATABRICKS_SECRET_") and k.count("_") >= 3)


class NotebookExit(Exception):
    """Raised by `dbutils.notebook.exit(value)`: the notebook ends there and `value` is its result."""

    def __init__(self, value: str) -> None:
        super().__init__(value)
        self.value = value


class NotebookUtils:
    """`dbutils.notebook`: only `exit`, which ends the run with a string result as on Databricks."""

    def exit(self, value: str) -> None:
        raise NotebookExit(str(value))


class LocalDbutils:
    """The `dbutils` object of a local run."""

    def __init__(
        self,
        widgets: Mapping[str, str] | None = None,
        mirror: S3Mirror | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.widgets = Widgets(widgets)
        self.secrets = Secrets(environ)
        self.fs = FileSystem(mirror)
        self.notebook = NotebookUtils()


def make_display(rows: int = DISPLAY_ROWS, printer: Any = print) -> Any:
    """A `display` that prints the first `rows` rows of a Spark or pandas DataFrame (anything else: as is)."""

    def display(obj: Any, *args: Any, **kwargs: Any) -> None:
        if isinstance(obj, DataFrame):
            frame = obj.limit(rows + 1).toPandas()
            more = "\n..." if len(frame) > rows else ""
            printer(
                frame.head(rows).to_string(index=False) + more if len(frame) else f"(no rows) {obj.columns}"
            )
        elif hasattr(obj, "to_string"):
            printer(obj.head(rows).to_string(index=False))
        else:
            printer(obj)

    return display
