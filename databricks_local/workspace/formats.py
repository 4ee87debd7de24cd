"""Notebook formats of the workspace: recognising a Databricks source notebook by its header (`AUTO` import),
and converting between the source format and Jupyter (`.ipynb`) for export in the other format.

Source: a header line (`# Databricks notebook source`, `-- ...` for SQL, `// ...` for Scala), cells separated by
`# COMMAND ----------`, a magic cell's lines prefixed with `# MAGIC `. Jupyter: nbformat 4, one code cell per source
cell (magic cells keep their `%md`/`%sql` first line), as Databricks exports them.
"""

from __future__ import annotations

import json
from typing import Any

#: Comment prefix of each notebook language, and the file extension a source export gets.
COMMENT = {"PYTHON": "#", "R": "#", "SQL": "--", "SCALA": "//"}
EXTENSION = {"PYTHON": ".py", "R": ".r", "SQL": ".sql", "SCALA": ".scala"}
#: What a file's extension says its notebook language would be.
LANGUAGE_OF = {".py": "PYTHON", ".r": "R", ".sql": "SQL", ".scala": "SCALA"}


def header(language: str) -> str:
    return f"{COMMENT[language]} Databricks notebook source"


def is_source_notebook(content: bytes, language: str) -> bool:
    """True when `content` starts with the Databricks source header of `language`."""
    first = content.lstrip(b"\xef\xbb\xbf").split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8", "replace")
    return first.strip() == header(language)


def jupyter_language(content: bytes) -> str:
    """The notebook language of an `.ipynb` (its kernel's language; Python when it says none)."""
    data = parse_jupyter(content)
    meta = data.get("metadata") or {}
    name = str(
        (meta.get("kernelspec") or {}).get("language")
        or (meta.get("language_info") or {}).get("name")
        or "python"
    ).upper()
    return name if name in COMMENT else "PYTHON"


def parse_jupyter(content: bytes) -> dict[str, Any]:
    """The notebook JSON; ValueError when it is not a Jupyter notebook."""
    try:
        data = json.loads(content.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"not a Jupyter notebook (invalid JSON: {exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise ValueError("not a Jupyter notebook (no cells list)")
    return data


def source_to_jupyter(content: bytes, language: str, name: str) -> bytes:
    """A source notebook as nbformat 4 JSON."""
    comment = COMMENT[language]
    text = content.decode("utf-8-sig").replace("\r\n", "\n")
    lines = text.split("\n")
    if lines and lines[0].strip() == header(language):
        lines = lines[1:]
    separator = f"{comment} COMMAND ----------"
    magic = f"{comment} MAGIC"
    cells: list[list[str]] = [[]]
    for line in lines:
        if line.strip() == separator:
            cells.append([])
        else:
            cells[-1].append(
                line[len(magic) + 1 :] if line.startswith(magic + " ") else "" if line == magic else line
            )
    out = []
    for cell in cells:
        body = "\n".join(cell).strip("\n")
        if body or len(cells) == 1:
            source = [line + "\n" for line in body.split("\n")]
            if source:
                source[-1] = source[-1].rstrip("\n")
            out.append(
                {
                    "cell_type": "code",
                    "metadata": {},
                    "execution_count": None,
                    "outputs": [],
                    "source": source,
                }
            )
    notebook = {
        "cells": out,
        "metadata": {
            "language_info": {"name": language.lower()},
            "application/vnd.databricks.v1+notebook": {"notebookName": name, "language": language.lower()},
        },
        "nbformat": 4,
        "nbformat_minor": 0,
    }
    return json.dumps(notebook, indent=1).encode("utf-8")


def jupyter_to_source(content: bytes, language: str) -> bytes:
    """An `.ipynb` as a Databricks source notebook (markdown cells become `%md` cells)."""
    data = parse_jupyter(content)
    comment = COMMENT[language]
    parts = []
    for cell in data["cells"]:
        source = cell.get("source", "")
        body = "".join(source) if isinstance(source, list) else str(source)
        if cell.get("cell_type") == "markdown":
            body = "%md\n" + body
        if body.lstrip().startswith("%"):
            body = "\n".join(
                f"{comment} MAGIC {line}" if line else f"{comment} MAGIC" for line in body.split("\n")
            )
        parts.append(body.strip("\n"))
    text = header(language) + "\n" + f"\n\n{comment} COMMAND ----------\n\n".join(parts) + "\n"
    return text.encode("utf-8")
