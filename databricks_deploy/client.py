"""The authenticated `WorkspaceClient`, with a clear error when no Databricks authentication is configured."""

from __future__ import annotations

from databricks.sdk import WorkspaceClient


class DeployError(Exception):
    """A user-facing error: the CLI prints its message (no traceback) and exits with status 1."""


AUTH_HELP = (
    "no Databricks workspace is configured. Set DATABRICKS_HOST and DATABRICKS_TOKEN, or add a profile to "
    "~/.databrickscfg and pass --profile NAME (or set DATABRICKS_CONFIG_PROFILE), or log in with "
    "`databricks auth login` (OAuth). See docs/airflow.md."
)


def workspace_client(profile: str | None = None) -> WorkspaceClient:
    """A client from the SDK's standard configuration (environment, ~/.databrickscfg `profile`, OAuth)."""
    try:
        return WorkspaceClient(profile=profile)
    except ValueError as exc:  # the SDK's "cannot configure default credentials" and bad-profile errors
        raise DeployError(f"{AUTH_HELP}\n  (databricks-sdk: {_first_line(exc)})") from exc


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
