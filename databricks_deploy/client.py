"""The authenticated `WorkspaceClient` and the translation of SDK failures into clear user errors.

A real workspace is the SDK's standard configuration (environment, ~/.databrickscfg profile, OAuth). The `local`
target is the local stack's workspace: its host and token come from the stack's outputs
(`<state dir>/outputs/local.json`, `databricks_host` and `databricks_token`), read as the emulator's
`--target local` reads them; everything after the client is the same code for both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from databricks_deploy.discovery import DeployError
from emulation.config import terraform_outputs

if TYPE_CHECKING:  # the SDK takes seconds to import: only the functions that talk to a workspace import it
    from databricks.sdk import WorkspaceClient

T = TypeVar("T")

LOCAL_TARGET = "local"
AUTH_HELP = (
    "no Databricks workspace is configured. Set DATABRICKS_HOST and DATABRICKS_TOKEN, or add a profile to "
    "~/.databrickscfg and pass --profile NAME (or set DATABRICKS_CONFIG_PROFILE), or log in with "
    "`databricks auth login` (OAuth). See docs/airflow.md."
)


def local_workspace() -> tuple[str, str]:
    """Host and token of the local stack's workspace, from its outputs; a clear error when there is none."""
    outputs = terraform_outputs(LOCAL_TARGET)
    host, token = outputs.get("databricks_host"), outputs.get("databricks_token")
    if not host or not token:
        raise DeployError(
            "the local stack has no Databricks workspace in its outputs (databricks_host, databricks_token in "
            "<state dir>/outputs/local.json): start it with `make local-up`"
        )
    return str(host), str(token)


def workspace_client(
    profile: str | None = None, target: str | None = None, host: str | None = None
) -> WorkspaceClient:
    """A client of the local workspace (`target` local), else from the SDK's standard configuration."""
    from databricks.sdk import WorkspaceClient

    if target == LOCAL_TARGET:
        local_host, token = local_workspace()
        return WorkspaceClient(host=local_host, token=token, auth_type="pat")
    try:
        return WorkspaceClient(profile=profile, host=host or None)
    except ValueError as exc:  # the SDK's "cannot configure default credentials" and bad-profile errors
        raise DeployError(f"{AUTH_HELP}\n  (databricks-sdk: {_first_line(exc)})") from exc


def with_workspace(
    profile: str | None,
    action: Callable[[WorkspaceClient], T],
    target: str | None = None,
    host: str | None = None,
) -> T:
    """Run `action` with a client; API and connection failures become `DeployError`s."""
    from databricks.sdk.errors import DatabricksError
    from requests.exceptions import RequestException

    client = workspace_client(profile, target, host)
    try:
        return action(client)
    except DatabricksError as exc:
        raise DeployError(f"Databricks API: {exc}") from exc
    except RequestException as exc:
        raise DeployError(f"cannot reach the Databricks workspace at {client.config.host}: {exc}") from exc


def current_user(client: WorkspaceClient) -> dict[str, str]:
    """`userName` and `short_name` of the caller: the name before @ with every character other than a letter or a
    digit replaced by _, as the Databricks CLI makes it (`${workspace.current_user.short_name}`)."""
    name = client.current_user.me().user_name or ""
    short = "".join(c if c.isalnum() else "_" for c in name.split("@")[0])
    return {"userName": name, "short_name": short}


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
