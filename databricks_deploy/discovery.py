"""Find the notebooks of a local directory and where each goes in the workspace (stdlib only, so
`--dry-run` and `--help` need neither the SDK nor a workspace).

A notebook is a source file whose first line is the Databricks source header for its language (for
Python `# Databricks notebook source`). It goes under the workspace folder, keeping its sub-folder and
dropping the extension, as Databricks does on import. A Python file without the header is a module a notebook
imports: it goes there as a workspace FILE, keeping its name (format AUTO, as Databricks does). Anything else is
skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


class DeployError(Exception):
    """A user-facing error: the CLI prints its message (no traceback) and exits with status 1."""


#: extension -> (workspace language, first line of a Databricks source notebook)
LANGUAGES: dict[str, tuple[str, str]] = {
    ".py": ("PYTHON", "# Databricks notebook source"),
    ".sql": ("SQL", "-- Databricks notebook source"),
    ".scala": ("SCALA", "// Databricks notebook source"),
    ".r": ("R", "# Databricks notebook source"),
}


#: Files without the header that are imported as workspace files (Python modules the notebooks import).
MODULE_SUFFIXES = (".py",)


@dataclass(frozen=True)
class Notebook:
    """One local notebook (or, `kind` FILE, Python module) and where it goes in the workspace."""

    local: Path
    remote: str
    language: str
    kind: str = "NOTEBOOK"

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
        if kind is not None and _first_line(path).startswith(kind[1]):
            relative = path.relative_to(root).with_suffix("").as_posix()
            notebooks.append(Notebook(path, f"{folder.rstrip('/')}/{relative}", kind[0]))
        elif path.suffix.lower() in MODULE_SUFFIXES:
            relative = path.relative_to(root).as_posix()
            notebooks.append(Notebook(path, f"{folder.rstrip('/')}/{relative}", "PYTHON", kind="FILE"))
        else:
            skipped.append(path)
    return notebooks, skipped


def _first_line(path: Path) -> str:
    with path.open("rb") as f:
        return f.readline().decode("utf-8", errors="replace").strip()


def folders(folder: str, notebooks: list[Notebook]) -> list[str]:
    """Every workspace folder the notebooks need (the target folder first, then sub-folders)."""
    needed = {folder.rstrip("/") or "/"} | {nb.remote.rsplit("/", 1)[0] for nb in notebooks}
    return sorted(needed, key=lambda p: (p.count("/"), p))


def plan(root: Path, folder: str) -> Iterator[str]:
    """What an import would do, without contacting any workspace (for `--dry-run`)."""
    notebooks, skipped = find_notebooks(root, folder)
    for path in folders(folder, notebooks):
        yield f"would ensure folder {path}"
    for nb in notebooks:
        how = f"{nb.language}, SOURCE" if nb.kind == "NOTEBOOK" else "workspace file, AUTO"
        yield f"would import {nb.local} -> {nb.remote} ({how}; skipped if unchanged)"
    for path in skipped:
        yield f"skip {path}: neither a Databricks source notebook nor a Python module"
