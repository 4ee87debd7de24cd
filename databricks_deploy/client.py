"""The authenticated `WorkspaceClient` and the translation of SDK failures into clear user errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import DatabricksError
from requests.exceptions import RequestException

from databricks_deploy.discovery import DeployError

T = TypeVar("T")

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


def with_workspace(profile: str | None, action: Callable[[WorkspaceClient], T]) -> T:
    """Run `action` with a client; API and connection failures become `DeployError`s."""
    client = workspace_client(profile)
    try:
        return action(client)
    except DatabricksError as exc:
        raise DeployError(f"Databricks API: {exc}") from exc
    except RequestException as exc:
        raise DeployError(f"cannot reach the Databricks workspace at {client.config.host}: {exc}") from exc


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
