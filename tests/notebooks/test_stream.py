"""The stream path end to end on the real local stack and local Spark: events posted through the API Gateway's
Kinesis routes (the emulator) are read by `notebooks/stream.py` (through `run_stream` and the local `kinesis`
source) and land, cleaned, in the three Delta stream tables.

Every test posts to streams of its own user id (`local_stack/stack_user.py`, two shards per stream) and writes
its tables and checkpoints under its own directory, so the demo's data stays untouched. The tables are compared,
every column of every row, with the independent plain-Python cleaning (`notebook_reference.clean`) of exactly the
events posted. The runs build on each other (first run, a restart from the checkpoints after more events, a
re-post of old events): module fixtures run them in that order and keep what each run left.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from databricks_local.delta import read_arrow
from emulation.generator import generate_tables
from emulation.names import DATASETS, SOURCE_TABLES, PipelineNames
from emulation.payloads import record_value
from emulation.source_db import KEY, seed_database
from emulation.stream import StreamReport
from emulation.stream import run_stream as post_events
from local_stack.notebook_runner.stream import StreamRunResult, run_stream
from local_stack.stack_user import StackUser
from tests.notebooks.notebook_reference import clean

pytestmark = [pytest.mark.integration, pytest.mark.spark]

SOURCE_ROWS = 400
SEED = 31
FIRST = 200  # events posted before the first run
SECOND = 300  # events posted in all before the restart (100 more)
REPOSTED = 60  # events posted again from the start
SHARDS = 2
#: Records put straight into the pin stream that the notebook must reject (not JSON; JSON without `index`).
BAD_RECORDS = [b"not json", json.dumps({"title": "no index"}).encode()]
#: The stream tables' columns and Arrow types, as the batch path's cleaned tables (docs/data-contracts.md 3.6).
SCHEMA = {
    "pin": {
        "ind": "int64",
        "unique_id": "string",
        "title": "string",
        "description": "string",
        "follower_count": "int32",
        "poster_name": "string",
        "tag_list": "string",
        "is_image_or_video": "string",
        "image_src": "string",
        "save_location": "string",
        "category": "string",
    },
    "geo": {
        "ind": "int64",
        "country": "string",
        "coordinates": "list<element: double>",
        "timestamp": "timestamp[us, tz=UTC]",
    },
    "user": {"ind": "int64", "user_name": "string", "age": "int32", "date_joined": "timestamp[us, tz=UTC]"},
}
WAIT_SECONDS = 90  # bound of every poll below


@dataclass
class Run:
    """One step: what the emulator posted, what `run_stream` returned, and the tables as they were after it."""

    posted: StreamReport
    result: StreamRunResult
    tables: dict[str, dict[int, dict]]  # dataset -> ind -> row, read with deltalake right after the run
    rows: dict[str, int]  # dataset -> rows of its table (== len(tables[dataset]) when no ind is there twice)
    streamed: dict[str, list[dict]] | None = None  # dataset -> the records its stream held before the run

    def input_rows(self, dataset: str) -> int:
        """Records the dataset's query read, from its progress reports."""
        query = self.result.namespace["QUERIES"][dataset]
        return sum(progress["numInputRows"] for progress in query.recentProgress)


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, list[dict]]]:
    """A seeded SQLite source database and its rows per source table, in key order, as the emulator posts them."""
    url = f"sqlite:///{tmp_path_factory.mktemp('stream-source') / 'source.db'}"
    seed_database(url, rows=SOURCE_ROWS, seed=SEED)
    rows = {
        table: sorted((json.loads(json.dumps(record_value(r))) for r in values), key=lambda r: r[KEY[table]])
        for table, values in generate_tables(SOURCE_ROWS, SEED).items()
    }
    return url, rows


@pytest.fixture(scope="module")
def user(
    stack: Any, source: tuple[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StackUser]:
    with StackUser(
        stack,
        source[0],
        tmp_path_factory.mktemp("stream-state"),
        prefix="nbst",
        topics=False,
        streams=True,
        shards=SHARDS,
    ) as made:
        yield made


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("stream-out")


def read_tables(result: StreamRunResult) -> tuple[dict[str, dict[int, dict]], dict[str, int]]:
    """The stream tables through `deltalake`: rows by `ind` (timestamps as naive UTC, as the reference), and the
    number of rows of each."""

    names = PipelineNames(result.namespace["USER_ID"])
    tables, counts = {}, {}
    for dataset in DATASETS:
        rows = read_arrow(result.table_paths[names.table(dataset)]).to_pylist()
        tables[dataset] = {row["ind"]: {k: _naive_utc(v) for k, v in row.items()} for row in rows}
        counts[dataset] = len(rows)
    return tables, counts


def _naive_utc(value: Any) -> Any:
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def posted_rows(
    report: StreamReport, rows: dict[str, list[dict]], before: dict[str, list[dict]] | None = None
) -> dict[str, list[dict]]:
    """The source rows a run of the emulator posted: each table's next rows in key order after those `before`."""
    posted = {}
    for table in SOURCE_TABLES.values():
        first = len(before[table]) if before else 0
        posted[table] = rows[table][first : first + report.tables[table].accepted]
    return posted


def expected_tables(*posted: dict[str, list[dict]]) -> dict[str, dict[int, dict]]:
    """The reference cleaning of every event posted so far."""
    return clean({t: [r for batch in posted for r in batch[t]] for t in SOURCE_TABLES.values()})


@pytest.fixture(scope="module")
def first_run(user: StackUser, source: tuple[str, Any], out: Path, spark: Any) -> Run:
    """FIRST events through the API Gateway (and two unusable records straight into the pin stream), then one
    `availableNow` run of the notebook."""
    posted = post_events(user.config, rows=FIRST, progress=False)
    assert posted.dead_lettered == 0
    streamed = {d: [data for _key, data in user.read_stream(d)] for d in DATASETS}
    kinesis = user.kinesis()
    for i, data in enumerate(BAD_RECORDS):
        kinesis.put_record(StreamName=user.config.names.stream("pin"), Data=data, PartitionKey=f"bad-{i}")
    result = run_stream(user.config.user_id, out, spark=spark, namespace={})
    return Run(posted, result, *read_tables(result), streamed)


@pytest.fixture(scope="module")
def second_run(first_run: Run, user: StackUser, out: Path, spark: Any) -> Run:
    """More events (the emulator resumes after its checkpoint), then a run from the same checkpoints."""
    posted = post_events(user.config, rows=SECOND, progress=False)
    assert posted.resumed and posted.dead_lettered == 0
    result = run_stream(user.config.user_id, out, spark=spark, namespace={})
    return Run(posted, result, *read_tables(result))


@pytest.fixture(scope="module")
def repost_run(second_run: Run, user: StackUser, out: Path, spark: Any) -> Run:
    """The first REPOSTED events posted again (the emulator from the start), then another run."""
    posted = post_events(user.config, rows=REPOSTED, from_start=True, progress=False)
    assert posted.dead_lettered == 0
    result = run_stream(user.config.user_id, out, spark=spark, namespace={})
    return Run(posted, result, *read_tables(result))


def test_posted_events_appear_cleaned_in_the_three_delta_tables(
    first_run: Run, source: tuple[str, dict[str, list[dict]]], user: StackUser
) -> None:
    posted = posted_rows(first_run.posted, source[1])
    assert all(len(rows) >= FIRST for rows in posted.values())
    assert first_run.streamed is not None
    for dataset, table in SOURCE_TABLES.items():
        # What the streams held is what the emulator says it posted: the reference's input is exact.
        assert sorted(first_run.streamed[dataset], key=lambda r: r[KEY[table]]) == posted[table]
    expected = expected_tables(posted)
    for dataset in DATASETS:
        got = first_run.tables[dataset]
        assert first_run.rows[dataset] == len(got), f"{dataset}: one row per ind"
        assert len(got) < len(posted[SOURCE_TABLES[dataset]])  # the duplicates posted are not rows
        assert got == expected[dataset], f"{dataset}: every column of every row as the reference cleaning"

    kinesis = user.kinesis()
    for dataset in DATASETS:  # the events were spread over both shards of each stream, and all were read
        stream = user.config.names.stream(dataset)
        shards = kinesis.list_shards(StreamName=stream)["Shards"]
        assert len(shards) == SHARDS
        for shard in shards:
            iterator = kinesis.get_shard_iterator(
                StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            assert kinesis.get_records(ShardIterator=iterator, Limit=1)["Records"], shard["ShardId"]

    names = user.config.names
    counts = {names.table(d): len(expected[d]) for d in DATASETS}
    assert first_run.result.table_rows == counts
    assert first_run.result.namespace["STREAM_ROWS"] == counts  # what the notebook's exit reports
    assert first_run.result.rejected_rows == {"pin": len(BAD_RECORDS), "geo": 0, "user": 0}
    for dataset in DATASETS:  # one micro-batch read every record of both shards, the rejected ones too
        extra = len(BAD_RECORDS) if dataset == "pin" else 0
        assert (
            first_run.input_rows(dataset) == first_run.posted.tables[SOURCE_TABLES[dataset]].accepted + extra
        )


def test_rejected_records_are_kept_aside(first_run: Run) -> None:

    prefix = PipelineNames(first_run.result.namespace["USER_ID"]).table_prefix
    path = first_run.result.out / "tables" / f"{prefix}_pin_stream_rejected"
    rows = read_arrow(path).to_pylist()
    assert sorted(r["_corrupt_record"] or "" for r in rows) == ["", "not json"]
    assert [r["title"] for r in rows if r["_corrupt_record"] is None] == ["no index"]


def test_a_restart_from_the_checkpoints_reads_only_the_new_records(
    first_run: Run, second_run: Run, source: tuple[str, dict[str, list[dict]]]
) -> None:
    before = posted_rows(first_run.posted, source[1])
    new = posted_rows(second_run.posted, source[1], before)
    for dataset, table in SOURCE_TABLES.items():
        assert second_run.posted.tables[table].accepted >= SECOND - FIRST
        assert second_run.input_rows(dataset) == len(new[table])  # only the new records were read
        inds = {r[KEY[table]] for r in new[table]} - set(first_run.tables[dataset])
        assert inds and second_run.rows[dataset] == first_run.rows[dataset] + len(inds)
        assert second_run.rows[dataset] == len(second_run.tables[dataset])  # one row per ind
    assert second_run.tables == expected_tables(before, new)


def test_a_reposted_event_does_not_become_a_second_row(second_run: Run, repost_run: Run) -> None:
    for dataset, table in SOURCE_TABLES.items():
        assert repost_run.posted.tables[table].accepted >= REPOSTED
        assert repost_run.input_rows(dataset) == repost_run.posted.tables[table].accepted  # read again...
        assert repost_run.rows[dataset] == second_run.rows[dataset]  # ...and no row added
        assert repost_run.tables[dataset] == second_run.tables[dataset]  # or changed
    assert repost_run.result.table_rows == second_run.result.table_rows


def test_the_tables_are_plain_delta_with_the_cleaned_schema(first_run: Run) -> None:
    from deltalake import DeltaTable

    names = PipelineNames(first_run.result.namespace["USER_ID"])
    for dataset in DATASETS:
        path = first_run.result.table_paths[names.table(dataset)]
        assert (
            DeltaTable(str(path)).protocol().min_reader_version == 1
        )  # any Delta reader, Databricks included
        schema = read_arrow(path).schema
        assert {field.name: str(field.type) for field in schema} == SCHEMA[dataset]
        assert schema.names == list(SCHEMA[dataset])  # the column order of docs/data-contracts.md 3.6


def test_processing_time_trigger_writes_rows_until_the_queries_are_stopped(
    stack: Any, source: tuple[str, dict[str, list[dict]]], spark: Any, tmp_path: Path
) -> None:

    with StackUser(stack, source[0], tmp_path / "state", prefix="nbpt", topics=False, streams=True) as user:
        namespace: dict[str, Any] = {}
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["result"] = run_stream(
                    user.config.user_id,
                    tmp_path / "out",
                    trigger="processingTime",
                    interval="1 second",
                    spark=spark,
                    namespace=namespace,
                )
            except BaseException as error:  # reported by the test thread
                outcome["error"] = error

        thread = threading.Thread(target=run, name="run-stream", daemon=True)
        thread.start()
        try:
            _wait(lambda: "error" in outcome or len(namespace.get("QUERIES", {})) == 3, "the queries start")
            assert "error" not in outcome, outcome.get("error")
            assert all(q.isActive for q in namespace["QUERIES"].values())
            posted = post_events(user.config, rows=50, progress=False)
            expected = expected_tables(posted_rows(posted, source[1]))
            paths = {d: tmp_path / "out" / "tables" / user.config.names.table(d) for d in DATASETS}

            def visible() -> bool:
                return all(read_arrow(paths[d]).num_rows == len(expected[d]) for d in DATASETS)

            _wait(lambda: "error" in outcome or visible(), "the posted events reach the tables")
            assert "error" not in outcome, outcome.get("error")
        finally:
            for query in spark.streams.active:
                query.stop()
            thread.join(WAIT_SECONDS)
        assert not thread.is_alive(), "run_stream returns once its queries are stopped"
        assert "error" not in outcome, outcome.get("error")
        result = outcome["result"]
        assert result.table_rows == {user.config.names.table(d): len(expected[d]) for d in DATASETS}
        assert read_tables(result) == (expected, {d: len(expected[d]) for d in DATASETS})


def test_missing_streams_are_a_clear_error(tmp_path: Path) -> None:
    from databricks_local.lake import LakeError

    with pytest.raises(
        LakeError, match=r"Kinesis stream streaming-nostream\w+-pin does not exist at .*USER_ID"
    ):
        run_stream(f"nostream{time.time_ns()}", tmp_path)
    assert not (tmp_path / "checkpoints").exists()


def _wait(condition: Callable[[], bool], what: str) -> None:
    """Poll `condition` until it holds; fail after WAIT_SECONDS naming `what`."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {WAIT_SECONDS} s waiting until {what}")
        time.sleep(0.2)


def test_the_runner_gives_the_caller_its_session_back(first_run: Run, spark: Any) -> None:
    """The runner's one shuffle partition for the stream queries and its database do not outlive the run."""
    from local_stack.notebook_runner.stream import SHUFFLE_PARTITIONS, STREAM_SHUFFLE_PARTITIONS

    assert STREAM_SHUFFLE_PARTITIONS == "1"
    assert spark.conf.get(SHUFFLE_PARTITIONS) == "2"  # the tests' session (docs/data-contracts.md 5)
    assert spark.catalog.currentDatabase() == "default"
