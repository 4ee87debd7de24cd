"""Run Databricks notebooks cell by cell on the local cluster, as a Databricks cluster runs attached notebooks.

* Cells: Python cells run in the notebook's globals; `%md` is skipped (printed when `echo_md`); `%sql` runs each
  statement (widgets bound to `:name` parameter markers; the legacy `${name}` replaced by the value) and
  displays the last result, which is also `_sqldf`; `%python` runs as Python; `%pip` is a no-op with
  a note; `%fs <command> <args>` calls `dbutils.fs`; titled cells (`# DBTITLE 1,...`) of every kind run the same.
  `%sh`, `%scala`, `%r` fail saying they cannot run locally.
* `%run <path> [$name="value" ...]` runs that notebook in the caller's globals and session, its widgets set to the
  arguments; `dbutils.notebook.run(path, timeout_seconds, arguments)` runs it in its own session and globals and
  returns its `dbutils.notebook.exit` value ("" without one); a failure, or `timeout_seconds` (0: none) running
  out, raises `WorkflowException` naming it.
  Paths: relative to the calling notebook; absolute workspace paths (`/Users/<email>/...`, `/Workspace/...`,
  `/Repos/...`, `/Shared/...`) in the local workspace root (`workspace`, default the top notebook's folder): the
  longest tail of the path that exists there (`/Users/me@x.com/proj/nb` -> `<ws>/Users/me@x.com/proj/nb`, else
  `<ws>/me@x.com/proj/nb`, `<ws>/proj/nb`, `<ws>/nb`); `.py` or `.ipynb` is added.
* While a notebook runs, its folder and the workspace root are on `sys.path` (a Databricks Git folder), its
  session is the active one and `databricks.sdk.runtime` resolves to its objects (`cluster.py`, `runtime.py`).
* A failing cell raises `NotebookError` naming the notebook, the cell, its first line and the line in the file
  that failed; Python tracebacks point at the real lines of the notebook file.

`run_notebook` runs one notebook on a given session (this project's batch and stream runs); `run_notebooks` runs
several one after another on one cluster, each in its own session, and reports each one's outcome.
"""

from __future__ import annotations

import contextlib
import ctypes
import re
import shlex
import sys
import threading
import time
import traceback
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from databricks_local import runtime
from databricks_local.cluster import Cluster
from databricks_local.dbutils import LocalDbutils, NotebookExit, NotebookUtils, StrictView, TaskValues
from databricks_local.display import make_display, make_display_html
from databricks_local.lake import S3Mirror
from databricks_local.source import NOTEBOOK_SUFFIXES, Cell, NotebookFormatError, read_notebook
from databricks_local.spark_hooks import prepare_session

UNSUPPORTED_MAGICS = {"sh", "scala", "r", "conda", "lsmagic", "sx"}
WORKSPACE_ROOTS = ("Users", "Repos", "Shared", "Workspace")
MAX_RUN_DEPTH = 20
#: Packages a notebook run never forgets (see `_on_sys_path`): the runtime and this repository's local stack.
RUNTIME_PACKAGES = {"databricks_local", "local_stack", "dbruntime"}
INTERRUPTED = "interrupted (Ctrl-C)"


class NotebookError(RuntimeError):
    """A notebook cell failed; the message names the notebook, the cell, the failing line and the cause."""

    def __init__(self, notebook: Path, cell: Cell | None, cause: BaseException | str) -> None:
        self.notebook, self.cell, self.cause = notebook, cell, cause
        where = (
            f"{notebook}"
            if cell is None
            else f"{notebook}, cell {cell.number} (line {cell.line}: {cell.title or cell.summary})"
        )
        reason = cause if isinstance(cause, str) else f"{type(cause).__name__}: {_first_lines(str(cause))}"
        at = _failing_line(notebook, cause) if isinstance(cause, BaseException) else None
        super().__init__(
            f"{where} failed: {reason}" + (f"\n  at {notebook} line {at[0]}: {at[1]}" if at else "")
        )


class WorkflowException(RuntimeError):
    """`dbutils.notebook.run` of a notebook that failed (Databricks: com.databricks.WorkflowException)."""


@dataclass
class NotebookRun:
    """What a run did: the globals the notebooks left, the cells executed and the time it took."""

    namespace: dict[str, Any]
    cells: list[tuple[Path, int]] = field(default_factory=list)
    seconds: float = 0.0
    exit_value: str | None = None


@dataclass
class NotebookResult:
    """One notebook's outcome in a run of several (`--result`)."""

    notebook: str
    state: str
    exit_value: str | None
    error: str | None
    trace: str | None
    seconds: float
    run: NotebookRun | None = field(default=None, repr=False)

    def as_json(self) -> dict[str, Any]:
        return {
            "notebook": self.notebook,
            "state": self.state,
            "exit_value": self.exit_value,
            "error": self.error,
            "trace": self.trace,
            "seconds": round(self.seconds, 3),
        }


def make_namespace(
    spark: Any,
    widgets: Mapping[str, str] | None = None,
    mirror: S3Mirror | None = None,
    display: Callable[..., None] | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    fs: Any = None,
    notebook: NotebookUtils | None = None,
    task_values: TaskValues | None = None,
) -> dict[str, Any]:
    """Globals a notebook sees on Databricks: `spark`, `dbutils`, `display`, `displayHTML`, `sc`, `sqlContext`,
    `table`, `sql`, `udf`, `getArgument`. `fs` shares another notebook's `dbutils.fs` (mounts are cluster-wide)."""
    from pyspark.sql import SQLContext
    from pyspark.sql.functions import udf

    dbutils = LocalDbutils(widgets, mirror, environ, notebook=notebook, task_values=task_values)
    if fs is not None:
        dbutils.fs = fs if isinstance(fs, StrictView) else StrictView(fs, "dbutils.fs")
    display_html = make_display_html() if display is None else make_display_html(printer=display)
    display = display or make_display()
    notebook_spark = prepare_session(spark, dbutils.fs.target)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sql_context = SQLContext(spark.sparkContext, spark)
    return {
        "__name__": "__main__",
        "__builtins__": __builtins__,
        "spark": notebook_spark,
        "sc": spark.sparkContext,
        "sqlContext": sql_context,
        "dbutils": dbutils,
        "display": display,
        "displayHTML": display_html,
        "table": notebook_spark.table,
        "sql": notebook_spark.sql,
        "udf": udf,
        "getArgument": dbutils.widgets.getArgument,
    }


class _Context:
    """What the notebooks of one top-level run share: the cluster, the workspace root, logging, the call stack."""

    def __init__(
        self,
        cluster: Cluster,
        workspace: Path | None,
        echo_md: bool,
        log: Callable[[str], None],
        mirror: S3Mirror | None,
    ) -> None:
        self.cluster = cluster
        self.workspace = workspace
        self.echo_md = echo_md
        self.log = log
        self.mirror = mirror
        self.paths: list[Path] = []  # notebooks being run, innermost last (%run and notebook.run)

    def notebook_utils(self) -> NotebookUtils:
        return NotebookUtils(self.notebook_run)

    def notebook_run(self, path: str, timeout_seconds: int, arguments: Mapping[str, str]) -> str:
        """`dbutils.notebook.run`: the notebook in its own session and globals; its exit value."""
        caller = self.paths[-1]
        try:
            target = resolve_notebook(str(path), caller.parent, self.workspace_for(caller))
        except FileNotFoundError as error:
            raise WorkflowException(f"dbutils.notebook.run({path!r}): {error}") from None
        parent_ns = runtime.current_namespace()
        session = self.cluster.new_session()
        namespace = make_namespace(
            session,
            mirror=self.mirror,
            display=parent_ns.get("display"),
            fs=parent_ns["dbutils"].fs,
            notebook=self.notebook_utils(),
            task_values=parent_ns["dbutils"].jobs.taskValues,
        )
        run = NotebookRun(namespace)
        self.log(f"dbutils.notebook.run {target} {dict(arguments)}")

        def child() -> None:
            with namespace["dbutils"].widgets.arguments(arguments):
                self.execute(target, run, session)
            if not self.cluster.available_now:
                with self.cluster.attach(session):
                    self.cluster.wait_for_streams(session)

        try:
            _with_timeout(float(timeout_seconds or 0), session.sparkContext, child)
        except NotebookError as error:
            raise WorkflowException(f"notebook {path} ({target}) failed: {error}") from error
        except NotebookTimeout:
            raise WorkflowException(
                f"notebook {path} ({target}) timed out after {timeout_seconds} s (timeout_seconds)"
            ) from None
        finally:
            self.cluster.stop_streams(session)
        return "" if run.exit_value is None else run.exit_value

    def workspace_for(self, path: Path) -> Path:
        return self.workspace or (self.paths[0] if self.paths else path).parent

    def execute(self, path: Path, run: NotebookRun, session: Any) -> None:
        """Run the notebook at `path` in `run`'s globals on `session` (its exit ends it, with its value)."""
        started = time.perf_counter()
        self.paths.append(path)
        try:
            with (
                self.cluster.attach(session, run.namespace.get("display")),
                _on_sys_path(path.parent, self.workspace_for(path)),
                _pushed(run.namespace),
            ):
                self.run_file(path, run, depth=0)
        except NotebookExit as done:
            run.exit_value = done.value
        finally:
            self.paths.pop()
            run.seconds = time.perf_counter() - started

    def run_file(self, path: Path, run: NotebookRun, depth: int) -> None:
        if depth > MAX_RUN_DEPTH:
            raise NotebookError(path, None, f"%run nested deeper than {MAX_RUN_DEPTH} (a cycle?)")
        try:
            cells = read_notebook(path)
        except NotebookFormatError as error:
            raise NotebookError(path, None, str(error)) from None
        for cell in cells:
            self.log(f"{path} cell {cell.number}: {cell.kind} {cell.title or cell.summary}")
            run.cells.append((path, cell.number))
            if cell.kind == "run":
                target, arguments = self.run_target(path, cell)
                self.paths.append(target)
                try:
                    with run.namespace["dbutils"].widgets.arguments(arguments):
                        self.run_file(target, run, depth + 1)
                finally:
                    self.paths.pop()
                continue
            try:
                run_cell(path, cell, run.namespace, self.echo_md)
            except (NotebookError, NotebookExit):
                raise
            except Exception as error:
                raise NotebookError(path, cell, error) from error

    def run_target(self, path: Path, cell: Cell) -> tuple[Path, dict[str, str]]:
        line = _magic_body(cell)[0].strip().splitlines()
        try:
            parts = shlex.split(line[0]) if line else []
        except ValueError as error:
            raise NotebookError(path, cell, f"cannot parse %run: {error}") from None
        if not parts:
            raise NotebookError(path, cell, "%run needs a notebook path")
        arguments = {}
        for part in parts[1:]:
            name, sep, value = part.partition("=")
            if not name.startswith("$") or not sep or len(name) < 2:
                raise NotebookError(path, cell, f'%run arguments are $name="value", got {part!r}')
            arguments[name[1:]] = value
        try:
            return resolve_notebook(parts[0], path.parent, self.workspace_for(path)), arguments
        except FileNotFoundError as error:
            raise NotebookError(path, cell, f"%run target {parts[0]!r} not found ({error})") from None


class NotebookTimeout(BaseException):
    """Raised in the thread of a `dbutils.notebook.run` whose `timeout_seconds` ran out."""


def _with_timeout(seconds: float, sc: Any, body: Callable[[], None]) -> None:
    """Run `body`; after `seconds` (0: never) raise `NotebookTimeout` in it and cancel its Spark jobs."""
    if seconds <= 0:
        body()
        return
    thread_id = threading.get_ident()
    group = f"notebook-run-{uuid.uuid4().hex[:12]}"
    lock, state = threading.Lock(), {"done": False, "fired": False}

    def fire() -> None:
        with lock:
            if state["done"]:
                return
            state["fired"] = True
            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(thread_id), ctypes.py_object(NotebookTimeout)
            )
        with contextlib.suppress(Exception):
            sc.cancelJobGroup(group)

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    sc.setJobGroup(group, "dbutils.notebook.run", interruptOnCancel=True)
    timer.start()
    try:
        body()
    finally:
        timer.cancel()
        with lock:
            state["done"] = True
            if state["fired"]:  # drop a timeout still pending for this thread
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), None)
        sc.setLocalProperty("spark.jobGroup.id", None)


def resolve_notebook(reference: str, caller_dir: Path, workspace: Path) -> Path:
    """The notebook file a `%run`/`dbutils.notebook.run` path names (see the module docstring)."""
    reference = reference.strip()
    if reference.startswith("/"):
        parts = [p for p in reference.split("/") if p]
        if parts and parts[0] in WORKSPACE_ROOTS:
            if parts[0] == "Workspace":
                parts = parts[1:]
            bases = [workspace.joinpath(*parts[i:]) for i in range(len(parts))]
        else:
            bases = [Path(reference)]
    else:
        bases = [caller_dir / reference]
    for base in bases:
        for candidate in _with_suffixes(base):
            if candidate.is_file():
                return candidate.resolve()
    raise FileNotFoundError(
        f"looked for {bases[0]}(.py|.ipynb)" + (f" and its tails under {workspace}" if len(bases) > 1 else "")
    )


def run_notebook(
    path: str | Path,
    spark: Any,
    widgets: Mapping[str, str] | None = None,
    namespace: dict[str, Any] | None = None,
    mirror: S3Mirror | None = None,
    echo_md: bool = False,
    log: Callable[[str], None] | None = None,
    workspace: str | Path | None = None,
    cluster: Cluster | None = None,
) -> NotebookRun:
    """Run the notebook at `path` (and the notebooks it `%run`s) on the session `spark`; return its globals.

    Raises `NotebookError` when a cell fails; `dbutils.notebook.exit` ends it with `exit_value` set."""
    cluster = cluster or Cluster(spark)
    context = _Context(
        cluster, Path(workspace).absolute() if workspace else None, echo_md, log or (lambda _: None), mirror
    )
    if namespace is None:
        namespace = make_namespace(spark, widgets, mirror, notebook=context.notebook_utils())
    elif isinstance(namespace.get("dbutils"), LocalDbutils) and namespace["dbutils"].notebook._runner is None:
        namespace["dbutils"].notebook = context.notebook_utils()
    run = NotebookRun(namespace)
    with runtime.activate():
        context.execute(Path(path), run, spark)
    return run


def run_notebooks(
    paths: list[Path],
    cluster: Cluster,
    widgets: Mapping[str, str] | None = None,
    workspace: str | Path | None = None,
    mirror: S3Mirror | None = None,
    echo_md: bool = False,
    log: Callable[[str], None] | None = None,
    display: Callable[..., None] | None = None,
    on_result: Callable[[NotebookResult], None] | None = None,
) -> list[NotebookResult]:
    """Run the notebooks one after another on `cluster`, each in its own session (as notebooks attached to one
    cluster: tables, global temp views and mounts shared); every notebook runs, whatever the others did."""
    results: list[NotebookResult] = []
    shared_fs = None
    task_values: dict[str, dict[str, Any]] = cluster.task_values
    with runtime.activate():
        for given in paths:
            path = Path(given).absolute()
            context = _Context(
                cluster,
                Path(workspace).absolute() if workspace else None,
                echo_md,
                log or (lambda _: None),
                mirror,
            )
            session = cluster.new_session()
            started = time.perf_counter()
            run = None
            try:
                namespace = make_namespace(
                    session,
                    widgets,
                    mirror,
                    display,
                    fs=shared_fs,
                    notebook=context.notebook_utils(),
                    task_values=TaskValues(task_values, path.stem),
                )
                shared_fs = namespace["dbutils"].fs
                run = NotebookRun(namespace)
                context.execute(path, run, session)
                if not cluster.available_now:
                    with cluster.attach(session):
                        cluster.wait_for_streams(session)
                result = NotebookResult(
                    str(given), "SUCCESS", run.exit_value, None, None, time.perf_counter() - started, run
                )
            except BaseException as error:
                interrupted = isinstance(error, KeyboardInterrupt) or cluster.interrupted
                if not interrupted and not isinstance(error, Exception):
                    raise
                if interrupted:  # a Ctrl-C inside a Spark call arrives as a Py4J error
                    cluster.stop_streams(session)
                    result = NotebookResult(
                        str(given), "FAILED", None, INTERRUPTED, None, time.perf_counter() - started, run
                    )
                    results.append(result)
                    if on_result:
                        on_result(result)
                    raise KeyboardInterrupt from None
                cause = error.__cause__ if isinstance(error, NotebookError) and error.__cause__ else error
                trace = "".join(traceback.format_exception(cause))
                result = NotebookResult(
                    str(given), "FAILED", None, str(error), trace, time.perf_counter() - started, run
                )
            finally:
                cluster.stop_streams(session)
            results.append(result)
            if on_result:
                on_result(result)
    return results


def run_cell(path: Path, cell: Cell, namespace: dict[str, Any], echo_md: bool) -> None:
    """Run one cell in `namespace` (a `%run` cell is the runner's, not this function's)."""
    kind = cell.kind
    body, first_line = _magic_body(cell)
    if kind in ("md", "md-sandbox"):
        if echo_md:
            print(body)
        return
    if kind == "pip":
        print(f"%pip {body.strip()}: skipped (install packages into the local runtime's environment)")
        return
    if kind == "sql":
        result = None
        for statement in split_sql(_substitute_widgets(body, namespace)):
            markers = widget_markers(statement, _widget_values(namespace))
            result = (
                namespace["spark"].sql(statement, args=markers)
                if markers
                else namespace["spark"].sql(statement)
            )
        if result is not None:
            namespace["_sqldf"] = result
            if result.columns:
                namespace["display"](result)
        return
    if kind == "fs":
        _fs_magic(path, cell, body, namespace)
        return
    if kind in UNSUPPORTED_MAGICS:
        raise NotebookError(
            path,
            cell,
            f"%{kind} cells cannot run locally; keep notebooks to Python, %sql, %md, %run and %pip",
        )
    if kind != "python":
        raise NotebookError(path, cell, f"unknown magic %{kind}")
    # Pad with blank lines so tracebacks report the line numbers of the notebook file.
    code = compile("\n" * (first_line - 1) + body, str(path), "exec")
    exec(code, namespace)


def split_sql(text: str) -> list[str]:
    """The statements of a `%sql` cell: split at `;` outside quotes and comments; comments removed."""
    statements, current, i, quote = [], [], 0, None
    while i < len(text):
        char = text[i]
        if quote:
            current.append(char)
            if char == "\\" and i + 1 < len(text):
                current.append(text[i + 1])
                i += 1
            elif char == quote:
                quote = None
        elif char in "'\"`":
            quote = char
            current.append(char)
        elif text.startswith("--", i):
            while i < len(text) and text[i] != "\n":
                i += 1
            continue
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = len(text) if end < 0 else end + 2
            continue
        elif char == ";":
            statements.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    statements.append("".join(current))
    return [s.strip() for s in statements if s.strip()]


SQL_QUOTED = re.compile(r"'(?:\\.|[^'\\])*'|\"(?:\\.|[^\"\\])*\"|`[^`]*`")
NAMED_MARKER = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


def widget_markers(statement: str, widgets: Mapping[str, str]) -> dict[str, str]:
    """The named parameter markers (`:name`, outside quotes; `::` casts are not markers) of a `%sql` statement
    that name a widget, with the widget's value: what Databricks binds in a notebook's SQL cell."""
    unquoted = SQL_QUOTED.sub(" ", statement)
    return {name: widgets[name] for name in NAMED_MARKER.findall(unquoted) if name in widgets}


def _widget_values(namespace: dict[str, Any]) -> dict[str, str]:
    dbutils = namespace.get("dbutils")
    return dbutils.widgets.getAll() if isinstance(dbutils, LocalDbutils) else {}


def _substitute_widgets(text: str, namespace: dict[str, Any]) -> str:
    """`${name}` in a `%sql` cell: the widget's value (the legacy syntax, deprecated since DBR 15.2 in favour of
    `:name` markers, but still read); other `${...}` stay."""
    values = _widget_values(namespace)
    return re.sub(r"\$\{(\w+)\}", lambda m: values.get(m[1], m[0]), text)


def _fs_magic(path: Path, cell: Cell, body: str, namespace: dict[str, Any]) -> None:
    words = shlex.split(body.strip())
    if not words:
        raise NotebookError(path, cell, "%fs needs a command (ls, head, mkdirs, rm, ...)")
    command, args = words[0], words[1:]
    recurse = "-r" in args
    args = [a for a in args if a != "-r"]
    function = getattr(namespace["dbutils"].fs, command)
    result = function(*args, recurse=True) if recurse else function(*args)
    if result is not None:
        namespace["display"](result)


def _is_plain(cell: Cell) -> bool:
    return not cell.body.lstrip().startswith("%")


def _magic_body(cell: Cell) -> tuple[str, int]:
    """The cell's text without its `%kind` (what follows it on its line is kept) and the line it starts at."""
    if _is_plain(cell):
        return cell.body, cell.line
    first, _, rest = cell.body.partition("\n")
    inline = first.strip()[len(cell.kind) + 1 :].strip()
    return (inline + "\n" + rest, cell.line) if inline else (rest, cell.line + 1)


def _failing_line(path: Path, cause: BaseException) -> tuple[int, str] | None:
    frames = [f for f in traceback.extract_tb(cause.__traceback__) if f.filename == str(path)]
    if not frames or frames[-1].lineno is None:
        return None
    return frames[-1].lineno, (frames[-1].line or "").strip()


def _first_lines(text: str, limit: int = 12) -> str:
    lines = text.strip().splitlines()
    return "\n".join(lines[:limit]) + ("\n..." if len(lines) > limit else "")


def _with_suffixes(base: Path) -> list[Path]:
    if base.suffix in NOTEBOOK_SUFFIXES:
        return [base]
    return [base.with_name(base.name + suffix) for suffix in NOTEBOOK_SUFFIXES] + [base]


@contextlib.contextmanager
def _on_sys_path(*folders: Path) -> Iterator[None]:
    """The folders on `sys.path` for the block; modules it imported from them are forgotten afterwards (each
    Databricks notebook has a Python process of its own, so the next notebook imports them afresh)."""
    roots = list(dict.fromkeys(str(f.absolute()) for f in folders))
    added = [folder for folder in roots if folder not in sys.path]
    for folder in reversed(added):
        sys.path.insert(0, folder)
    before = set(sys.modules)
    try:
        yield
    finally:
        for folder in added:
            with contextlib.suppress(ValueError):
                sys.path.remove(folder)
        for name in set(sys.modules) - before:
            origin = getattr(sys.modules.get(name), "__file__", None) or ""
            if name.split(".")[0] in RUNTIME_PACKAGES or origin.startswith((sys.prefix, sys.base_prefix)):
                continue  # the runtime's own modules and installed packages stay
            if any(origin.startswith(root + "/") for root in roots):
                del sys.modules[name]


@contextlib.contextmanager
def _pushed(namespace: dict[str, Any]) -> Iterator[None]:
    runtime.push(namespace)
    try:
        yield
    finally:
        runtime.pop()


__all__ = [
    "NotebookError",
    "NotebookResult",
    "NotebookRun",
    "WorkflowException",
    "make_namespace",
    "resolve_notebook",
    "run_cell",
    "run_notebook",
    "run_notebooks",
    "split_sql",
    "widget_markers",
]
