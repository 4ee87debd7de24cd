"""`display` and `displayHTML` of a local notebook run: readable text tables on the console.

`display(x)` prints the first `DISPLAY_ROWS` rows of a Spark DataFrame (`df.display()` too), a pandas frame, a list
of rows, dicts or named tuples (what `dbutils.fs.ls` and `dbutils.fs.mounts` return) or of plain values; a
streaming DataFrame is shown as a snapshot of what has arrived: its rows go to a memory sink with the `availableNow`
trigger, which stops once the source is drained (and after `STREAM_SNAPSHOT_SECONDS` at the latest), never a hang.
`displayHTML(html)` prints the text of the HTML without its tags.
"""

from __future__ import annotations

import html as html_module
import re
import uuid
from collections.abc import Callable
from typing import Any

from pyspark.sql import DataFrame, Row

DISPLAY_ROWS = 20
STREAM_SNAPSHOT_SECONDS = 300


def render(obj: Any, rows: int = DISPLAY_ROWS) -> str:
    """The text `display` prints for `obj`."""
    import pandas as pd

    if isinstance(obj, DataFrame):
        if obj.isStreaming:
            return stream_snapshot(obj, rows)
        frame = obj.limit(rows + 1).toPandas()
        if not len(frame):
            return f"(no rows) columns: {', '.join(obj.columns)}"
        return _frame_text(frame, rows)
    if isinstance(obj, pd.DataFrame):
        return (
            _frame_text(obj, rows) if len(obj) else f"(no rows) columns: {', '.join(map(str, obj.columns))}"
        )
    if isinstance(obj, pd.Series):
        return _frame_text(obj.to_frame(), rows)
    if isinstance(obj, list | tuple) and not _is_named_tuple(obj):
        if not obj:
            return "(no rows)"
        return _frame_text(pd.DataFrame([_record(item) for item in obj[: rows + 1]]), rows)
    return str(obj)


def stream_snapshot(df: DataFrame, rows: int = DISPLAY_ROWS, timeout: float = STREAM_SNAPSHOT_SECONDS) -> str:
    """What a streaming DataFrame holds right now: drained once into a memory table, then shown."""
    from pyspark.errors import AnalysisException

    from databricks_local.cluster import runtime_query

    session = df.sparkSession
    name = f"display_{uuid.uuid4().hex[:12]}"
    writer = df.writeStream.format("memory").queryName(name).trigger(availableNow=True)
    with runtime_query():  # this query keeps its own trigger and timeout, whatever --available-now says
        try:
            query = writer.outputMode("append").start()
        except AnalysisException as error:  # an aggregation: only the complete result can be shown
            if "append" not in str(error).lower():
                raise
            query = writer.outputMode("complete").start()
    try:
        if not query.awaitTermination(timeout):
            query.stop()
        if query.exception() is not None:
            raise query.exception()
        return "(stream snapshot) " + render(session.table(name), rows)
    finally:
        if query.isActive:
            query.stop()
        session.catalog.dropTempView(name)


def make_display(rows: int = DISPLAY_ROWS, printer: Callable[[str], Any] = print) -> Callable[..., None]:
    """A `display` that prints `render(obj)` (keyword arguments of Databricks' `display` are accepted)."""

    def display(obj: Any = None, *args: Any, **kwargs: Any) -> None:
        if obj is None:
            return
        printer(render(obj, rows))

    return display


def make_display_html(printer: Callable[[str], Any] = print) -> Callable[[str], None]:
    """A `displayHTML` that prints the HTML's text, tags removed."""

    def displayHTML(html: str) -> None:
        text = re.sub(r"<(script|style)\b.*?</\1>", " ", str(html), flags=re.S | re.I)
        text = html_module.unescape(re.sub(r"<[^>]+>", " ", text))
        printer("[HTML] " + re.sub(r"\s+", " ", text).strip())

    return displayHTML


def _frame_text(frame: Any, rows: int) -> str:
    more = f"\n... (first {rows} rows shown)" if len(frame) > rows else ""
    return frame.head(rows).to_string(index=False) + more


def _is_named_tuple(obj: Any) -> bool:
    return isinstance(obj, tuple) and hasattr(obj, "_fields")


def _record(item: Any) -> dict[str, Any]:
    if isinstance(item, Row):
        return item.asDict()
    if _is_named_tuple(item):
        return dict(item._asdict())
    if isinstance(item, dict):
        return item
    if isinstance(item, tuple | list):
        return {f"_{i + 1}": value for i, value in enumerate(item)}
    return {"value": item}
