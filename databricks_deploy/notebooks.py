"""Import the notebooks of `notebooks/` into a workspace folder: create folders, update changed notebooks,
skip unchanged ones, and say what was done for each.

A notebook is a source file whose first line is the Databricks source header for its language (for
Python `# Databricks notebook source`). It is imported in SOURCE format under the folder, keeping its
sub-folder and dropping the extension, as Databricks does.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import NotFound
from databricks.sdk.service.workspace import ExportFormat, ImportFormat, Language, ObjectType

from databricks_deploy.client import DeployError

#: extension -> (language, first line of a Databricks source notebook)
LANGUAGES: dict[str, tuple[Language, str]] = {
    ".py": (Language.PYTHON, "# Databricks notebook source"),
    ".sql": (Language.SQL, "-- Databricks notebook source"),
    ".scala": (Language.SCALA, "// Databricks notebook source"),
    ".r": (Language.R, "# Databricks notebook source"),
}


@dataclass(frozen=True)
class Notebook:
    """One local notebook file and where it goes in the workspace."""

    local: Path
    remote: str
    language: Language

    @property
    def source(self) -> bytes:
        return self.local.read_bytes()


def find_notebooks(root: Path, folder: str) -> tuple[list[Notebook], list[Path]]:
    """The notebooks under `root` (sorted, recursively) and the files skipped as not notebooks."""
    if not root.is_dir():
        raise DeployError(f"notebook directory {root} does not exist")
    notebooks: list[Notebook] = []
    skipped: list[Path] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        kind = LANGUAGES.get(path.suffix.lower())
        if kind is None or not _first_line(path).startswith(kind[1]):
            skipped.append(path)
            continue
        relative = path.relative_to(root).with_suffix("").as_posix()
        notebooks.append(Notebook(path, f"{folder.rstrip('/')}/{relative}", kind[0]))
    return notebooks, skipped


def _first_line(path: Path) -> str:
    with path.open("rb") as f:
        return f.readline().decode("utf-8", errors="replace").strip()


def _normalise(source: bytes) -> str:
    """Source as compared with the workspace copy: line endings and trailing whitespace do not count."""
    text = source.decode("utf-8", errors="replace").replace("\r\n", "\n")
    return "\n".join(line.rstrip() for line in text.split("\n")).strip("\n")


def _folders(folder: str, notebooks: list[Notebook]) -> list[str]:
    """Every workspace folder the notebooks need (the target folder first, then sub-folders)."""
    needed = {folder.rstrip("/") or "/"} | {nb.remote.rsplit("/", 1)[0] for nb in notebooks}
    return sorted(needed, key=lambda p: (p.count("/"), p))


def plan(root: Path, folder: str) -> Iterator[str]:
    """What `import_notebooks` would do, without contacting any workspace (for `--dry-run`)."""
    notebooks, skipped = find_notebooks(root, folder)
    for path in _folders(folder, notebooks):
        yield f"would ensure folder {path}"
    for nb in notebooks:
        yield f"would import {nb.local} -> {nb.remote} ({nb.language.value}, SOURCE; skipped if unchanged)"
    for path in skipped:
        yield f"skip {path}: not a Databricks source notebook"


def import_notebooks(
    client: WorkspaceClient, root: Path, folder: str, echo: Callable[[str], None] = print
) -> dict[str, str]:
    """Import every notebook under `root` into `folder`; returns {workspace path: created|updated|unchanged}."""
    notebooks, skipped = find_notebooks(root, folder)
    if not notebooks:
        raise DeployError(f"no Databricks source notebooks found under {root}")
    for path in _folders(folder, notebooks):
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
        echo(f"skipped   {path}: not a Databricks source notebook")
    return results


def _object_type(client: WorkspaceClient, path: str) -> ObjectType | None:
    try:
        return client.workspace.get_status(path).object_type
    except NotFound:
        return None


def _import_one(client: WorkspaceClient, nb: Notebook) -> str:
    source = nb.source
    existing = _object_type(client, nb.remote)
    if existing is None:
        outcome = "created"
    elif existing != ObjectType.NOTEBOOK:
        raise DeployError(f"{nb.remote} exists in the workspace and is a {existing.value}, not a notebook")
    else:
        exported = client.workspace.export(nb.remote, format=ExportFormat.SOURCE).content or ""
        if _normalise(base64.b64decode(exported)) == _normalise(source):
            return "unchanged"
        outcome = "updated"
    client.workspace.import_(
        nb.remote,
        content=base64.b64encode(source).decode("ascii"),
        format=ImportFormat.SOURCE,
        language=nb.language,
        overwrite=True,
    )
    return outcome
