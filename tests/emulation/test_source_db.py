"""The source database: SQLite round trip, keyset pages, the course's random reads, errors; MariaDB round trip."""

from __future__ import annotations

import datetime as dt
import itertools
import os
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from emulation.generator import TABLES, generate_tables
from emulation.source_db import KEY, SourceDBError, SourceReader, make_engine, seed_database
from tests.support.requirements import missing


def _read_all(reader: SourceReader, page_size: int = 500) -> dict[str, list[dict]]:
    return {t: [r for page in reader.pages(t, page_size=page_size) for r in page] for t in TABLES}


def _sorted(tables: dict[str, list[dict]]) -> dict[str, list[dict]]:
    return {t: sorted(rows, key=lambda r: r[KEY[t]]) for t, rows in tables.items()}


def test_sqlite_round_trip_returns_the_generated_rows(source_db: tuple[str, int]) -> None:
    url, rows = source_db
    with SourceReader(url) as reader:
        assert {t: reader.count(t) for t in TABLES} == dict.fromkeys(TABLES, rows)
        assert _read_all(reader) == _sorted(generate_tables(rows, seed=7))


@pytest.mark.parametrize("page_size", [1, 7, 333])
def test_pages_follow_index_order_and_never_split_an_index(
    source_db: tuple[str, int], page_size: int
) -> None:
    url, rows = source_db
    with SourceReader(url) as reader:
        pages = list(reader.pages("geolocation_data", page_size=page_size))
    flat = [r["ind"] for p in pages for r in p]
    assert len(flat) == rows and flat == sorted(flat)
    for before, after in itertools.pairwise(pages):
        assert before[-1]["ind"] < after[0]["ind"]


def test_pages_after_an_index_and_up_to_a_limit(source_db: tuple[str, int]) -> None:
    url, _rows = source_db
    with SourceReader(url) as reader:
        everything = [r for p in reader.pages("pinterest_data") for r in p]
        cut = everything[99]["index"]
        rest = [r for p in reader.pages("pinterest_data", after=cut, page_size=64) for r in p]
        assert rest == [r for r in everything if r["index"] > cut]
        first = [r for p in reader.pages("pinterest_data", page_size=64, limit=150) for r in p]
    # The limit may only be passed to keep a duplicate with its original.
    assert 150 <= len(first) <= 152 and first == everything[: len(first)]
    assert first[-1]["index"] != everything[len(first)]["index"]


def test_random_events_are_whole_events_and_repeat_for_a_seed(source_db: tuple[str, int]) -> None:
    url, _rows = source_db
    with SourceReader(url) as reader:
        events = list(reader.random_events(40, seed=9))
        again = list(reader.random_events(40, seed=9))
    assert events == again and len(events) == 40
    for event in events:
        assert set(event) == set(TABLES)
        assert (
            event["pinterest_data"]["index"] == event["geolocation_data"]["ind"] == event["user_data"]["ind"]
        )
    assert len({e["pinterest_data"]["index"] for e in events}) > 30


def test_seeding_replaces_existing_tables(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nested' / 'src.db'}"
    assert seed_database(url, rows=300, seed=1) == dict.fromkeys(TABLES, 300)
    assert seed_database(url, rows=120, seed=2) == dict.fromkeys(TABLES, 120)
    with SourceReader(url) as reader:
        assert [reader.count(t) for t in TABLES] == [120, 120, 120]
        assert _read_all(reader) == _sorted(generate_tables(120, seed=2))


def test_missing_sqlite_file_says_make_seed(tmp_path: Path) -> None:
    with pytest.raises(SourceDBError, match="make seed"):
        SourceReader(f"sqlite:///{tmp_path / 'absent.db'}")
    assert not (tmp_path / "absent.db").exists()


def test_database_without_the_tables_says_make_seed(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}", must_exist=False)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE other (x INTEGER)"))
    engine.dispose()
    with pytest.raises(
        SourceDBError, match=r"no table pinterest_data, geolocation_data, user_data.*make seed"
    ):
        SourceReader(f"sqlite:///{tmp_path / 'empty.db'}")


def test_bad_urls_are_clear_errors() -> None:
    with pytest.raises(SourceDBError, match="not a database URL"):
        make_engine("not a url")
    with pytest.raises(SourceDBError, match="cannot reach"):
        SourceReader("mysql+pymysql://u:secret@127.0.0.1:1/db")


@pytest.mark.mariadb
def test_mariadb_round_trip_with_the_rds_column_types() -> None:
    url = os.environ.get("PIPELINE_TEST_MYSQL_URL")
    if not url:
        missing("PIPELINE_TEST_MYSQL_URL is not set (.ci/run starts MariaDB and sets it)")
    assert seed_database(url, rows=700, seed=3) == dict.fromkeys(TABLES, 700)
    engine = make_engine(url)
    columns = {
        t: {c["name"]: type(c["type"]).__name__.upper() for c in inspect(engine).get_columns(t)}
        for t in TABLES
    }
    engine.dispose()
    assert list(columns["pinterest_data"])[:2] == ["index", "unique_id"]
    assert columns["geolocation_data"] == {
        "ind": "INTEGER",
        "timestamp": "DATETIME",
        "latitude": "DOUBLE",
        "longitude": "DOUBLE",
        "country": "VARCHAR",
    }
    assert columns["user_data"]["age"] == "INTEGER" and columns["user_data"]["date_joined"] == "DATETIME"
    with SourceReader(url) as reader:
        assert _read_all(reader, page_size=128) == _sorted(generate_tables(700, seed=3))
        event = next(reader.random_events(1, seed=1))
        assert event["pinterest_data"]["index"] == event["user_data"]["ind"]


def test_a_datetime_the_source_cannot_parse_is_read_as_stored(tmp_path: Path) -> None:
    """An invalid date in a lax source is read as its text (sent as the source holds it), not a failed read."""
    url = f"sqlite:///{tmp_path / 'dates.db'}"
    seed_database(url, rows=3, seed=1)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE geolocation_data SET timestamp = '2020-13-45 99:99:99' "
                "WHERE ind = (SELECT MIN(ind) FROM geolocation_data)"
            )
        )
        conn.execute(text("UPDATE user_data SET date_joined = 'yesterday'"))
    engine.dispose()
    with SourceReader(url) as reader:
        (geo,) = reader.pages("geolocation_data", page_size=10)
        (users,) = reader.pages("user_data", page_size=10)
    assert geo[0]["timestamp"] == "2020-13-45 99:99:99" and isinstance(geo[-1]["timestamp"], dt.datetime)
    assert {u["date_joined"] for u in users} == {"yesterday"}
