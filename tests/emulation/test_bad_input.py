"""Bad source rows through the real API (issue 11, bad input "as source rows"): each arrives intact or is
dead-lettered with a clear reason, and the run goes on.

Rows: NULL in every column but the join key (the key is NOT NULL in the source schema), emoji and other non-ASCII
text, a 1 MB and a 2 MB string, invalid dates (`2020-13-45 99:99:99`, MySQL's zero date, `yesterday`, ''), negative
ages, non-numeric follower counts; next to ordinary rows. What happens to each (asserted below):

- NULLs, emoji, invalid dates (sent as the text the source holds), negative ages, non-numeric follower counts:
  arrive intact on both paths;
- the 1 MB string (a 1,000,0xx-byte record): batch path dead-lettered, `error_code 50002: ... Message size too
  large` (over the broker's 1,000,000-byte limit); stream path arrives intact (under Kinesis' 1 MiB);
- the 2 MB string: batch path dead-lettered with 50002 as above; stream path dead-lettered, `HTTP 400: ...
  InvalidArgumentException ... Data object is too large` (its PutRecords call is split until the record is alone).

The topics are read back with a Kafka consumer: the S3 sink writes each record value to the lake unchanged
(tests/local_stack/test_s3_sink.py), and it sinks only the stack's own user id, while each test here posts to a
fresh user id. The cleaning's answer to these values (nulls, `follower_count` to null, dates to null, ages kept)
is the notebooks' part (docs/data-contracts.md 3.6, tests/notebooks).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from emulation.batch import run_batch
from emulation.payloads import record_value
from emulation.source_db import KEY, TABLES, make_engine, write_tables
from emulation.stream import run_stream
from local_stack.stack_user import StackUser

pytestmark = pytest.mark.integration

DATASET_OF = {"pinterest_data": "pin", "geolocation_data": "geo", "user_data": "user"}
MB1, MB2 = 900_003, 900_004  # the events with the 1 MB and the 2 MB string
BAD_DATES = {  # event -> (geo timestamp, user date_joined), written as text the way a lax source holds them
    900_005: ("2020-13-45 99:99:99", "0000-00-00 00:00:00"),
    900_006: ("yesterday", ""),
}


def _event(index: int, **columns: Any) -> dict[str, dict[str, Any]]:
    """One event: every column of every table NULL except the keys, then `columns` (`pin_title=...`)."""
    rows = {table: dict.fromkeys(t.columns.keys()) for table, t in TABLES.items()}
    for table in rows:
        rows[table][KEY[table]] = index
    prefixes = {"pin": "pinterest_data", "geo": "geolocation_data", "user": "user_data"}
    for name, value in columns.items():
        dataset, column = name.split("_", 1)
        rows[prefixes[dataset]][column] = value
    return rows


EVENTS = [
    _event(  # an ordinary event
        900_000,
        pin_unique_id="c9d5a0b2-0000-4000-8000-000000000000",
        pin_title="Cozy cabin",
        pin_follower_count="12k",
        pin_downloaded=1,
        pin_category="travel",
        geo_timestamp=dt.datetime(2020, 5, 17, 8, 30, 0),
        geo_latitude=-33.9,
        geo_longitude=18.4,
        geo_country="South Africa",
        user_first_name="Ana",
        user_last_name="Lee",
        user_age=31,
        user_date_joined=dt.datetime(2016, 1, 2, 3, 4, 5),
    ),
    _event(900_001),  # NULL in every column
    _event(
        900_002,
        pin_title="😀🎉 Ünïcödé — 漢字 \u200d👩‍🚀",
        pin_description='quotes " and \\ backslash, tab\tnewline\n',
        pin_poster_name="👩‍🚀 Zoë",
        pin_tag_list="😀,🎉",
        geo_country="Côte d\u2019Ivoire 🇨🇮",
        user_first_name="Zoë",
        user_last_name="Ø'Brien 😀",
    ),
    _event(MB1, pin_description="x" * 1_000_000, user_first_name="one MB"),
    _event(MB2, pin_title="y" * 2_000_000, geo_country="two MB"),
    _event(900_005, pin_follower_count="lots", user_age=-5),
    _event(900_006, pin_follower_count="1.2.3k", user_age=-2_147_483_648),
    _event(900_007, pin_follower_count="-5", user_age=0),
]


@pytest.fixture(scope="module")
def bad_source(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, list[dict]]]:
    """The source database, and each table's rows as the emulator should send them (batched mode)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('bad-input') / 'source.db'}"
    engine = make_engine(url, must_exist=False)
    try:
        chunk = {table: [event[table] for event in EVENTS] for table in TABLES}
        write_tables(engine, iter([chunk]))
        with engine.begin() as conn:
            for index, (timestamp, joined) in BAD_DATES.items():
                conn.execute(
                    text("UPDATE geolocation_data SET timestamp = :v WHERE ind = :i"),
                    {"v": timestamp, "i": index},
                )
                conn.execute(
                    text("UPDATE user_data SET date_joined = :v WHERE ind = :i"), {"v": joined, "i": index}
                )
    finally:
        engine.dispose()
    expected = {table: [dict(event[table]) for event in EVENTS] for table in TABLES}
    for row in expected["geolocation_data"]:
        row["timestamp"] = BAD_DATES.get(row["ind"], (row["timestamp"],))[0]
    for row in expected["user_data"]:
        row["date_joined"] = BAD_DATES.get(row["ind"], (None, row["date_joined"]))[1]
    return url, expected


@pytest.fixture
def user(
    stack: Any, bad_source: tuple[str, Any], tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[StackUser]:
    with StackUser(stack, bad_source[0], tmp_path / "state", prefix="bad", **request.param) as made:
        yield made


def _json(row: dict[str, Any], course: bool = False) -> dict[str, Any]:
    return json.loads(json.dumps(record_value(row, course=course)))


def _letters(path: Path | None) -> dict[tuple[str, int], dict]:
    assert path is not None
    lines = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return {(d["destination"], d["value"].get("index", d["value"].get("ind"))): d for d in lines}


@pytest.mark.parametrize("user", [{"topics": True}], indirect=True)
@pytest.mark.parametrize("mode", ["batched", "course"])
def test_bad_rows_reach_the_topics_intact_or_are_dead_lettered_with_the_reason(
    user: StackUser, bad_source: tuple[str, dict[str, list[dict]]], mode: str
) -> None:
    """Batched: the oversized records fail inside a 200 with per-record errors. Course mode: each is alone in
    its request, so the REST Proxy answers 500 (every record failed) with `offsets`: dead-lettered, the run goes
    on (issue 11 item 4, on the real stack)."""
    course = mode == "course"
    report = run_batch(user.config, mode=mode, batch_size=5, progress=False)
    assert not report.interrupted and report.rows_read == 3 * len(EVENTS)
    assert (report.accepted, report.dead_lettered) == (3 * len(EVENTS) - 2, 2)
    letters = _letters(report.dead_letter_file)
    pin_topic = user.config.names.topic("pin")
    assert set(letters) == {(pin_topic, MB1), (pin_topic, MB2)}
    for letter in letters.values():
        assert letter["error_code"] == 50002 and "Message size too large" in letter["reason"]
        assert letter["status"] == (500 if course else 200)
    for table, dataset in DATASET_OF.items():
        want = [_json(row, course) for row in bad_source[1][table]]
        if table == "pinterest_data":
            want = [row for row in want if row["index"] not in (MB1, MB2)]
        got = user.read_topic(dataset, len(want))
        assert sorted(got, key=lambda v: v[KEY[table]]) == want  # intact: every value as the source holds it
    geo = {v["ind"]: v for v in user.read_topic("geo", len(EVENTS))}
    assert geo[900_005]["timestamp"] == "2020-13-45 99:99:99" and geo[900_006]["timestamp"] == "yesterday"
    assert geo[900_000]["timestamp"] == ("2020-05-17 08:30:00" if course else "2020-05-17T08:30:00")


@pytest.mark.parametrize("user", [{"topics": False, "streams": True}], indirect=True)
def test_bad_rows_reach_kinesis_intact_or_are_dead_lettered_with_the_reason(
    user: StackUser, bad_source: tuple[str, dict[str, list[dict]]]
) -> None:
    report = run_stream(user.config, batch_size=100, progress=False)
    assert (report.accepted, report.dead_lettered) == (3 * len(EVENTS) - 1, 1)
    (letter,) = _letters(report.dead_letter_file).values()
    assert letter["value"]["index"] == MB2 and letter["status"] == 400
    assert "InvalidArgumentException" in letter["reason"] and "too large" in letter["reason"]
    for table, dataset in DATASET_OF.items():
        want = [
            _json(row)
            for row in bad_source[1][table]
            if not (table == "pinterest_data" and row["index"] == MB2)
        ]
        got = [data for _key, data in user.read_stream(dataset)]
        assert sorted(got, key=lambda v: v[KEY[table]]) == want
    pins = {v["index"]: v for _k, v in user.read_stream("pin")}
    assert len(pins[MB1]["description"]) == 1_000_000 and pins[900_002]["title"].startswith("😀🎉")
