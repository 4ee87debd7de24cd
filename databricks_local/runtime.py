"""The `databricks.sdk.runtime` seam: modules a notebook imports reach the running notebook's objects.

On Databricks, `from databricks.sdk.runtime import spark, dbutils, display, displayHTML, sc, sqlContext` in a
module gives the objects of the notebook that imported it; the SDK finds them through Databricks' `dbruntime`
package. While the local runtime runs notebooks (`activate()`), `databricks_local/_shim` is on `sys.path` with a
`dbruntime` stand-in whose namespace holds proxies: each use resolves to the notebook running at that moment (the
innermost of `push`/`pop`), so a module imported once serves every notebook of a run. A `databricks.sdk.runtime`
imported earlier, outside the runtime, is given the same proxies. `DATABRICKS_RUNTIME_VERSION` is set meanwhile,
as on a cluster.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: `DATABRICKS_RUNTIME_VERSION` as a cluster of the jobs' runtime sets it: the runtime's `major.minor` ("15.4",
#: "17.3"; serverless: "client.<n>.<m>"), not the cluster's `spark_version` key (`18.0.x-scala2.13`): see how
#: mlflow reads it (mlflow/utils/databricks_utils.py, `get_dbconnect_udf_sandbox_info`: "a databricks runtime image
#: with version like '15.4'"). The jobs run Databricks Runtime 18.0, "powered by Apache Spark 4.1.0" (local pyspark
#: is 4.1): https://docs.databricks.com/aws/en/release-notes/runtime/18.0 (all runtimes and their Spark:
#: https://docs.databricks.com/aws/en/release-notes/runtime/). tests/notebooks/test_runtimes.py keeps this in line
#: with the bundle's `spark_version`.
RUNTIME_VERSION = "18.0"
SHIM_DIR = Path(__file__).with_name("_shim")
#: The names `databricks.sdk.runtime` exports (its `dbruntime_objects`).
RUNTIME_OBJECTS = (
    "display",
    "displayHTML",
    "dbutils",
    "table",
    "sql",
    "udf",
    "getArgument",
    "sc",
    "sqlContext",
    "spark",
)

_stack: list[dict[str, Any]] = []


class NoNotebookRunning(RuntimeError):
    """A `databricks.sdk.runtime` object was used while no notebook runs."""


def push(namespace: dict[str, Any]) -> None:
    """`namespace` is the running notebook's globals until the matching `pop`."""
    _stack.append(namespace)


def pop() -> None:
    _stack.pop()


def current_namespace() -> dict[str, Any]:
    """Globals of the notebook running now."""
    if not _stack:
        raise NoNotebookRunning(
            "no Databricks notebook is running: databricks.sdk.runtime objects exist only inside one"
        )
    return _stack[-1]


class NotebookObject:
    """A proxy for `name` in the running notebook's globals (`spark`, `dbutils`, `display`, ...)."""

    def __init__(self, name: str) -> None:
        object.__setattr__(self, "_name", name)

    def _target(self) -> Any:
        namespace = current_namespace()
        if self._name not in namespace:
            raise NoNotebookRunning(f"the running notebook has no {self._name!r}")
        return namespace[self._name]

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._target(), attr)

    def __setattr__(self, attr: str, value: Any) -> None:
        setattr(self._target(), attr, value)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._target()(*args, **kwargs)

    def __dir__(self) -> list[str]:
        return dir(self._target())

    def __repr__(self) -> str:
        return repr(self._target()) if _stack else f"<{self._name} of the running notebook (none running)>"


def namespace_proxies() -> dict[str, Any]:
    """What `dbruntime.UserNamespaceInitializer.get_namespace_globals()` returns: a proxy per runtime object."""
    return {name: NotebookObject(name) for name in RUNTIME_OBJECTS}


@contextmanager
def activate() -> Iterator[None]:
    """While notebooks run: the `dbruntime` stand-in importable, `DATABRICKS_RUNTIME_VERSION` set."""
    added = str(SHIM_DIR) not in sys.path
    if added:
        sys.path.append(str(SHIM_DIR))
    previous = os.environ.get("DATABRICKS_RUNTIME_VERSION")
    os.environ["DATABRICKS_RUNTIME_VERSION"] = RUNTIME_VERSION
    sdk_runtime = sys.modules.get("databricks.sdk.runtime")
    if sdk_runtime is not None and getattr(sdk_runtime, "is_local_implementation", False):
        for name, proxy in namespace_proxies().items():  # imported before: give it the notebook's objects too
            setattr(sdk_runtime, name, proxy)
        sdk_runtime.is_local_implementation = False
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("DATABRICKS_RUNTIME_VERSION", None)
        else:
            os.environ["DATABRICKS_RUNTIME_VERSION"] = previous
        if added and str(SHIM_DIR) in sys.path:
            sys.path.remove(str(SHIM_DIR))
