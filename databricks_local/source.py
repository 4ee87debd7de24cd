"""Databricks notebook source format: parse a `.py` notebook into cells, and check a file is valid.

A notebook file starts with `# Databricks notebook source`; cells are separated by `# COMMAND ----------` lines;
a magic cell (`%md`, `%run`, `%sql`, ...) has every line prefixed with `# MAGIC` (a bare `# MAGIC` is an empty line).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

HEADER = "# Databricks notebook source"
SEPARATOR = "# COMMAND ----------"
MAGIC = "# MAGIC"


class NotebookFormatError(ValueError):
    """The file is not a Databricks source notebook (the import would not keep its cells)."""


@dataclass(frozen=True)
class Cell:
    """One cell: its number (1-based), first line in the file, kind (`python` or the magic name) and body."""

    number: int
    line: int
    kind: str
    body: str

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
    if not lines:
        return None
    if not lines[0].startswith(MAGIC):
        return Cell(number, start, "python", "\n".join(lines))
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
    return Cell(number, start, kind, "\n".join(body))


def read_notebook(path: str | Path) -> list[Cell]:
    """Cells of the notebook file at `path`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise NotebookFormatError(f"cannot read notebook {path}: {error.strerror or error}") from None
    return parse_cells(text, str(path))
