"""The emulator against the real local stack: API Gateway (LocalStack) -> REST Proxy -> Tansu, and -> Kinesis.

Each test posts to topics (and streams) of its own user id, created for it and deleted afterwards
(`local_stack/stack_user.py`), so the demo's topics and lake stay untouched; what arrived is read back from the
broker with `assign()` and from Kinesis with boto3.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from emulation.batch import run_batch
from emulation.generator import generate_tables
from emulation.payloads import record_value
from emulation.poster import DeliveryError, RetryPolicy
from emulation.source_db import KEY, seed_database
from emulation.stream import run_stream
from local_stack.stack_user import StackUser

pytestmark = pytest.mark.integration

EVENTS = 1000
DATASET_OF = {"pinterest_data": "pin", "geolocation_data": "geo", "user_data": "user"}


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, list[dict]]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('integration') / 'source.db'}"
    seed_database(url, rows=EVENTS, seed=2024)
    expected = {
        t: [json.loads(json.dumps(record_value(r))) for r in rows]
        for t, rows in generate_tables(EVENTS, 2024).items()
    }
    return url, expected


@pytest.fixture
def new_user(stack: Any, source: tuple[str, Any], tmp_path: Path) -> Iterator[Callable[..., StackUser]]:
    """`new_user(**options)`: a fresh user id on the stack (see StackUser), cleaned up after the test."""
    made: list[StackUser] = []

    def make(**options: Any) -> StackUser:
        made.append(StackUser(stack, source[0], tmp_path / "state", **options))
        return made[-1]

    yield make
    for user in made:
        user.close()


def _assert_all_arrived(user: StackUser, expected: dict[str, list[dict]]) -> None:
    for table, dataset in DATASET_OF.items():
        got = user.read_topic(dataset, len(expected[table]))
        key = KEY[table]
        assert Counter(v[key] for v in got) == Counter(v[key] for v in expected[table])
        by_key = {v[key]: v for v in expected[table]}
        assert all(v == by_key[v[key]] for v in got)
    distinct = {v["index"] for v in expected["pinterest_data"]}
    assert len(distinct) < EVENTS  # the source has duplicate events; deduplicated, every event is there once


def test_every_event_reaches_the_topics_through_the_api_gateway(
    source: tuple[str, dict[str, list[dict]]], new_user: Callable[..., StackUser]
) -> None:
    user = new_user()
    report = run_batch(user.config, batch_size=200, progress=False)
    assert report.accepted == 3 * EVENTS and report.dead_lettered == 0
    _assert_all_arrived(user, source[1])


def test_rows_then_resume_delivers_each_row_exactly_once(
    source: tuple[str, dict[str, list[dict]]], new_user: Callable[..., StackUser]
) -> None:
    user = new_user()
    first = run_batch(user.config, rows=300, batch_size=100, progress=False)
    assert all(300 <= t.accepted <= 302 for t in first.tables.values())
    rest = run_batch(user.config, batch_size=100, progress=False)
    assert rest.resumed and first.accepted + rest.accepted == 3 * EVENTS
    _assert_all_arrived(user, source[1])


def test_rejected_records_are_dead_lettered_and_a_wrong_key_stops(
    source: tuple[str, dict[str, list[dict]]], new_user: Callable[..., StackUser]
) -> None:
    config = new_user(topics=False).config  # the broker has no such topics: 404
    report = run_batch(config, rows=5, progress=False)
    assert report.accepted == 0 and report.dead_lettered == 15
    letters = [json.loads(line) for line in report.dead_letter_file.read_text().splitlines()]
    assert {(d["status"], d["error_code"]) for d in letters} == {(404, 40401)}
    assert sorted(d["value"]["index"] for d in letters if "index" in d["value"]) == sorted(
        v["index"] for v in source[1]["pinterest_data"][:5]
    )
    wrong_key = new_user(topics=False, api_key="not-the-key").config
    with pytest.raises(DeliveryError, match="HTTP 403"):
        run_batch(wrong_key, rows=5, progress=False, retry=RetryPolicy(attempts=2, base=0.01))


def test_stream_path_puts_every_row_into_kinesis(
    source: tuple[str, dict[str, list[dict]]], new_user: Callable[..., StackUser]
) -> None:
    user = new_user(topics=False, streams=True)
    report = run_stream(user.config, rows=40, batch_size=20, progress=False)
    assert report.dead_lettered == 0 and report.accepted == report.rows_read
    for table, dataset in DATASET_OF.items():
        records = user.read_stream(dataset)
        key = KEY[table]
        got = [data for _pk, data in records]
        assert sorted(got, key=lambda v: v[key]) == sorted(source[1][table], key=lambda v: v[key])[: len(got)]
        assert len(got) == report.tables[table].accepted >= 40
        assert [pk for pk, _data in records] == [str(v[key]) for v in got]


def test_stream_course_mode_puts_the_course_body_through_put_record(
    source: tuple[str, dict[str, list[dict]]], new_user: Callable[..., StackUser]
) -> None:
    """`--mode course`: PUT /streams/<name>/record, one record each; Kinesis holds the course's `Data`."""
    user = new_user(topics=False, streams=True)
    report = run_stream(user.config, rows=4, mode="course", progress=False)
    assert report.accepted == report.requests == report.rows_read >= 12 and report.dead_lettered == 0
    for table, dataset in DATASET_OF.items():
        key = KEY[table]
        rows = sorted(generate_tables(EVENTS, 2024)[table], key=lambda r: r[key])
        course = [json.loads(json.dumps(record_value(r, course=True))) for r in rows]
        records = user.read_stream(dataset)
        assert [data for _pk, data in records] == course[: len(records)]
        assert [pk for pk, _data in records] == [str(v[key]) for v in course[: len(records)]]
        assert len(records) == report.tables[table].accepted
    (_pk, geo), *_ = user.read_stream("geo")
    assert geo["timestamp"][10] == " " and "T" not in geo["timestamp"]  # the course's datetime form
