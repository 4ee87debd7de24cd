"""`dbutils` of a local notebook run: widgets, secrets, `notebook` (`exit`, `run`), `jobs.taskValues` and `fs`.

* `dbutils.widgets`: `text`, `dropdown`, `combobox`, `multiselect`, `get`, `getArgument`, `getAll`, `remove`,
  `removeAll`; values given to the runner (`--widget name=value`, job parameters on Databricks) override the
  defaults, and the arguments of `%run ./nb $name="value"` or `dbutils.notebook.run(path, timeout, {...})` set the
  called notebook's widgets, even to a value a dropdown does not list (as on Databricks).
* `dbutils.secrets.get(scope, key)`: the environment variable `DATABRICKS_SECRET_<SCOPE>_<KEY>` (upper case, every
  character other than a letter or digit becomes `_`), e.g. scope `aws`, key `access_key_id` ->
  `DATABRICKS_SECRET_AWS_ACCESS_KEY_ID`; then the secret store given to `set_secret_store` (the local workspace's
  scopes), which the environment overrides.
* `dbutils.notebook.exit(value)` ends the notebook with that result; `dbutils.notebook.run(path, timeout,
  arguments)` runs another notebook in its own session and returns its exit value (the runner provides it).
* `dbutils.jobs.taskValues`: `set(key, value)` and `get(taskKey, key, default, debugValue)` between the notebooks
  of one run (each notebook is the task named after its file).
* `dbutils.fs`: see `FileSystem` (DBFS and mounts).

Anything else (`dbutils.credentials`, `dbutils.library`, `dbutils.data`, `dbutils.notebook.entry_point`, ...)
raises `NotSupportedLocally` naming the call; the runner adds the notebook and the line.
"""

from __future__ import annotations

import os
import re
from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol

SecretScope = namedtuple("SecretScope", "name")
SecretMetadata = namedtuple("SecretMetadata", "key")


class NotSupportedLocally(AttributeError):
    """A Databricks call the local runtime does not provide."""

    def __init__(self, call: str) -> None:
        super().__init__(
            f"{call} is not supported by the local Databricks runtime (it runs on Databricks only)"
        )
        self.call = call

    def __str__(self) -> str:
        return str(self.args[0])


class _Strict:
    """A `dbutils` part whose unknown attributes fail naming the call, not with a bare AttributeError."""

    _name = "dbutils"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name.startswith("_"):
            raise AttributeError(name)
        raise NotSupportedLocally(f"{self._name}.{name}")


class StrictView:
    """Another object (`dbutils.fs`) whose missing public attributes fail naming the call."""

    def __init__(self, target: Any, name: str) -> None:
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_name", name)

    def __getattr__(self, attr: str) -> Any:
        try:
            return getattr(self._target, attr)
        except AttributeError:
            if attr.startswith("_"):
                raise
            raise NotSupportedLocally(f"{self._name}.{attr}") from None

    def __setattr__(self, attr: str, value: Any) -> None:
        setattr(self._target, attr, value)

    def __dir__(self) -> list[str]:
        return dir(self._target)

    def __repr__(self) -> str:
        return repr(self._target)

    @property
    def target(self) -> Any:
        """The object behind the view."""
        return object.__getattribute__(self, "_target")


class WidgetError(KeyError):
    """A widget was read before it was defined (Databricks: InputWidgetNotDefined)."""

    def __str__(self) -> str:
        return str(self.args[0])


class SecretError(KeyError):
    """A secret neither the environment nor the secret store provides."""

    def __str__(self) -> str:
        return str(self.args[0])


def secret_env_name(scope: str, key: str) -> str:
    """Environment variable holding secret `key` of `scope`: `DATABRICKS_SECRET_<SCOPE>_<KEY>`."""
    return "DATABRICKS_SECRET_" + re.sub(r"[^A-Za-z0-9]", "_", f"{scope}_{key}").upper()


class SecretStore(Protocol):
    """Where secret scopes live (the local workspace service): `get` returns None for an unknown secret."""

    def get(self, scope: str, key: str) -> str | None: ...

    def list_scopes(self) -> list[str]: ...

    def list_keys(self, scope: str) -> list[str]: ...


_secret_store: SecretStore | None = None


def set_secret_store(store: SecretStore | None) -> None:
    """Make `dbutils.secrets` read `store` (after the `DATABRICKS_SECRET_*` environment, which overrides it)."""
    global _secret_store
    _secret_store = store


class Widgets(_Strict):
    """`dbutils.widgets`: defaults declared by the notebook, overridden by the runner's values."""

    _name = "dbutils.widgets"

    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        self._overrides = dict(values or {})
        self._arguments: dict[str, str] = {}
        self._defaults: dict[str, str] = {}

    @contextmanager
    def arguments(self, values: Mapping[str, str]) -> Iterator[None]:
        """While a `%run` notebook runs: its arguments win over everything, whatever the choices."""
        saved = self._arguments
        self._arguments = {**saved, **{str(k): str(v) for k, v in values.items()}}
        try:
            yield
        finally:
            self._arguments = saved

    def text(self, name: str, defaultValue: str = "", label: str | None = None) -> None:
        self._defaults[name] = defaultValue

    def dropdown(self, name: str, defaultValue: str, choices: list[str], label: str | None = None) -> None:
        if defaultValue not in choices:
            raise ValueError(f"widget {name}: default {defaultValue!r} is not one of {choices}")
        value = self._overrides.get(name)
        if name not in self._arguments and value is not None and value not in choices:
            raise ValueError(f"widget {name}: {value!r} is not one of {', '.join(choices)}")
        self._defaults[name] = defaultValue

    combobox = text

    def multiselect(self, name: str, defaultValue: str, choices: list[str], label: str | None = None) -> None:
        self._defaults[name] = defaultValue

    def get(self, name: str) -> str:
        for layer in (self._arguments, self._overrides, self._defaults):
            if name in layer:
                return layer[name]
        raise WidgetError(f"no input widget named {name!r} is defined")

    def getArgument(self, name: str, defaultValue: str | None = None) -> str | None:
        try:
            return self.get(name)
        except WidgetError:
            if defaultValue is None:
                raise
            return defaultValue

    def getAll(self) -> dict[str, str]:
        return {**self._defaults, **self._overrides, **self._arguments}

    def remove(self, name: str) -> None:
        self._defaults.pop(name, None)

    def removeAll(self) -> None:
        self._defaults.clear()


class Secrets(_Strict):
    """`dbutils.secrets`: `DATABRICKS_SECRET_<SCOPE>_<KEY>` environment variables, then the secret store."""

    _name = "dbutils.secrets"

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ

    def get(self, scope: str, key: str) -> str:
        name = secret_env_name(scope, key)
        value = self._environ.get(name)
        if value is None and _secret_store is not None:
            value = _secret_store.get(scope, key)
        if value is None:
            where = " or the local workspace's secret scopes" if _secret_store is not None else ""
            raise SecretError(f"secret {key!r} of scope {scope!r} is not set{where}: export {name}=...")
        return value

    def getBytes(self, scope: str, key: str) -> bytes:
        return self.get(scope, key).encode()

    def listScopes(self) -> list[SecretScope]:
        names = {k.split("_")[2].lower() for k in self._secret_vars()}
        if _secret_store is not None:
            names |= set(_secret_store.list_scopes())
        return [SecretScope(s) for s in sorted(names)]

    def list(self, scope: str) -> list[SecretMetadata]:
        prefix = secret_env_name(scope, "")
        keys = {k[len(prefix) :].lower() for k in self._secret_vars() if k.startswith(prefix)}
        if _secret_store is not None:
            keys |= set(_secret_store.list_keys(scope))
        return [SecretMetadata(k) for k in sorted(keys)]

    def _secret_vars(self) -> list[str]:
        return sorted(k for k in self._environ if k.startswith("DATABRICKS_SECRET_") and k.count("_") >= 3)


class NotebookExit(Exception):
    """Raised by `dbutils.notebook.exit(value)`: the notebook ends there and `value` is its result."""

    def __init__(self, value: str) -> None:
        super().__init__(value)
        self.value = value


#: `run(path, timeout_seconds, arguments)` -> the called notebook's exit value; provided by the runner.
NotebookRunner = Callable[[str, int, Mapping[str, str]], str | None]


class NotebookUtils(_Strict):
    """`dbutils.notebook`: `exit`, which ends the run with a string result, and `run` (from the runner)."""

    _name = "dbutils.notebook"

    def __init__(self, runner: NotebookRunner | None = None) -> None:
        self._runner = runner

    def exit(self, value: str) -> None:
        raise NotebookExit(str(value))

    def run(
        self, path: str, timeout_seconds: int = 0, arguments: Mapping[str, str] | None = None
    ) -> str | None:
        if self._runner is None:
            raise NotSupportedLocally("dbutils.notebook.run outside the notebook runner")
        return self._runner(path, timeout_seconds, dict(arguments or {}))


class TaskValues(_Strict):
    """`dbutils.jobs.taskValues` between the notebooks of one run (task key: the notebook's file name)."""

    _name = "dbutils.jobs.taskValues"

    def __init__(self, store: dict[str, dict[str, Any]] | None = None, task_key: str = "notebook") -> None:
        self._store = store if store is not None else {}
        self._task_key = task_key

    def set(self, key: str, value: Any) -> None:
        self._store.setdefault(self._task_key, {})[key] = value

    def get(self, taskKey: str, key: str, default: Any = None, debugValue: Any = None) -> Any:
        values = self._store.get(taskKey, {})
        if key in values:
            return values[key]
        if default is not None:
            return default
        if debugValue is not None:
            return debugValue
        raise ValueError(f"task {taskKey!r} has set no value {key!r} in this run (and no default was given)")


class Jobs(_Strict):
    """`dbutils.jobs`: only `taskValues`."""

    _name = "dbutils.jobs"

    def __init__(self, task_values: TaskValues) -> None:
        self.taskValues = task_values


class LocalDbutils(_Strict):
    """The `dbutils` object of a local run."""

    def __init__(
        self,
        widgets: Mapping[str, str] | None = None,
        mirror: Any = None,
        environ: Mapping[str, str] | None = None,
        notebook: NotebookUtils | None = None,
        task_values: TaskValues | None = None,
    ) -> None:
        from databricks_local.dbfs import FileSystem

        self.widgets = Widgets(widgets)
        self.secrets = Secrets(environ)
        self.fs = StrictView(FileSystem(mirror), "dbutils.fs")
        self.notebook = notebook or NotebookUtils()
        self.jobs = Jobs(task_values or TaskValues())

    def help(self, *args: Any) -> None:
        print("dbutils (local): fs, jobs.taskValues, notebook (exit, run), secrets, widgets")
