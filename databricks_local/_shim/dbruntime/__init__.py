"""Stand-in for Databricks' own `dbruntime` package, on `sys.path` only while the local runtime runs notebooks.

`databricks.sdk.runtime` imports `dbruntime.UserNamespaceInitializer` to find the notebook's `spark`, `dbutils`,
`display`, ...; here they are proxies that resolve to the notebook running at the time of each use
(`databricks_local.runtime`).
"""

from __future__ import annotations

from typing import Any


class UserNamespaceInitializer:
    """What `databricks.sdk.runtime` asks for: the globals of the notebook's namespace."""

    _instance: UserNamespaceInitializer | None = None

    @classmethod
    def getOrCreate(cls) -> UserNamespaceInitializer:
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def get_namespace_globals(self) -> dict[str, Any]:
        from databricks_local.runtime import namespace_proxies

        return namespace_proxies()
