"""Run a Databricks source notebook cell by cell on local Spark.

Python cells run in one globals dict shared with every `%run` notebook (as on Databricks); `%run ./path` runs the
notebook at that path relative to the current one (`.py` added); `%md` cells are skipped (printed when `echo_md`);
`%sql` cells go to `spark.sql` and their result is displayed; `%python` runs as Python. A failing cell raises
`NotebookError` naming the notebook, the cell number and its first line; Python tracebacks point at the real lines
of the notebook file.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from databricks_local.adapter import (
    LocalDbutils,
    NotebookExit,
    SparkProxy,
    install_local_sources,
    make_display,
)
from databricks_local.lake import S3Mirror
from databricks_local.source import Cell, NotebookFormatError, read_notebook

UNSUPPORTED_MAGICS = {"sh", "fs", "pip", "scala", "r", "conda"}
MAX_RUN_DEPTH = 20


class NotebookError(RuntimeError):
    """A notebook cell failed; the message names the notebook, the cell and the cause."""

    def __init__(self, notebook: Path, cell: Cell | None, cause: BaseException | str) -> None:
        self.notebook, self.cell, self.cause = notebook, cell, cause
        where = (
            f"{notebook}"
            if cell is None
            else f"{notebook}, cell {cell.number} (line {cell.line}: {cell.summary})"
        )
        reason = cause if isinstance(cause, str) else f"{type(cause).__name__}: {_first_lines(str(cause))}"
        super().__init__(f"{where} failed: {reason}")


@dataclass
class NotebookRun:
    """What a run did: the globals the notebooks left, the cells executed and the time it took."""

    namespace: dict[str, Any]
    cells: list[tuple[Path, int]] = field(default_factory=list)
    seconds: float = 0.0
    exit_value: str | None = None


def make_namespace(
    spark: Any,
    widgets: Mapping[str, str] | None = None,
    mirror: S3Mirror | None = None,
    display: Callable[..., None] | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Globals a notebook sees on Databricks: `spark`, `dbutils`, `display`, `displayHTML`, `sc`."""
    dbutils = LocalDbutils(widgets, mirror, environ)
    display = display or make_display()
    install_local_sources(spark)
    return {
        "__name__": "__main__",
        "__builtins__": __builtins__,
        "spark": SparkProxy(spark, dbutils.fs),
        "sc": spark.sparkContext,
        "dbutils": dbutils,
        "display": display,
        "displayHTML": lambda html: display(f"[html: {len(html)} characters]"),
    }


def run_notebook(
    path: str | Path,
    spark: Any,
    widgets: Mapping[str, str] | None = None,
    namespace: dict[str, Any] | None = None,
    mirror: S3Mirror | None = None,
    echo_md: bool = False,
    log: Callable[[str], None] | None = None,
) -> NotebookRun:
    """Run the notebook at `path` (and the notebooks it `%run`s) on `spark`; return the resulting globals."""
    started = time.perf_counter()
    namespace = namespace if namespace is not None else make_namespace(spark, widgets, mirror)
    run = NotebookRun(namespace)
    try:
        _run_file(Path(path), run, echo_md, log or (lambda _: None), depth=0)
    except NotebookExit as done:
        run.exit_value = done.value
    run.seconds = time.perf_counter() - started
    return run


def _run_file(path: Path, run: NotebookRun, echo_md: bool, log: Callable[[str], None], depth: int) -> None:
    if depth > MAX_RUN_DEPTH:
        raise NotebookError(path, None, f"%run nested deeper than {MAX_RUN_DEPTH} (a cycle?)")
    try:
        cells = read_notebook(path)
    except NotebookFormatError as error:
        raise NotebookError(path, None, str(error)) from None
    for cell in cells:
        log(f"{path} cell {cell.number}: {cell.kind} {cell.summary}")
        run.cells.append((path, cell.number))
        if cell.kind == "run":
            target = _run_target(path, cell)
            _run_file(target, run, echo_md, log, depth + 1)
            continue
        try:
            _run_cell(path, cell, run.namespace, echo_md)
        except (NotebookError, NotebookExit):
            raise
        except Exception as error:
            raise NotebookError(path, cell, error) from error


def _run_target(path: Path, cell: Cell) -> Path:
    parts = shlex.split(cell.body.strip().splitlines()[0])
    if len(parts) != 2:
        raise NotebookError(path, cell, "%run takes exactly one notebook path (arguments are not supported)")
    target = Path(parts[1])
    if not target.is_absolute():
        target = path.parent / target
    if target.suffix != ".py":
        target = target.with_name(target.name + ".py")
    if not target.is_file():
        raise NotebookError(path, cell, f"%run target {parts[1]!r} not found (looked for {target})")
    return target


def _run_cell(path: Path, cell: Cell, namespace: dict[str, Any], echo_md: bool) -> None:
    body, kind, first_line = cell.body, cell.kind, cell.line
    if kind != "python":  # a magic cell: drop the `%kind`, keep what follows it on its line and below
        first, _, rest = body.partition("\n")
        inline = first.strip()[len(kind) + 1 :].strip()
        body, first_line = (inline + "\n" + rest, first_line) if inline else (rest, first_line + 1)
    if kind == "md":
        if echo_md:
            print(body)
        return
    if kind == "sql":
        for statement in (s.strip() for s in body.split(";")):
            if statement:
                result = namespace["spark"].sql(statement)
                if result.columns:
                    namespace["display"](result)
        return
    if kind in UNSUPPORTED_MAGICS:
        raise NotebookError(
            path, cell, f"%{kind} cells cannot run locally; keep notebooks to Python, %sql and %run"
        )
    if kind not in ("python",):
        raise NotebookError(path, cell, f"unknown magic %{kind}")
    # Pad with blank lines so tracebacks report the line numbers of the notebook file.
    code = compile("\n" * (first_line - 1) + body, str(path), "exec")
    exec(code, namespace)


def _first_lines(text: str, limit: int = 12) -> str:
    lines = text.strip().splitlines()
    return "\n".join(lines[:limit]) + ("\n..." if len(lines) > limit else "")
