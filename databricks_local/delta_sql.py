"""SQL over Delta tables for local runs: what `spark.sql` does on Databricks that open-source Spark cannot.

Owns the statements the runtime answers itself before Spark sees them (`run`):

* `DROP TABLE [IF EXISTS] t` of a Delta table (its folder goes too: a managed table);
* `CREATE [OR REPLACE] TABLE [IF NOT EXISTS] t (cols) [USING DELTA]` and `CREATE ... TABLE t [USING DELTA] AS SELECT`
  (no `USING`, or `USING DELTA`: Databricks' default format);
* `INSERT INTO|OVERWRITE [TABLE] t SELECT/VALUES ...`, `UPDATE t SET ... [WHERE ...]`, `DELETE FROM t [WHERE ...]`
  on a Delta table (by name or `` delta.`path` ``);
* `DESCRIBE HISTORY t [LIMIT n]` and `DESCRIBE DETAIL t`;
* `` delta.`path` `` in a query, and `` json.`dbfs:/...` `` (any file format) with a DBFS or mounted path;
* any other query that names a Delta table: Spark reports it missing, the runtime puts the table's current
  version in the query's place (a temporary view under a private name) and asks again.

Everything else is Spark's own `sql`.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Iterator
from typing import Any

from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession

from databricks_local import delta

NAME = r"(?:`[^`]+`|[\w]+)(?:\.(?:`[^`]+`|[\w]+))*"
TARGET = rf"(?P<target>delta\.`[^`]+`|{NAME})"
QUERY = r"(?P<query>(?:SELECT|WITH|VALUES|TABLE|FROM)\b.*?)"


def _statement_pattern(body: str) -> re.Pattern[str]:
    """One whole statement: `body` between optional white space and an optional closing `;`, any case."""
    return re.compile(rf"^\s*{body}\s*;?\s*$", re.I | re.S)


DROP = _statement_pattern(rf"DROP\s+TABLE\s+(?P<exists>IF\s+EXISTS\s+)?{TARGET}")
CREATE = _statement_pattern(
    rf"CREATE\s+(?P<replace>OR\s+REPLACE\s+)?TABLE\s+(?P<ifnot>IF\s+NOT\s+EXISTS\s+)?{TARGET}\s*"
    r"(?P<cols>\((?:[^()]|\([^()]*\))*\))?\s*(?:USING\s+(?P<using>\w+)\s*)?"
    r"(?P<rest>(?:COMMENT|TBLPROPERTIES|LOCATION|PARTITIONED|CLUSTER)\b.*?)?"
    rf"(?:\bAS\s+{QUERY})?"
)
INSERT = _statement_pattern(rf"INSERT\s+(?P<how>INTO|OVERWRITE)\s+(?:TABLE\s+)?{TARGET}\s+{QUERY}")
UPDATE = _statement_pattern(rf"UPDATE\s+{TARGET}\s+SET\s+(?P<set>.*?)(?:\s+WHERE\s+(?P<where>.*?))?")
DELETE = _statement_pattern(rf"DELETE\s+FROM\s+{TARGET}(?:\s+WHERE\s+(?P<where>.*?))?")
DESCRIBE = _statement_pattern(
    rf"DESCRIBE\s+(?P<what>HISTORY|DETAIL)\s+{TARGET}(?:\s+LIMIT\s+(?P<limit>\d+))?"
)
MERGE = _statement_pattern(
    rf"MERGE\s+INTO\s+{TARGET}(?:\s+(?:AS\s+)?(?P<talias>(?!USING\b)\w+))?\s+USING\s+"
    r"(?P<source>\((?:[^()]|\((?:[^()]|\([^()]*\))*\))*\)|delta\.`[^`]+`|[`\w.]+)"
    r"(?:\s+(?:AS\s+)?(?P<salias>(?!ON\b)\w+))?\s+ON\s+(?P<rest>.*?)"
)
CLAUSE = re.compile(
    r"^WHEN\s+(?P<kind>MATCHED|NOT\s+MATCHED(?:\s+BY\s+TARGET)?|NOT\s+MATCHED\s+BY\s+SOURCE)"
    r"(?:\s+AND\s+(?P<cond>.*?))?\s+THEN\s+(?P<action>.*)$",
    re.I | re.S,
)
FILE_QUERY = re.compile(r"\b(?P<fmt>delta|json|parquet|csv|text|orc)\.`(?P<path>[^`]+)`", re.I)
MAX_RETRIES = 32


def run(session: SparkSession, query: str, args: Any = None, **kwargs: Any) -> DataFrame:
    """`spark.sql(query)` with Delta: the statements above by the runtime, the rest by Spark."""
    handled = _statement(session, query)
    if handled is not None:
        return handled
    return _query(session, query, args, **kwargs)


def _original(session: SparkSession, query: str, args: Any = None, **kwargs: Any) -> DataFrame:
    from databricks_local.spark_hooks import ORIGINAL

    return ORIGINAL["SparkSession.sql"](session, query, args, **kwargs)


def _empty(session: SparkSession) -> DataFrame:
    return session.createDataFrame([], "result string").limit(0).select()


def _target_path(session: SparkSession, target: str) -> Any:
    """The folder of `t` or `` delta.`path` ``, and whether it names a Delta table."""
    if target.lower().startswith("delta.`"):
        from databricks_local.spark_hooks import fs_for

        return fs_for(session).resolve(target[len("delta.`") : -1]), target[len("delta.`") : -1]
    return delta.table_path(session, target), None


def _is_delta_target(session: SparkSession, target: str) -> bool:
    try:
        return delta.is_delta_table(_target_path(session, target)[0])
    except Exception:
        return False


def _statement(session: SparkSession, query: str) -> DataFrame | None:
    from databricks_local.delta_tables import DeltaTable

    match = DROP.match(query)
    if match and _is_delta_target(session, match["target"]):
        delta.drop(session, match["target"])
        return _empty(session)
    match = CREATE.match(query)
    if match and (match["using"] or "delta").lower() == "delta" and (match["cols"] or match["query"]):
        return _create(session, match)
    match = DESCRIBE.match(query)
    if match and _is_delta_target(session, match["target"]):
        path, _ = _target_path(session, match["target"])
        table = DeltaTable(session, path, name=None)
        if match["what"].upper() == "HISTORY":
            return table.history(int(match["limit"]) if match["limit"] else None)
        return table.detail()
    match = MERGE.match(query)
    if match and _is_delta_target(session, match["target"]):
        return _merge(session, match)
    for pattern in (INSERT, UPDATE, DELETE):
        match = pattern.match(query)
        if match and _is_delta_target(session, match["target"]):
            path, uri = _target_path(session, match["target"])
            table = DeltaTable(session, path, uri=uri)
            if pattern is INSERT:
                rows = run(session, match["query"])
                rows = as_table_columns(rows, delta.read_path(session, path))
                delta.write_path(rows, path, "overwrite" if match["how"].upper() == "OVERWRITE" else "append")
                table._committed()
                return _empty(session)
            if pattern is UPDATE:
                table.update(match["where"], dict(_assignment(a) for a in _split_commas(match["set"])))
            else:
                table.delete(match["where"])
            return _empty(session)
    return None


def _create(session: SparkSession, match: re.Match[str]) -> DataFrame:
    target = match["target"]
    if match["rest"] and re.search(r"\bLOCATION\b|\bPARTITIONED\b|\bCLUSTER\b", match["rest"], re.I):
        from databricks_local.spark_hooks import NotSupportedLocally

        raise NotSupportedLocally(
            "CREATE TABLE ... LOCATION / PARTITIONED BY / CLUSTER BY of a Delta table is not supported locally; "
            "write with df.write.format('delta').save(path) and read with delta.`path`"
        )
    path, uri = _target_path(session, target)
    present = delta.is_delta_table(path)
    if present and match["ifnot"]:
        return _empty(session)
    if present and not match["replace"]:
        raise AnalysisException(
            f"[TABLE_OR_VIEW_ALREADY_EXISTS] Cannot create table or view {target} because it already exists."
        )
    if match["query"]:
        rows = run(session, match["query"])
    else:
        rows = session.createDataFrame([], match["cols"].strip()[1:-1])
    delta.write_path(rows, path, "overwrite", {"overwriteSchema": "true"}, name=None if uri else target)
    if uri:
        from databricks_local.spark_hooks import fs_for

        fs_for(session).upload(uri, delete_missing=True)
    return _empty(session)


def _top_level(text: str) -> Iterator[int]:
    """The positions in `text` outside quotes and parentheses (quote marks and parentheses themselves not)."""
    depth, quote = 0, ""
    for i, char in enumerate(text):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"`":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif depth == 0:
            yield i


def _top_level_split(text: str, word: str) -> list[str]:
    """`text` cut before each `word` outside quotes and parentheses."""
    pattern = re.compile(rf"\b{word}\b", re.I)
    cuts = [i for i in _top_level(text) if pattern.match(text, i) and (i == 0 or not text[i - 1].isalnum())]
    parts = [text[start:stop] for start, stop in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    return [part.strip() for part in parts if part.strip()]


def _merge(session: SparkSession, match: re.Match[str]) -> DataFrame:
    """`MERGE INTO t USING s ON ... WHEN ...` as `DeltaTable.merge` with the same clauses."""
    from databricks_local.delta_tables import DeltaTable

    path, uri = _target_path(session, match["target"])
    target = DeltaTable(session, path, uri=uri).alias(
        match["talias"] or match["target"].split(".")[-1].strip("`")
    )
    source_text = match["source"]
    if source_text.startswith("("):
        source = run(session, source_text[1:-1])
    elif source_text.lower().startswith("delta.`"):
        source = run(session, f"SELECT * FROM {source_text}")
    else:
        source = session.table(source_text)
    source = source.alias(match["salias"] or source_text.split(".")[-1].strip("`"))
    parts = _top_level_split(match["rest"], "WHEN")
    builder = target.merge(source, parts[0])
    for part in parts[1:]:
        clause = CLAUSE.match(part)
        if not clause:
            raise AnalysisException(f"[PARSE_SYNTAX_ERROR] cannot read the MERGE clause {part!r}")
        kind = " ".join(clause["kind"].upper().split())
        action, cond = clause["action"].strip(), clause["cond"]
        upper = " ".join(action.upper().split())
        if kind == "MATCHED" or kind == "NOT MATCHED BY SOURCE":
            by_source = kind != "MATCHED"
            if upper == "DELETE":
                builder = (
                    builder.whenNotMatchedBySourceDelete(cond)
                    if by_source
                    else builder.whenMatchedDelete(cond)
                )
            elif upper == "UPDATE SET *" and not by_source:
                builder = builder.whenMatchedUpdateAll(cond)
            elif upper.startswith("UPDATE SET"):
                sets = dict(_assignment(a) for a in _split_commas(action.split(None, 2)[2]))
                builder = (
                    builder.whenNotMatchedBySourceUpdate(cond, sets)
                    if by_source
                    else builder.whenMatchedUpdate(cond, sets)
                )
            else:
                raise AnalysisException(f"[PARSE_SYNTAX_ERROR] cannot read the MERGE action {action!r}")
        else:
            if upper == "INSERT *":
                builder = builder.whenNotMatchedInsertAll(cond)
            else:
                insert = re.match(
                    r"INSERT\s*\((?P<cols>[^)]*)\)\s*VALUES\s*\((?P<vals>.*)\)\s*$", action, re.I | re.S
                )
                if not insert:
                    raise AnalysisException(f"[PARSE_SYNTAX_ERROR] cannot read the MERGE action {action!r}")
                cols = [c.strip() for c in _split_commas(insert["cols"])]
                vals = [v.strip() for v in _split_commas(insert["vals"])]
                builder = builder.whenNotMatchedInsert(cond, dict(zip(cols, vals, strict=True)))
    return builder.execute()


def as_table_columns(rows: DataFrame, table: DataFrame) -> DataFrame:
    """`rows` by position as the table's columns, cast to their types (what INSERT INTO does)."""
    from pyspark.sql import functions as F

    if len(rows.columns) != len(table.columns):
        raise AnalysisException(
            f"[INSERT_COLUMN_ARITY_MISMATCH] cannot write {len(rows.columns)} columns to a table of "
            f"{len(table.columns)}: {table.columns}"
        )
    return rows.toDF(*table.columns).select(
        *[F.col(f"`{f.name}`").cast(f.dataType).alias(f.name) for f in table.schema.fields]
    )


def _split_commas(text: str) -> list[str]:
    """`text` cut at each comma outside quotes and parentheses (the commas dropped)."""
    cuts = [i for i in _top_level(text) if text[i] == ","]
    return [
        text[start:stop] for start, stop in zip([0, *(c + 1 for c in cuts)], [*cuts, len(text)], strict=True)
    ]


def _assignment(text: str) -> tuple[str, str]:
    column, _, value = text.partition("=")
    return column.strip(), value.strip()


def _query(session: SparkSession, query: str, args: Any = None, **kwargs: Any) -> DataFrame:
    views: list[str] = []

    def view_of(frame: DataFrame) -> str:
        name = f"__databricks_local_{uuid.uuid4().hex[:12]}"
        frame.createOrReplaceTempView(name)
        views.append(name)
        return name

    def file_query(match: re.Match[str]) -> str:
        from databricks_local.spark_hooks import fs_for

        fmt, path = match["fmt"].lower(), match["path"]
        if fmt == "delta":
            return view_of(delta.read_path(session, fs_for(session).resolve(path)))
        return f"{match['fmt']}.`{fs_for(session).resolve(path)}`"

    text = FILE_QUERY.sub(file_query, query)
    try:
        for _ in range(MAX_RETRIES):
            try:
                with _quiet_query_errors():  # a Delta table Spark does not know is not an error worth a log
                    return _original(session, text, args, **kwargs)
            except AnalysisException as error:
                replaced = _replace_missing_table(session, text, error, view_of)
                if replaced is None:
                    raise
                text = replaced
        return _original(session, text, args, **kwargs)
    finally:
        for name in views:
            session.catalog.dropTempView(name)


@contextlib.contextmanager
def _quiet_query_errors() -> Iterator[None]:
    """PySpark logs every SQL analysis error with its context; the retried ones here are not the user's."""
    from pyspark.logger import PySparkLogger

    logger = PySparkLogger.getLogger("SQLQueryContextLogger")
    before = logger.disabled
    logger.disabled = True
    try:
        yield
    finally:
        logger.disabled = before


def _replace_missing_table(
    session: SparkSession, text: str, error: AnalysisException, view_of: Any
) -> str | None:
    """`text` with the missing relation Spark reported put by a view of the Delta table it names (or None)."""
    if (error.getCondition() or "") != "TABLE_OR_VIEW_NOT_FOUND":
        return None
    params = error.getMessageParameters() or {}
    contexts = error.getQueryContext() or []
    for context in contexts:
        fragment = context.fragment()
        start, stop = context.startIndex(), context.stopIndex()
        if not fragment or text[start : stop + 1] != fragment:
            continue
        name = fragment.split()[0] if fragment.split() else fragment
        if name.lower().startswith("delta.`"):
            continue
        if _names_delta_table(session, name):
            return text[:start] + view_of(delta.read(session, name)) + text[start + len(name) :]
    relation = params.get("relationName")
    if relation and _names_delta_table(session, relation):
        raise AnalysisException(f"cannot place the Delta table {relation} in this query locally: {error}")
    return None


def _names_delta_table(session: SparkSession, name: str) -> bool:
    try:
        return delta.is_delta_table(delta.table_path(session, name))
    except Exception:  # an unknown database or a name that is not a table's
        return False
