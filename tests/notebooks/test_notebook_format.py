"""Every notebook file is valid Databricks source format, so `workspace import` keeps its cells."""

from __future__ import annotations

from pathlib import Path

import pytest

from databricks_local.source import (
    HEADER,
    SEPARATOR,
    NotebookFormatError,
    parse_cells,
    read_notebook,
)

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
FILES = sorted(NOTEBOOKS.rglob("*.py"))


def test_there_are_notebooks() -> None:
    names = {p.relative_to(NOTEBOOKS).as_posix() for p in FILES}
    assert {"batch.py", "lib/adapter.py", "lib/lake_access.py", "lib/cleaning.py", "lib/queries.py"} <= names


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.relative_to(NOTEBOOKS).as_posix())
def test_notebook_is_databricks_source(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[0] == HEADER
    assert text.count(f"\n\n{SEPARATOR}\n\n") == text.count(SEPARATOR), "separators sit between blank lines"
    cells = read_notebook(path)  # raises on a magic line without `# MAGIC`
    assert len(cells) >= 2
    for cell in cells:
        if cell.kind == "run":
            target = cell.body.split()[1]
            assert target.startswith("./"), "%run uses relative paths so the import keeps working"
            assert (path.parent / (target + ".py")).is_file(), f"%run target {target} of {path.name} exists"
        else:
            assert cell.kind in {"python", "md", "sql"}
        if cell.kind == "python":
            compile(cell.body, str(path), "exec")  # valid Python on its own
    assert cells[0].kind == "md", "each notebook opens with a markdown cell saying what it does"


def test_no_secret_or_key_literal_in_notebooks() -> None:
    for path in FILES:
        text = path.read_text()
        assert "AKIA" not in text and "aws_secret_access_key=" not in text.lower(), path


def test_parse_cells_kinds_and_lines() -> None:
    text = f"{HEADER}\n# MAGIC %md\n# MAGIC # Title\n# MAGIC\n\n{SEPARATOR}\n\nx = 1\n\n{SEPARATOR}\n\n# MAGIC %run ./lib/a\n"
    cells = parse_cells(text)
    assert [(c.number, c.kind, c.line) for c in cells] == [(1, "md", 2), (2, "python", 8), (3, "run", 12)]
    assert cells[0].body == "%md\n# Title\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x = 1\n", "first line"),
        (f"{HEADER}\n# MAGIC %md\nplain line\n", "not prefixed"),
        (f"{HEADER}\n# MAGIC hello\n", "must start with a %command"),
        (f"{HEADER}\n# MAGIC %md\n# MAGICx\n", "expected '# MAGIC '"),
    ],
)
def test_parse_cells_rejects_broken_files(text: str, message: str) -> None:
    with pytest.raises(NotebookFormatError, match=message):
        parse_cells(text, "nb.py")
