"""The stream path through the (fake) API: PutRecords at most 500 per request, or the course's PutRecord calls."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from emulation.config import Config
from emulation.generator import generate_tables
from emulation.payloads import record_value
from emulation.source_db import KEY
from emulation.stream import DEFAULT_STREAM_BATCH, run_stream

from .conftest import FakeApi

STREAMS = {
    "pinterest_data": "streaming-testuser-pin",
    "geolocation_data": "streaming-testuser-geo",
    "user_data": "streaming-testuser-user",
}


@pytest.fixture(scope="module")
def expected() -> dict[str, list[dict]]:
    tables = generate_tables(1200, seed=7)
    return {t: [record_value(r) for r in sorted(rows, key=lambda r: r[KEY[t]])] for t, rows in tables.items()}


def test_stream_path_puts_every_row_into_its_stream(
    make_config: Callable[..., Config], fake_api: FakeApi, expected: dict[str, list[dict]]
) -> None:
    fake_api.fail_records(lambda v: v.get("ind") == 40, "ProvisionedThroughputExceededException", times=1)
    config = make_config()
    report = run_stream(config, rows=700, batch_size=500, progress=False)
    for table, stream in STREAMS.items():
        got = fake_api.values[stream]
        assert (
            sorted(got, key=lambda v: v[KEY[table]]) == expected[table][: len(got)] and 700 <= len(got) <= 702
        )
    assert max(n for _m, _p, n in fake_api.requests) <= 500 and report.retries == 1
    assert report.checkpoint == config.state_dir / "checkpoints" / "testuser-stream.json"
    with pytest.raises(ValueError, match="at most 500"):
        run_stream(config, batch_size=501)


def test_stream_requests_default_to_100_records(
    make_config: Callable[..., Config], fake_api: FakeApi
) -> None:
    report = run_stream(make_config(), rows=250, progress=False)
    sizes = [n for _m, _p, n in fake_api.requests]
    assert DEFAULT_STREAM_BATCH == 100 and max(sizes) <= 102 and len(sizes) == report.requests >= 9


def test_course_mode_puts_one_record_per_request_with_the_course_body(
    make_config: Callable[..., Config], fake_api: FakeApi, expected: dict[str, list[dict]]
) -> None:
    report = run_stream(make_config(), rows=10, mode="course", progress=False)
    assert report.accepted == report.requests == 30 and report.mode == "course"
    assert len(fake_api.connections) == 30  # a new connection per request, as the course's requests.request
    paths = [p for p, _b in fake_api.bodies]
    assert paths[:6] == [f"/streams/{STREAMS[t]}/record" for t in STREAMS] * 2  # event by event
    for table, stream in STREAMS.items():
        bodies = [b for p, b in fake_api.bodies if p == f"/streams/{stream}/record"]
        key = KEY[table]
        course = [{k: _course(v) for k, v in row.items()} for row in expected[table][:10]]
        assert bodies == [
            {"StreamName": stream, "Data": row, "PartitionKey": str(row[key])} for row in course
        ]
    assert fake_api.values["streaming-testuser-geo"][0]["timestamp"][10] == " "


def _course(value: object) -> object:
    """An ISO-8601 datetime string as the course sends it (`str(datetime)`); anything else as it is."""
    if isinstance(value, str) and len(value) == 19 and value[10] == "T" and value[4] == "-":
        return value.replace("T", " ")
    return value
