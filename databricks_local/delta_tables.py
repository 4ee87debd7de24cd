"""`delta.tables.DeltaTable` for local runs: the Delta Lake Python API of delta-spark, on the `deltalake` package.

Owns the `delta` / `delta.tables` modules a notebook imports (`install_module`): `DeltaTable.forPath`, `forName`,
`isDeltaTable`, `toDF`, `alias`, `history`, `detail`, `vacuum`, `delete`, `update` and `merge` with
`whenMatchedUpdate`/`UpdateAll`/`Delete`, `whenNotMatchedInsert`/`InsertAll` and
`whenNotMatchedBySourceUpdate`/`Delete`. Conditions and values are Spark SQL strings or Columns (a Column is turned
into its SQL text); delta-rs evaluates them, so they should stay within SQL both dialects share (comparisons,
arithmetic, `AND`/`OR`, literals, `IS NULL`). A MERGE's source is collected to Arrow on the driver (micro-batches
and course-sized tables; not for tables larger than the driver's memory).

Every operation is one Delta commit on the table's folder; a table read from `s3://` or a mount is uploaded back
to S3 after the commit (`dbfs.FileSystem.upload`).
"""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql.types import LongType, StructField, StructType

from databricks_local import delta
from databricks_local.delta import DeltaError


def column_sql(value: Any) -> str:
    """A condition or value as SQL text: a string as is, a Column as the SQL of its expression."""
    if isinstance(value, Column):
        jc = getattr(value, "_jc", None)
        if jc is None:
            raise DeltaError(f"cannot turn the Column {value!r} into SQL locally: pass a SQL string")
        try:
            return _node_sql(jc.node())  # Spark 4: the Column's ColumnNode
        except Exception:
            return str(jc.expr().sql())  # Spark 3
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "NULL"
    return repr(value)


#: The DataFrame `DeltaMergeBuilder.execute()` returns, as Delta Lake 4 does (a StructType: no DDL parse per MERGE).
MERGE_METRICS = StructType(
    [
        StructField(name, LongType())
        for name in ("num_affected_rows", "num_updated_rows", "num_deleted_rows", "num_inserted_rows")
    ]
)
_INFIX = {"=", "==", "!=", "<>", "<", ">", "<=", ">=", "<=>", "+", "-", "*", "/", "%", "and", "or"}
_POSTFIX = {"isnull": "IS NULL", "isnotnull": "IS NOT NULL"}


def _node_sql(node: Any) -> str:
    """SQL text of a Spark 4 ColumnNode (its own `sql` writes operators as functions: `=(id, 4)`)."""
    kind = node.getClass().getSimpleName()
    if kind != "UnresolvedFunction":
        return str(node.sql())
    name = str(node.functionName())
    args = node.arguments()
    parts = [_node_sql(args.apply(i)) for i in range(args.size())]
    if name.lower() in _INFIX and len(parts) == 2:
        op = "=" if name == "==" else name.upper()
        return f"({parts[0]} {op} {parts[1]})"
    if name in ("!", "not") and len(parts) == 1:
        return f"(NOT {parts[0]})"
    if name == "-" and len(parts) == 1:
        return f"(- {parts[0]})"
    if name.lower() in _POSTFIX and len(parts) == 1:
        return f"({parts[0]} {_POSTFIX[name.lower()]})"
    return f"{name}({', '.join(parts)})"


def _assignments(values: dict[str, Any] | None) -> dict[str, str]:
    """`{"t.col": expr}` -> `{"col": "expr"}` (delta-rs names the target's columns without alias)."""
    return {key.split(".")[-1].strip("`"): column_sql(v) for key, v in (values or {}).items()}


class DeltaTable:
    """A Delta table by path or by name (`delta.tables.DeltaTable` of Databricks)."""

    def __init__(
        self, session: SparkSession, path: Path, name: str | None = None, uri: str | None = None
    ) -> None:
        self.session, self.path, self.name = session, Path(path), name
        self.uri = uri  # the notebook's path (an s3:// or mounted one is uploaded after each commit)
        self.alias_name: str | None = None

    # --- finding tables ---------------------------------------------------------------------------------
    @classmethod
    def forPath(
        cls, sparkSession: SparkSession, path: str, hadoopConf: dict[str, str] | None = None
    ) -> DeltaTable:
        from databricks_local.spark_hooks import fs_for

        local = Path(fs_for(sparkSession).resolve(str(path)))
        if not delta.is_delta_table(local):
            raise DeltaError(f"[DELTA_MISSING_DELTA_TABLE] `{path}` is not a Delta table.")
        return cls(sparkSession, local, uri=str(path))

    @classmethod
    def forName(cls, sparkSession: SparkSession, tableOrViewName: str) -> DeltaTable:
        path = delta.table_path(sparkSession, tableOrViewName)
        if not delta.is_delta_table(path):
            raise DeltaError(f"[DELTA_MISSING_DELTA_TABLE] {tableOrViewName} is not a Delta table.")
        return cls(sparkSession, path, name=tableOrViewName)

    @classmethod
    def isDeltaTable(cls, sparkSession: SparkSession, identifier: str) -> bool:
        from databricks_local.spark_hooks import fs_for

        try:
            return delta.is_delta_table(fs_for(sparkSession).resolve(str(identifier)))
        except Exception:
            return False

    # --- reading ----------------------------------------------------------------------------------------
    def alias(self, aliasName: str) -> DeltaTable:
        other = DeltaTable(self.session, self.path, self.name, self.uri)
        other.alias_name = aliasName
        return other

    def toDF(self) -> DataFrame:
        df = delta.read_path(self.session, self.path)
        return df.alias(self.alias_name) if self.alias_name else df

    def history(self, limit: int | None = None) -> DataFrame:
        return self.session.createDataFrame(delta.history(self.path, limit), delta.HISTORY_SCHEMA)

    def detail(self) -> DataFrame:
        from deltalake import DeltaTable as RsTable

        table = RsTable(str(self.path))
        meta = table.metadata()
        files = table.get_add_actions(flatten=True).to_pydict()
        row = {
            "format": "delta",
            "id": meta.id,
            "name": self.name,
            "location": self.uri or f"file:{self.path}",
            "numFiles": len(files.get("path", [])),
            "sizeInBytes": int(sum(files.get("size_bytes", []) or [0])),
            "partitionColumns": list(meta.partition_columns),
            "minReaderVersion": table.protocol().min_reader_version,
            "minWriterVersion": table.protocol().min_writer_version,
        }
        schema = (
            "format string, id string, name string, location string, numFiles bigint, sizeInBytes bigint, "
            "partitionColumns array<string>, minReaderVersion int, minWriterVersion int"
        )
        return self.session.createDataFrame([row], schema)

    # --- changing ---------------------------------------------------------------------------------------
    def _rs(self) -> Any:
        from deltalake import DeltaTable as RsTable

        return RsTable(str(self.path))

    def _committed(self) -> None:
        if self.uri:
            from databricks_local.spark_hooks import fs_for

            fs_for(self.session).upload(self.uri, delete_missing=True)

    def delete(self, condition: str | Column | None = None) -> None:
        with delta.commit_lock(self.path):
            self._rs().delete(None if condition is None else column_sql(condition))
        self._committed()

    def update(self, condition: str | Column | None = None, set: dict[str, Any] | None = None) -> None:
        if not set:
            raise DeltaError("DeltaTable.update: set must name at least one column")
        with delta.commit_lock(self.path):
            self._rs().update(
                updates=_assignments(set), predicate=None if condition is None else column_sql(condition)
            )
        self._committed()

    def updateExpr(self, condition: str | None = None, set: dict[str, str] | None = None) -> None:
        self.update(condition, set)

    def vacuum(self, retentionHours: float | None = None) -> DataFrame:
        check = self.session.conf.get("spark.databricks.delta.retentionDurationCheck.enabled", "true")
        with delta.commit_lock(self.path):
            removed = self._rs().vacuum(
                retention_hours=None if retentionHours is None else int(retentionHours),
                dry_run=False,
                enforce_retention_duration=str(check).lower() != "false",
            )
        self._committed()
        return self.session.createDataFrame([(str(p),) for p in removed], "path string")

    def merge(self, source: DataFrame, condition: str | Column) -> DeltaMergeBuilder:
        return DeltaMergeBuilder(self, source, column_sql(condition))


class DeltaMergeBuilder:
    """`DeltaTable.merge(...)`: the clauses, run by one delta-rs MERGE on `execute()`."""

    def __init__(self, target: DeltaTable, source: DataFrame, condition: str) -> None:
        self.target, self.source, self.condition = target, source, condition
        self.clauses: list[tuple[str, Any, str | None]] = []

    def _add(self, kind: str, values: Any, condition: Any) -> DeltaMergeBuilder:
        self.clauses.append((kind, values, None if condition is None else column_sql(condition)))
        return self

    def whenMatchedUpdate(
        self, condition: Any = None, set: dict[str, Any] | None = None
    ) -> DeltaMergeBuilder:
        return self._add("matched_update", _assignments(set), condition)

    def whenMatchedUpdateAll(self, condition: Any = None) -> DeltaMergeBuilder:
        return self._add("matched_update_all", None, condition)

    def whenMatchedDelete(self, condition: Any = None) -> DeltaMergeBuilder:
        return self._add("matched_delete", None, condition)

    def whenNotMatchedInsert(
        self, condition: Any = None, values: dict[str, Any] | None = None
    ) -> DeltaMergeBuilder:
        return self._add("not_matched_insert", _assignments(values), condition)

    def whenNotMatchedInsertAll(self, condition: Any = None) -> DeltaMergeBuilder:
        return self._add("not_matched_insert_all", None, condition)

    def whenNotMatchedBySourceUpdate(
        self, condition: Any = None, set: dict[str, Any] | None = None
    ) -> DeltaMergeBuilder:
        return self._add("not_matched_by_source_update", _assignments(set), condition)

    def whenNotMatchedBySourceDelete(self, condition: Any = None) -> DeltaMergeBuilder:
        return self._add("not_matched_by_source_delete", None, condition)

    def withSchemaEvolution(self) -> DeltaMergeBuilder:
        self.schema_evolution = True
        return self

    def execute(self) -> DataFrame:
        if not self.clauses:
            raise DeltaError(
                "[DELTA_MERGE_MISSING_WHEN] There must be at least one WHEN clause in a MERGE statement."
            )
        import pyarrow as pa

        table = self.target._rs()
        rows = self.source.toArrow()
        target_schema = delta._arrow_schema(table)
        if [f.name for f in rows.schema] == [f.name for f in target_schema]:
            rows = rows.cast(target_schema)  # Spark's nullability may differ from the table's
        else:
            wanted = {f.name: f for f in target_schema}
            rows = pa.table(
                {
                    name: col.cast(wanted[name].type) if name in wanted else col
                    for name, col in zip(rows.column_names, rows.columns, strict=True)
                }
            )
        source_alias = getattr(self.source, "_local_alias", None) or "source"
        target_alias = self.target.alias_name or "target"
        with delta.commit_lock(self.target.path):
            merger = table.merge(
                rows,
                self.condition,
                source_alias=source_alias,
                target_alias=target_alias,
                merge_schema=getattr(self, "schema_evolution", False),
            )
            for kind, values, condition in self.clauses:
                if kind == "matched_update":
                    merger = merger.when_matched_update(values, condition)
                elif kind == "matched_update_all":
                    merger = merger.when_matched_update_all(condition)
                elif kind == "matched_delete":
                    merger = merger.when_matched_delete(condition)
                elif kind == "not_matched_insert":
                    merger = merger.when_not_matched_insert(values, condition)
                elif kind == "not_matched_insert_all":
                    merger = merger.when_not_matched_insert_all(condition)
                elif kind == "not_matched_by_source_update":
                    merger = merger.when_not_matched_by_source_update(values, condition)
                else:
                    merger = merger.when_not_matched_by_source_delete(condition)
            metrics = merger.execute()
        self.target._committed()
        inserted = int(metrics.get("num_target_rows_inserted", 0))
        updated = int(metrics.get("num_target_rows_updated", 0))
        deleted = int(metrics.get("num_target_rows_deleted", 0))
        return self.target.session.createDataFrame(
            [(inserted + updated + deleted, updated, deleted, inserted)], MERGE_METRICS
        )


def _classic_dataframe() -> type:
    """The DataFrame class local Spark really instantiates (Spark 4 splits classic and Connect DataFrames)."""
    try:
        from pyspark.sql.classic.dataframe import DataFrame as ClassicDataFrame

        return ClassicDataFrame
    except ImportError:  # pragma: no cover - Spark 3.x
        return DataFrame


_ORIGINAL_DF_ALIAS = _classic_dataframe().alias


def _df_alias(self: DataFrame, alias: str) -> DataFrame:
    """`df.alias(name)`, remembering the name (the MERGE needs the source's alias)."""
    aliased = _ORIGINAL_DF_ALIAS(self, alias)
    aliased._local_alias = alias  # type: ignore[attr-defined]
    return aliased


def install_module() -> None:
    """Make `from delta.tables import DeltaTable` (and `import delta`) give this module's classes."""
    _classic_dataframe().alias = _df_alias  # type: ignore[method-assign]
    package = sys.modules.get("delta")
    if package is None or not hasattr(package, "tables"):
        package = types.ModuleType("delta")
        package.__path__ = []  # type: ignore[attr-defined]
        tables = types.ModuleType("delta.tables")
        package.tables = tables  # type: ignore[attr-defined]
        sys.modules["delta"] = package
        sys.modules["delta.tables"] = tables
    tables = sys.modules["delta.tables"]
    tables.DeltaTable = DeltaTable  # type: ignore[attr-defined]
    tables.DeltaMergeBuilder = DeltaMergeBuilder  # type: ignore[attr-defined]
