"""Import the notebooks of a local directory into a workspace folder with `databricks-sdk`: create
folders, overwrite changed notebooks (and the Python modules beside them, as workspace files), skip unchanged
ones, and say what was done for each."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import NotFound
from databricks.sdk.service.workspace import ExportFormat, ImportFormat, Language, ObjectType

from databricks_deploy.discovery import DeployError, Notebook, find_notebooks, folders


def _normalise(source: bytes) -> str:
    """Source as compared with the workspace copy: line endings and trailing whitespace do not count."""
    text = source.decode("utf-8", errors="replace").replace("\r\n", "\n")
    return "\n".join(line.rstrip() for line in text.split("\n")).strip("\n")


def import_notebooks(
    client: WorkspaceClient, root: Path, folder: str, echo: Callable[[str], None] = print
) -> dict[str, str]:
    """Import every notebook under `root` into `folder`; returns {workspace path: created|updated|unchanged}."""
    notebooks, skipped = find_notebooks(root, folder)
    if not any(nb.kind == "NOTEBOOK" for nb in notebooks):
        raise DeployError(f"no Databricks source notebooks found under {root}")
    for path in folders(folder, notebooks):
        status = _object_type(client, path)
        if status is None:
            client.workspace.mkdirs(path)
            echo(f"created folder {path}")
        elif status != ObjectType.DIRECTORY:
            raise DeployError(f"{path} exists in the workspace and is a {status.value}, not a folder")
    results: dict[str, str] = {}
    for nb in notebooks:
        results[nb.remote] = _import_one(client, nb)
        echo(f"{results[nb.remote]:9} {nb.remote}  ({nb.local})")
    for path in skipped:
        echo(f"skipped   {path}: neither a Databricks source notebook nor a Python module")
    return results


def _object_type(client: WorkspaceClient, path: str) -> ObjectType | None:
    try:
        return client.workspace.get_status(path).object_type
    except NotFound:
        return None


def _import_one(client: WorkspaceClient, nb: Notebook) -> str:
    source = nb.source
    existing = _object_type(client, nb.remote)
    wanted = ObjectType(nb.kind)
    if existing is None:
        outcome = "created"
    elif existing != wanted:
        what = "a notebook" if wanted == ObjectType.NOTEBOOK else "a file"
        raise DeployError(f"{nb.remote} exists in the workspace and is a {existing.value}, not {what}")
    else:
        exported = client.workspace.export(nb.remote, format=ExportFormat.SOURCE).content or ""
        if _normalise(base64.b64decode(exported)) == _normalise(source):
            return "unchanged"
        outcome = "updated"
    content = base64.b64encode(source).decode("ascii")
    if wanted == ObjectType.NOTEBOOK:
        client.workspace.import_(
            nb.remote,
            content=content,
            format=ImportFormat.SOURCE,
            language=Language(nb.language),
            overwrite=True,
        )
    else:  # AUTO: a .py without the notebook header lands as a workspace file, under its own name
        client.workspace.import_(nb.remote, content=content, format=ImportFormat.AUTO, overwrite=True)
    return outcome
