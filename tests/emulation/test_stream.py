"""The stream path: every row into its Kinesis stream through the (fake) API, at most 500 per request."""

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
