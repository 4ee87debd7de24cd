"""Every notebook file is valid Databricks source format, so `workspace import` keeps its cells; the notebooks and
their package call Databricks as Databricks users do (no function of ours that is in essence one Databricks
call); the batch notebook answers each of the nine questions in its own titled cell."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from databricks_local.source import (
    HEADER,
    SEPARATOR,
    NotebookFormatError,
    parse_cells,
    read_notebook,
)
from tests.notebooks.notebook_cells import source_cells

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
PACKAGE = NOTEBOOKS / "pinterest_pipeline"
#: The notebooks: every `.py` file of the folder that starts with the Databricks source header.
FILES = sorted(p for p in NOTEBOOKS.rglob("*.py") if p.read_text(encoding="utf-8").startswith(HEADER + "\n"))
#: The package's modules: plain Python files, imported by the notebooks.
MODULES = sorted(PACKAGE.glob("*.py"))


def test_there_are_notebooks_and_modules() -> None:
    assert [p.relative_to(NOTEBOOKS).as_posix() for p in FILES] == ["batch.py", "stream.py"]
    assert {p.stem for p in MODULES} >= {
        "__init__",
        "names",
        "schemas",
        "cleaning",
        "queries",
        "lake",
        "kinesis",
    }
    assert not (NOTEBOOKS / "lib").exists(), "shared code is the package, not %run notebooks"
    for path in MODULES:
        assert not path.read_text(encoding="utf-8").startswith(HEADER), (
            f"{path.name} is a module, not a notebook"
        )


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.relative_to(NOTEBOOKS).as_posix())
def test_notebook_is_databricks_source(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[0] == HEADER
    assert text.count(f"\n\n{SEPARATOR}\n\n") == text.count(SEPARATOR), "separators sit between blank lines"
    cells = read_notebook(path)  # raises on a magic line without `# MAGIC`
    assert len(cells) >= 2
    for cell in cells:
        assert cell.kind in {"python", "md", "sql"}, "shared code is imported, not pulled in with %run"
    for cell in source_cells(path):
        if cell.kind == "python":
            compile(cell.body, str(path), "exec")  # valid Python on its own
    assert cells[0].kind == "md", "each notebook opens with a markdown cell saying what it does"


def test_no_secret_or_key_literal_in_notebooks() -> None:
    for path in FILES + MODULES:
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


# --- Databricks called as Databricks users call it ---------------------------------------------------------------
#: The objects Databricks gives a notebook (and `databricks.sdk.runtime` a module).
RUNTIME_NAMES = {"spark", "dbutils", "display", "displayHTML", "DeltaTable", "sc", "sqlContext"}
#: Methods that write a DataFrame or a stream to a table or a path.
WRITE_METHODS = {"saveAsTable", "toTable", "insertInto", "save", "start", "table"}
#: Methods that only configure the Databricks call they are part of (a writer's options, a MERGE's clauses...).
BUILDER_METHODS = {
    "format", "mode", "option", "options", "partitionBy", "alias", "select", "first", "collect", "strip",
    "merge", "whenMatchedUpdate", "whenMatchedUpdateAll", "whenMatchedDelete", "whenNotMatchedInsert",
    "whenNotMatchedInsertAll", "execute", "trigger", "outputMode", "queryName", "load",
}  # fmt: skip
#: Calls that are plumbing around a call, not work of their own.
PLUMBING = {
    "str",
    "list",
    "tuple",
    "dict",
    "len",
    "bool",
    "int",
    "quote",
    "print",
    "strip",
    "rstrip",
    "lower",
}


def chain(node: ast.expr) -> tuple[str, list[str]]:
    """The root name and the attribute names of a call chain: `spark.table(t).select(c)` -> ("spark", ["table",
    "select"]); the root is "" when the chain starts with something else (a literal, a subscript)."""
    attrs: list[str] = []
    while True:
        if isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Attribute):
            attrs.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Name):
            return node.id, attrs[::-1]
        else:
            return "", attrs[::-1]


def databricks_family(call: ast.Call) -> str | None:
    """Which Databricks API `call` belongs to (`dbutils.widgets`, `display`, `spark.table`, `write`, `DeltaTable`,
    ...); "builder" for a call that only configures one; None for any other call."""
    root, attrs = chain(call)
    if root == "dbutils":
        return "dbutils." + (attrs[0] if attrs else "")
    if root in RUNTIME_NAMES:
        return root + ("." + attrs[0] if root == "spark" and attrs else "")
    if "write" in attrs or "writeStream" in attrs or (attrs and attrs[-1] in WRITE_METHODS):
        return "write"
    if attrs and attrs[-1] in BUILDER_METHODS:
        return "builder"
    return None


def functions(tree: ast.AST) -> list[ast.FunctionDef]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)]


def wrappers(tree: ast.AST) -> list[str]:
    """Functions of `tree` that are in essence one Databricks call: every call they make is one Databricks API
    (one family: `dbutils.widgets.text` and `.get` are one), what configures it, plumbing (`str`, `.strip()`, an
    exception to raise) or a helper of the same file that calls no Databricks API itself; no loop, no `try`, no
    `with`: a new name for `dbutils.widgets.get`, `display`, `saveAsTable`, `spark.table`, a MERGE ..."""
    defined = {f.name: f for f in functions(tree)}

    def calls_databricks(function: ast.FunctionDef) -> bool:
        return any(
            databricks_family(n) not in (None, "builder")
            for n in ast.walk(function)
            if isinstance(n, ast.Call)
        )

    found = []
    for function in functions(tree):
        if any(isinstance(n, ast.For | ast.While | ast.Try | ast.With) for n in ast.walk(function)):
            continue
        families, other = set(), False
        for node in ast.walk(function):
            if not isinstance(node, ast.Call):
                continue
            family = databricks_family(node)
            root, attrs = chain(node)
            name = attrs[-1] if attrs else root
            if family == "builder" or name in PLUMBING or name.endswith(("Error", "Exception")):
                continue
            if family is not None:
                families.add(family)
            elif not attrs and root in defined and not calls_databricks(defined[root]):
                continue  # a helper of ours that makes no Databricks call: plumbing
            else:
                other = True
        if len(families) == 1 and not other:
            found.append(f"{function.name} (line {function.lineno}): {families.pop()}")
    return found


def python_of(path: Path) -> ast.Module:
    """A module's AST, or a notebook's: its Python cells, in order, as one module."""
    if path in FILES:
        return ast.parse("\n\n".join(c.body for c in source_cells(path) if c.kind == "python"), str(path))
    return ast.parse(path.read_text(encoding="utf-8"), str(path))


@pytest.mark.parametrize("path", FILES + MODULES, ids=lambda p: p.relative_to(NOTEBOOKS).as_posix())
def test_no_function_of_ours_is_one_databricks_call_renamed(path: Path) -> None:
    assert wrappers(python_of(path)) == []


ADAPTER = """
def widget(name, default="", choices=None, label=None):
    if choices:
        dbutils.widgets.dropdown(name, default, list(choices), label or name)
    else:
        dbutils.widgets.text(name, default, label or name)
    return dbutils.widgets.get(name).strip()

def secret(scope, key):
    "A secret."
    return dbutils.secrets.get(scope=scope, key=key)

def show(df):
    display(df)

def quoted(name):
    return "`" + name.replace("`", "``") + "`"

def save_table(df, name, mode="overwrite"):
    writer = df.write.format("delta").mode(mode)
    if mode == "overwrite":
        writer = writer.option("overwriteSchema", "true")
    writer.saveAsTable(quoted(name))
    return name

def read_table(name):
    return spark.table(quoted(name))

def drop_table(name):
    spark.sql(f"DROP TABLE IF EXISTS {quoted(name)}")

def merge_new_rows(df, name, key="ind"):
    from delta.tables import DeltaTable

    target = DeltaTable.forName(df.sparkSession, quoted(name)).alias("t")
    return target.merge(df.alias("s"), f"t.{key} = s.{key}").whenNotMatchedInsertAll().execute()

def read_stream(name, options):
    return spark.readStream.format("kinesis").option("streamName", name).options(**options).load()

def clean_and_save(df, name):
    cleaned = df.where("ind IS NOT NULL").dropDuplicates(["ind"])
    cleaned.write.format("delta").saveAsTable(name)
    return cleaned.count()

def kinesis_options(region, auth, scope):
    options = {"region": region}
    if auth == "secret_scope":
        options["awsAccessKey"] = dbutils.secrets.get(scope=scope, key="access_key_id")
    elif auth != "instance_profile":
        raise ValueError(f"kinesis_auth must be one of {', '.join(AUTH_MODES)}, not {auth!r}")
    return options
"""


def test_the_wrapper_check_finds_the_old_adapters_functions() -> None:
    """The check above fails on what `notebooks/lib/adapter.py` held, and passes functions that do work of their
    own around a Databricks call."""
    found = {line.split(" ")[0] for line in wrappers(ast.parse(ADAPTER))}
    assert found == {
        "widget",
        "secret",
        "show",
        "save_table",
        "read_table",
        "drop_table",
        "merge_new_rows",
        "read_stream",
    }


# --- the batch notebook: nine titled question cells --------------------------------------------------------------
QUESTION = re.compile(r"Question ([1-9]): (\S.*\?)$")


def test_the_batch_notebook_answers_each_question_in_its_own_titled_cell() -> None:
    cells = source_cells(NOTEBOOKS / "batch.py")
    questions = [(QUESTION.match(c.title), c) for c in cells if c.title.startswith("Question")]
    assert [int(match[1]) for match, _ in questions if match] == list(range(1, 10)), [
        c.title for _, c in questions
    ]
    kinds = set()
    for match, cell in questions:
        assert len(match[2].split()) >= 5, f"the title says the question in words: {cell.title}"
        kinds.add(cell.kind)
        if cell.kind == "sql":
            assert re.match(r"\s*SELECT\b", cell.body, re.I), cell.title
            continue
        assert cell.kind == "python", cell.title
        last = ast.parse(cell.body).body[-1]
        assert isinstance(last, ast.Expr) and isinstance(last.value, ast.Call), f"{cell.title} ends in a call"
        root, attrs = chain(last.value)
        assert (root, attrs) == ("display", []) or attrs[-1:] == ["display"], (
            f"{cell.title} ends in a display"
        )
        assert "answers[" in cell.body, f"{cell.title} gives its answer to the cell that saves the nine"
    assert kinds == {"python", "sql"}, "the DataFrame API, and %sql for at least one question"


def test_every_answer_is_saved_and_counted_a_sql_answer_through_sqldf() -> None:
    cells = source_cells(NOTEBOOKS / "batch.py")
    text = "\n".join(c.body for c in cells if c.kind == "python")
    from notebooks.pinterest_pipeline.names import RESULT_NAMES

    for name in RESULT_NAMES:
        assert f'answers["{name}"] =' in text, name
    for i, cell in enumerate(cells):
        if cell.kind == "sql" and cell.title.startswith("Question"):
            assert "_sqldf" in cells[i + 1].body, "the %sql answer is taken from _sqldf in the next cell"
    save = next(c for c in cells if c.title == "Save the nine answers")
    assert ".saveAsTable(RESULT_TABLES[name])" in save.body and "RESULT_ROWS" in save.body
    assert cells[-1].body.strip() == "dbutils.notebook.exit(json.dumps(RESULT_ROWS))"
