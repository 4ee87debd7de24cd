"""The cells of a Databricks source notebook as a reader of the file sees them: kind, title (`# DBTITLE 1,...`),
body; and a runner of the batch notebook's question cells on given cleaned tables.

The question runner executes exactly the notebook's own cells (from the summary cell to the cell before "Save the
nine answers"), Python cells with `exec` and `%sql` cells with `spark.sql`, whose DataFrame becomes `_sqldf` as on
Databricks; so the tests of the nine answers test the notebook's code, not a copy of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

HEADER = "# Databricks notebook source"
SEPARATOR = "# COMMAND ----------"
TITLE = "# DBTITLE 1,"
MAGIC = "# MAGIC"
BATCH = Path(__file__).resolve().parents[2] / "notebooks" / "batch.py"
FIRST_QUESTION_CELL = "The cleaned tables, joined once and summarised"
SAVE_CELL = "Save the nine answers"


@dataclass(frozen=True)
class SourceCell:
    """One cell: its kind (`python` or the magic's name), title ('' when untitled) and body (magic lines unwrapped)."""

    kind: str
    title: str
    body: str


def source_cells(path: Path) -> list[SourceCell]:
    """The cells of the notebook file at `path`, in order."""
    text = path.read_text(encoding="utf-8")
    assert text.startswith(HEADER + "\n"), f"{path} is not a Databricks source notebook"
    cells = []
    for chunk in text[len(HEADER) :].split(f"\n{SEPARATOR}\n"):
        lines = chunk.strip("\n").splitlines()
        if not lines:
            continue
        title = ""
        if lines[0].startswith(TITLE):
            title, lines = lines[0][len(TITLE) :].strip(), lines[1:]
        if lines and lines[0].startswith(MAGIC):
            body = "\n".join(line[len(MAGIC) + 1 :] for line in lines)
            kind = body.split(None, 1)[0].lstrip("%")
            body = body.split("\n", 1)[1] if "\n" in body else ""
            cells.append(SourceCell(kind, title, body))
        else:
            cells.append(SourceCell("python", title, "\n".join(lines)))
    return cells


def question_cells(path: Path = BATCH) -> list[SourceCell]:
    """The batch notebook's cells from the summary cell up to (not including) the cell that saves the answers."""
    cells = source_cells(path)
    titles = [cell.title for cell in cells]
    return cells[titles.index(FIRST_QUESTION_CELL) : titles.index(SAVE_CELL)]


def answer_questions(
    spark: Any, namespace: dict[str, Any], tables: dict[str, Any]
) -> tuple[dict[str, Any], Any]:
    """(the nine answers of the batch notebook's own cells on the cleaned DataFrames `tables` (by dataset), with the
    exact columns and order the notebook saves them with; the summary they were answered from). `namespace` holds the package's names (the `nb`
    fixture); `display` shows nothing."""
    from pyspark.sql import functions as F

    views = {}
    for dataset, df in tables.items():
        views[dataset] = f"question_test_{dataset}"
        df.createOrReplaceTempView(views[dataset])
    scope = {
        **namespace,
        "F": F,
        "spark": spark,
        "display": lambda *args, **kwargs: None,
        "CLEAN_TABLES": views,
    }
    for cell in question_cells():
        if cell.kind == "sql":
            scope["_sqldf"] = spark.sql(cell.body)
        elif cell.kind == "python":
            exec(compile(cell.body, f"batch.py: {cell.title or 'cell'}", "exec"), scope)
    answers = scope["answers"]
    return {
        name: namespace["ordered"](answers[name].select(*namespace["RESULT_COLUMNS"][name]))
        for name in namespace["RESULT_NAMES"]
    }, scope["summary"]
