"""Databricks notebook formats: parse a source `.py` notebook or an `.ipynb` export into cells.

A source notebook starts with `# Databricks notebook source`; cells are separated by `# COMMAND ----------` lines;
a magic cell (`%md`, `%run`, `%sql`, ...) has every line prefixed with `# MAGIC` (a bare `# MAGIC` is an empty line).
A titled cell of any kind starts with `# DBTITLE 1,<title>` (`Cell.title`).

An `.ipynb` export (Jupyter format) keeps its cells in order: markdown cells are `md`, code cells run in the
notebook's language (`metadata["application/vnd.databricks.v1+notebook"]["language"]`, default Python) unless
they start with a `%magic`; a cell's title is `metadata["application/vnd.databricks.v1+cell"]["title"]`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HEADER = "# Databricks notebook source"
SEPARATOR = "# COMMAND ----------"
MAGIC = "# MAGIC"
TITLE = "# DBTITLE"
#: The files a notebook can be: a source notebook or a Jupyter export.
NOTEBOOK_SUFFIXES = (".py", ".ipynb")
NOTEBOOK_META = "application/vnd.databricks.v1+notebook"
CELL_META = "application/vnd.databricks.v1+cell"
#: The magic of a code cell in a notebook of each language (`.ipynb` metadata, `DATABRICKS_LANGUAGES`).
LANGUAGE_KINDS = {"python": "python", "sql": "sql", "scala": "scala", "r": "r"}


class NotebookFormatError(ValueError):
    """The file is not a Databricks source notebook (the import would not keep its cells)."""


@dataclass(frozen=True)
class Cell:
    """One cell: its number (1-based), first line in the file, kind (`python` or the magic name), body and title.

    `body` of a magic cell starts with its `%kind` line; `line` is the line of the body's first line in the file
    (an `.ipynb` cell counts its lines from 1).
    """

    number: int
    line: int
    kind: str
    body: str
    title: str | None = None

    @property
    def summary(self) -> str:
        first = next((line for line in self.body.splitlines() if line.strip()), "")
        return first if len(first) <= 80 else first[:77] + "..."


def parse_cells(text: str, name: str = "<notebook>") -> list[Cell]:
    """Cells of a notebook's source text; raises NotebookFormatError naming `name` when the format is wrong."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != HEADER:
        raise NotebookFormatError(f"{name}: the first line must be {HEADER!r}")
    cells: list[Cell] = []
    chunk: list[str] = []
    start = 2
    for number, line in enumerate([*lines[1:], SEPARATOR], start=2):
        if line.rstrip() == SEPARATOR:
            cell = _make_cell(chunk, len(cells) + 1, start, name)
            if cell is not None:
                cells.append(cell)
            chunk, start = [], number + 1
        else:
            chunk.append(line)
    return cells


def _make_cell(lines: list[str], number: int, start: int, name: str) -> Cell | None:
    while lines and not lines[0].strip():
        lines, start = lines[1:], start + 1
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    title = None
    if lines and lines[0].startswith(TITLE):
        _, _, title = lines[0].partition(",")
        title = title.strip() or None
        lines, start = lines[1:], start + 1
    if not lines:
        return None
    if not lines[0].startswith(MAGIC):
        return Cell(number, start, "python", "\n".join(lines), title)
    body = []
    for offset, line in enumerate(lines):
        if not line.startswith(MAGIC):
            raise NotebookFormatError(
                f"{name}: line {start + offset} of a magic cell is not prefixed with {MAGIC!r}: {line!r}"
            )
        rest = line[len(MAGIC) :]
        if rest and not rest.startswith(" "):
            raise NotebookFormatError(
                f"{name}: line {start + offset}: expected '# MAGIC ' then the text: {line!r}"
            )
        body.append(rest[1:])
    first = body[0].strip()
    if not first.startswith("%"):
        raise NotebookFormatError(
            f"{name}: line {start}: a magic cell must start with a %command, got {first!r}"
        )
    kind = first.split()[0][1:]
    return Cell(number, start, kind, "\n".join(body), title)


def parse_ipynb(text: str, name: str = "<notebook>") -> list[Cell]:
    """Cells of a Jupyter (`.ipynb`) export, in order; raises NotebookFormatError naming `name`."""
    try:
        document = json.loads(text)
        raw_cells = document["cells"]
    except (ValueError, KeyError, TypeError) as error:
        raise NotebookFormatError(
            f"{name}: not a Jupyter notebook ({type(error).__name__}: {error})"
        ) from None
    meta = document.get("metadata") or {}
    language = str((meta.get(NOTEBOOK_META) or {}).get("language") or _kernel_language(meta)).lower()
    default_kind = LANGUAGE_KINDS.get(language, "python")
    cells: list[Cell] = []
    for raw in raw_cells:
        source = raw.get("source", "")
        body = "".join(source) if isinstance(source, list) else str(source)
        body = body.strip("\n")
        if not body.strip() or raw.get("cell_type") == "raw":
            continue
        title = ((raw.get("metadata") or {}).get(CELL_META) or {}).get("title") or None
        first = body.lstrip().split(maxsplit=1)[0] if body.strip() else ""
        if raw.get("cell_type") == "markdown":
            kind, body = "md", body if first.startswith("%md") else "%md\n" + body
        elif first.startswith("%") and not first.startswith("%%"):
            kind = first[1:]
        elif default_kind == "python":
            kind = "python"
        else:
            kind, body = default_kind, f"%{default_kind}\n{body}"
        cells.append(Cell(len(cells) + 1, 1, kind, body, title))
    return cells


def _kernel_language(meta: dict[str, Any]) -> str:
    return str(
        (meta.get("language_info") or {}).get("name")
        or (meta.get("kernelspec") or {}).get("language")
        or "python"
    )


def read_notebook(path: str | Path) -> list[Cell]:
    """Cells of the notebook file at `path`: a source `.py` notebook or an `.ipynb` export."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise NotebookFormatError(f"cannot read notebook {path}: {error.strerror or error}") from None
    if path.suffix == ".ipynb":
        return parse_ipynb(text, str(path))
    return parse_cells(text, str(path))
