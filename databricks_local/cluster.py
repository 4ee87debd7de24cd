"""One local "cluster": one SparkContext per process, a `SparkSession` per attached notebook, streaming policy.

As on a Databricks cluster, each notebook a command runs gets its own session (`newSession()` of the cluster's
root session): tables, the `global_temp` views and the SparkContext are shared, temp views, SQL conf and the
current database are the notebook's own (a `%run` notebook shares its caller's session). While a notebook runs
(`Cluster.attach`), its session is the active and default one, so `SparkSession.builder.getOrCreate()` and
`SparkSession.getActiveSession()` inside it return that session, and `df.display()` uses the notebook's
`display`.

Streaming (`StreamingPolicy`): with `available_now`, every query a notebook starts (`DataStreamWriter.start`,
`toTable`) runs with the `availableNow` trigger and is waited for until it has drained its source, so a notebook
written for a continuous stream runs to its end; otherwise the queries run as written and the runner waits for
them at the end of the notebook (until they stop or Ctrl-C).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.streaming import DataStreamWriter

from databricks_local.session import local_spark

_local = (
    threading.local()
)  # .display: the running notebook's display; .bypass: a query the runtime starts itself


class StreamingPolicy:
    """How the streaming queries notebooks start are run (one per process: the writer hooks are class-level)."""

    available_now = False


class Cluster:
    """The root session notebooks' sessions are made from, and what the notebooks of one run share."""

    def __init__(self, session: SparkSession | None = None, available_now: bool = False) -> None:
        self.root = session or local_spark()
        self.available_now = available_now
        self.task_values: dict[str, dict[str, Any]] = {}
        self.interrupted = False
        install_hooks()

    def handle_ctrl_c(self) -> None:
        """On SIGINT (main thread only): cancel the running Spark jobs, note it, raise KeyboardInterrupt.

        A SIGINT that lands in a Spark call surfaces as a Py4J error rather than KeyboardInterrupt; `interrupted`
        tells the runner that it was Ctrl-C all the same."""
        import signal

        def on_interrupt(signum: int, frame: Any) -> None:
            self.interrupted = True
            with suppress(Exception):
                self.root.sparkContext.cancelAllJobs()
            raise KeyboardInterrupt

        signal.signal(signal.SIGINT, on_interrupt)

    def new_session(self) -> SparkSession:
        """A notebook's own session: shared tables and global temp views, its own temp views and SQL conf."""
        return self.root.newSession()

    @contextmanager
    def attach(self, session: SparkSession, display: Callable[..., None] | None = None) -> Iterator[None]:
        """While the block runs, `session` is the active and default session (and `display` df.display's)."""
        install_hooks()
        jclass = SparkSession._get_j_spark_session_class(session._jvm)
        saved = (
            SparkSession._instantiatedSession,
            SparkSession._activeSession,
            jclass.getActiveSession(),
            jclass.getDefaultSession(),
            getattr(_local, "display", None),
            StreamingPolicy.available_now,
        )
        SparkSession._instantiatedSession = session
        SparkSession._activeSession = session
        jclass.setActiveSession(session._jsparkSession)
        jclass.setDefaultSession(session._jsparkSession)
        _local.display = display
        StreamingPolicy.available_now = self.available_now
        try:
            yield
        finally:
            SparkSession._instantiatedSession, SparkSession._activeSession = saved[0], saved[1]
            for option, setter, clearer in (
                (saved[2], jclass.setActiveSession, jclass.clearActiveSession),
                (saved[3], jclass.setDefaultSession, jclass.clearDefaultSession),
            ):
                if option.isDefined():
                    setter(option.get())
                else:
                    clearer()
            _local.display = saved[4]
            StreamingPolicy.available_now = saved[5]

    def wait_for_streams(self, session: SparkSession) -> None:
        """Block until every streaming query of `session` has stopped (Ctrl-C stops them)."""
        try:
            for query in list(session.streams.active):
                while not query.awaitTermination(1):  # short calls: Ctrl-C lands between them
                    pass
        except KeyboardInterrupt:
            stop_streams(session)
            raise
        except Exception:
            if self.interrupted:
                stop_streams(session)
                raise KeyboardInterrupt from None
            raise

    def stop_streams(self, session: SparkSession) -> None:
        stop_streams(session)


def stop_streams(session: SparkSession) -> None:
    """Stop every streaming query of `session`."""
    for query in list(session.streams.active):
        with suppress(Exception):
            query.stop()


@contextmanager
def runtime_query() -> Iterator[None]:
    """Queries started in the block (`display` of a stream) are left as the runtime wrote them."""
    previous = getattr(_local, "bypass", False)
    _local.bypass = True
    try:
        yield
    finally:
        _local.bypass = previous


# --- class-level hooks ---------------------------------------------------------------------------------------
def install_hooks() -> None:
    """Idempotent: wrap the streaming writer's start methods and `DataFrame.display`."""
    for name in ("start", "toTable"):
        current = getattr(DataStreamWriter, name)
        if not getattr(current, "_local_runtime", False):
            setattr(DataStreamWriter, name, _streaming_start(current))
    if not getattr(getattr(DataFrame, "display", None), "_local_runtime", False):
        DataFrame.display = _df_display  # type: ignore[attr-defined]


def _streaming_start(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def start(self: DataStreamWriter, *args: Any, **kwargs: Any) -> Any:
        if not StreamingPolicy.available_now or getattr(_local, "bypass", False):
            return original(self, *args, **kwargs)
        self.trigger(availableNow=True)
        with runtime_query():  # a hook of another layer calling start() again must not wait twice
            query = original(self, *args, **kwargs)
        if hasattr(query, "awaitTermination"):
            query.awaitTermination()
        return query

    start._local_runtime = True  # type: ignore[attr-defined]
    return start


def _df_display(self: DataFrame, *args: Any, **kwargs: Any) -> None:
    """`df.display()`: the running notebook's `display(df)`."""
    display = getattr(_local, "display", None)
    if display is None:
        from databricks_local.display import make_display

        display = make_display()
    display(self, *args, **kwargs)


_df_display._local_runtime = True  # type: ignore[attr-defined]
