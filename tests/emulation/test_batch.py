"""The batch (and stream) emulation loop against a scriptable fake API: delivery, limits, resume, dead letters."""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from emulation.batch import run_batch
from emulation.config import Config, ConfigError
from emulation.generator import generate_tables
from emulation.payloads import record_value
from emulation.poster import DeliveryError, RetryPolicy
from emulation.runner import Checkpoint
from emulation.source_db import KEY, SourceDBError

from .conftest import FakeApi

TOPICS = {"pinterest_data": "testuser.pin", "geolocation_data": "testuser.geo", "user_data": "testuser.user"}
STREAMS = {
    t: f"streaming-testuser-{d}"
    for t, d in (("pinterest_data", "pin"), ("geolocation_data", "geo"), ("user_data", "user"))
}
FAST_RETRY = RetryPolicy(attempts=2, base=0.001, cap=0.002)


@pytest.fixture(scope="module")
def expected() -> dict[str, list[dict]]:
    """What the fixture database holds, as JSON values in index order."""
    tables = generate_tables(1200, seed=7)
    return {t: [record_value(r) for r in sorted(rows, key=lambda r: r[KEY[t]])] for t, rows in tables.items()}


def _keys(values: list[dict], table: str) -> Counter:
    return Counter(v[KEY[table]] for v in values)


def test_every_row_reaches_its_topic_in_batches(
    make_config: Callable[..., Config], fake_api: FakeApi, expected: dict[str, list[dict]]
) -> None:
    report = run_batch(make_config(), batch_size=200, workers=3, progress=False)
    for table, topic in TOPICS.items():
        assert sorted(fake_api.values[topic], key=lambda v: v[KEY[table]]) == expected[table]
        tr = report.tables[table]
        assert (tr.rows_read, tr.accepted, tr.dead_lettered, tr.destination) == (1200, 1200, 0, topic)
    assert report.accepted == 3600 and report.records_per_s > 0 and not report.interrupted
    assert (
        max(n for _m, _p, n in fake_api.requests) <= 202
    )  # batch size, plus a duplicate kept with its original
    assert report.requests == len(fake_api.requests) <= 3 * 7
    saved = json.loads(report.checkpoint.read_text())
    last = expected["pinterest_data"][-1]["index"]
    assert saved["tables"] == {t: {"last_index": last, "rows": 1200} for t in TOPICS}


def test_a_rerun_resumes_and_from_start_sends_again(
    make_config: Callable[..., Config], fake_api: FakeApi
) -> None:
    config = make_config()
    run_batch(config, progress=False)
    again = run_batch(config, progress=False)
    assert again.resumed and again.accepted == 0 and len(fake_api.values["testuser.pin"]) == 1200
    fresh = run_batch(config, from_start=True, progress=False)
    assert not fresh.resumed and fresh.accepted == 3600 and len(fake_api.values["testuser.pin"]) == 2400


def test_rows_limit_then_resume_delivers_each_row_once(
    make_config: Callable[..., Config], fake_api: FakeApi, expected: dict[str, list[dict]]
) -> None:
    config = make_config()
    first = run_batch(config, rows=250, batch_size=100, progress=False)
    assert all(250 <= t.accepted <= 252 for t in first.tables.values())
    n = first.tables["pinterest_data"].accepted
    assert sorted(fake_api.values["testuser.pin"], key=lambda v: v["index"]) == expected["pinterest_data"][:n]
    second = run_batch(config, rows=600, batch_size=100, progress=False)
    assert second.resumed
    for table, topic in TOPICS.items():
        got = fake_api.values[topic]
        assert (
            600 <= len(got) <= 602 and sorted(got, key=lambda v: v[KEY[table]]) == expected[table][: len(got)]
        )


def test_stop_saves_the_checkpoint_and_a_rerun_completes(
    make_config: Callable[..., Config], fake_api: FakeApi, expected: dict[str, list[dict]]
) -> None:
    config = make_config()
    stop = threading.Event()
    fake_api.request_hook = lambda n: stop.set() if n == 5 else None
    report = run_batch(config, batch_size=100, workers=2, stop=stop, progress=False)
    assert report.interrupted and 0 < report.accepted < 3600
    saved = Checkpoint.for_config(config)
    assert saved.load()
    for table in TOPICS:  # the checkpoint never claims more than arrived
        delivered = _keys(fake_api.values[TOPICS[table]], table)
        assert all(
            delivered[v[KEY[table]]] for v in expected[table] if v[KEY[table]] <= (saved.after(table) or -1)
        )
    fake_api.request_hook = None
    rest = run_batch(config, batch_size=100, progress=False)
    assert rest.resumed and not rest.interrupted
    for table, topic in TOPICS.items():
        # Nothing lost; at most the requests in flight at the stop were sent twice.
        assert set(_keys(fake_api.values[topic], table)) == set(_keys(expected[table], table))
        assert len(fake_api.values[topic]) - 1200 <= 2 * 100


def test_an_unreachable_api_stops_with_the_checkpoint_saved(
    make_config: Callable[..., Config], fake_api: FakeApi
) -> None:
    config = make_config()
    fake_api.request_hook = lambda n: fake_api.script(503, {"message": "down"}, times=50) if n == 6 else None
    with pytest.raises(DeliveryError, match=r"not delivered after 2 attempts.*rerun to resume"):
        run_batch(config, batch_size=100, workers=1, retry=FAST_RETRY, progress=False)
    saved = Checkpoint.for_config(config)
    assert saved.load() and sum(saved.rows(t) for t in TOPICS) == 600  # the six requests that got through
    fake_api.request_hook = None
    fake_api.scripted.clear()
    assert run_batch(config, batch_size=100, progress=False).accepted == 3600 - 600


def test_rejected_records_go_to_the_dead_letter_file(
    make_config: Callable[..., Config], fake_api: FakeApi
) -> None:
    config = make_config()
    fake_api.fail_records(lambda v: v.get("index") == 17, 40403)
    report = run_batch(config, rows=100, progress=False)
    assert report.tables["pinterest_data"].dead_lettered == 1 and report.dead_lettered == 1
    assert report.tables["pinterest_data"].accepted == report.tables["pinterest_data"].rows_read - 1
    (line,) = report.dead_letter_file.read_text().splitlines()
    letter = json.loads(line)
    assert letter["destination"] == "testuser.pin" and letter["value"]["index"] == 17
    assert letter["error_code"] == 40403 and "40403" in letter["reason"]
    assert report.dead_letter_file == config.state_dir / "deadletter" / "testuser-batch.jsonl"


def test_course_mode_posts_one_record_per_request_event_by_event(
    make_config: Callable[..., Config], fake_api: FakeApi, expected: dict[str, list[dict]]
) -> None:
    report = run_batch(make_config(), rows=20, mode="course", progress=False)
    assert report.accepted == 60 and report.requests == 60
    assert all(n == 1 for _m, _p, n in fake_api.requests)
    assert [p.rsplit(".", 1)[1] for _m, p, _n in fake_api.requests[:6]] == ["pin", "geo", "user"] * 2
    # The course's body: its datetimes as `YYYY-MM-DD HH:MM:SS` (json.dumps(default=str)), not ISO-8601.
    geo = fake_api.values["testuser.geo"]
    assert geo == [
        {**v, "timestamp": v["timestamp"].replace("T", " ")} for v in expected["geolocation_data"][:20]
    ]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", v["timestamp"]) for v in geo)
    assert fake_api.values["testuser.user"][0]["date_joined"] == str(
        dt.datetime.fromisoformat(expected["user_data"][0]["date_joined"])
    )
    assert len(fake_api.connections) == 60


def test_batched_mode_sends_iso_datetimes(make_config: Callable[..., Config], fake_api: FakeApi) -> None:
    run_batch(make_config(), rows=5, progress=False)
    assert all("T" in v["timestamp"] for v in fake_api.values["testuser.geo"])


def test_random_mode_sends_whole_random_events_without_checkpoint(
    make_config: Callable[..., Config], fake_api: FakeApi
) -> None:
    config = make_config()
    report = run_batch(config, rows=50, random_rows=True, seed=5, progress=False)
    assert report.accepted == 150 and report.checkpoint is None
    pins = [v["index"] for v in fake_api.values["testuser.pin"]]
    assert len(pins) == 50 and pins != sorted(pins)
    assert sorted(pins) == sorted(v["ind"] for v in fake_api.values["testuser.user"])
    assert not (config.state_dir / "checkpoints").exists()


def test_missing_api_and_missing_database_are_clear_errors(
    make_config: Callable[..., Config], tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="make local-up"):
        run_batch(make_config(api_url=None, api_key=None), progress=False)
    with pytest.raises(SourceDBError, match="make seed"):
        run_batch(make_config(db_url=f"sqlite:///{tmp_path / 'none.db'}"), progress=False)


def test_rate_limit_spreads_the_records_over_time(
    make_config: Callable[..., Config], fake_api: FakeApi
) -> None:
    report = run_batch(make_config(), rows=300, batch_size=100, rate=2000, progress=False)
    # 900 records at 2,000/s: the last of nine 100-record requests may only start 0.4 s after the first.
    assert 900 <= report.accepted <= 906 and report.elapsed >= 0.39


def test_a_record_failing_for_good_alone_in_its_request_does_not_stop_the_run(
    make_config: Callable[..., Config], fake_api: FakeApi
) -> None:
    """Issue 11 item 4: course mode sends one record per request, so a final error there is a 500 with offsets."""
    fake_api.fail_records(lambda v: v.get("index") == 17, 50002)  # e.g. larger than the broker accepts
    report = run_batch(make_config(), rows=30, mode="course", retry=FAST_RETRY, progress=False)
    assert report.dead_lettered == 1 and report.accepted == report.rows_read - 1 >= 89
    (letter,) = [json.loads(line) for line in report.dead_letter_file.read_text().splitlines()]
    assert (letter["value"]["index"], letter["status"], letter["error_code"]) == (17, 500, 50002)
    assert report.retries == 0 and not report.interrupted
    assert report.checkpoint is not None and json.loads(report.checkpoint.read_text())["tables"]
