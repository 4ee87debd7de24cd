"""The synthetic source tables: determinism, schema, dirty values at their rates, duplicates, distributions."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter

import pytest

from emulation import generator as g

ROWS = 20_000


@pytest.fixture(scope="module")
def tables() -> dict[str, list[dict]]:
    return g.generate_tables(ROWS, seed=11)


@pytest.fixture(scope="module")
def distinct_pins(tables: dict[str, list[dict]]) -> list[dict]:
    seen: dict[int, dict] = {}
    for row in tables["pinterest_data"]:
        seen.setdefault(row["index"], row)
    return list(seen.values())


def test_same_seed_same_tables_other_seed_other_tables() -> None:
    assert g.generate_tables(1500, seed=3) == g.generate_tables(1500, seed=3)
    assert g.generate_tables(1500, seed=3) != g.generate_tables(1500, seed=4)


def test_fewer_rows_are_a_prefix_and_chunking_changes_nothing() -> None:
    small, large = g.generate_tables(1234, seed=5), g.generate_tables(3000, seed=5)
    for table in g.TABLES:
        assert small[table] == large[table][:1234]
    chunks = list(g.iter_chunks(3000, seed=5, chunk_size=700))
    assert [len(c["user_data"]) for c in chunks] == [700, 700, 700, 700, 200]
    for table in g.TABLES:
        assert [r for c in chunks for r in c[table]] == large[table]


def test_rows_counts_rows_per_table_duplicates_included() -> None:
    assert {t: len(rows) for t, rows in g.generate_tables(2500, seed=1).items()} == dict.fromkeys(
        g.TABLES, 2500
    )
    assert g.generate_tables(0) == {t: [] for t in g.TABLES}
    with pytest.raises(ValueError, match="rows"):
        next(g.iter_chunks(-1))


def test_columns_in_order_with_their_types(tables: dict[str, list[dict]]) -> None:
    types = {
        "pinterest_data": dict.fromkeys(g.COLUMNS["pinterest_data"], str) | {"index": int, "downloaded": int},
        "geolocation_data": {
            "ind": int,
            "timestamp": dt.datetime,
            "latitude": float,
            "longitude": float,
            "country": str,
        },
        "user_data": {
            "ind": int,
            "first_name": str,
            "last_name": str,
            "age": int,
            "date_joined": dt.datetime,
        },
    }
    assert tuple(tables) == ("pinterest_data", "geolocation_data", "user_data")
    for table, rows in tables.items():
        for row in rows[:3000]:
            assert tuple(row) == g.COLUMNS[table]
            for column, kind in types[table].items():
                assert type(row[column]) is kind, (table, column, row[column])


def test_every_event_is_in_all_three_tables(tables: dict[str, list[dict]]) -> None:
    pin = [r["index"] for r in tables["pinterest_data"]]
    assert pin == [r["ind"] for r in tables["geolocation_data"]] == [r["ind"] for r in tables["user_data"]]


def test_duplicates_repeat_whole_events(tables: dict[str, list[dict]]) -> None:
    first: dict[int, int] = {}
    duplicates = 0
    for pos, row in enumerate(tables["pinterest_data"]):
        if row["index"] in first:
            duplicates += 1
            original = first[row["index"]]
            for table in g.TABLES:
                assert tables[table][pos] == tables[table][original]
        else:
            first[row["index"]] = pos
    assert 0.02 <= duplicates / ROWS <= 0.05
    # Original events keep distinct identities.
    originals = [tables["pinterest_data"][p]["unique_id"] for p in first.values()]
    assert len(set(originals)) == len(originals)


@pytest.mark.parametrize(("column", "value"), list(g.DIRTY_RATES))
def test_dirty_values_at_their_rates(distinct_pins: list[dict], column: str, value: str) -> None:
    n = len(distinct_pins)
    rate = g.DIRTY_RATES[(column, value)]
    observed = sum(1 for r in distinct_pins if r[column] == value)
    sigma = math.sqrt(n * rate * (1 - rate))
    assert abs(observed - n * rate) <= 4 * sigma + 1, (column, value, observed, n * rate)
    assert observed > 0


def test_placeholders_are_written_exactly_as_in_the_course_data(distinct_pins: list[dict]) -> None:
    values = {r["image_src"] for r in distinct_pins} | {r["tag_list"] for r in distinct_pins}
    assert "Image src error." in values
    assert "N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e" in values
    both = [r for r in distinct_pins if r["follower_count"] == "User Info Error"]
    assert both and all(r["poster_name"] == "User Info Error" for r in both)
    stories = [r for r in distinct_pins if r["description"] == "No description available Story format"]
    assert stories and all(r["is_image_or_video"] == "multi-video(story page format)" for r in stories)


def test_pin_values_are_realistic(distinct_pins: list[dict]) -> None:
    categories = Counter(r["category"] for r in distinct_pins)
    assert set(categories) == set(g.CATEGORIES)
    assert categories.most_common(1)[0][0] == "mens-fashion"
    assert {r["is_image_or_video"] for r in distinct_pins} == set(g.MEDIA_TYPES)
    assert {r["downloaded"] for r in distinct_pins} == {0, 1}
    for r in distinct_pins:
        assert r["save_location"] == f"Local save in /data/{r['category']}"
        assert re.fullmatch(
            r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", r["unique_id"]
        )
        assert r["image_src"] == "Image src error." or r["image_src"].startswith(
            "https://i.pinimg.com/originals/"
        )
        assert r["follower_count"] == "User Info Error" or re.fullmatch(
            r"[1-9]\d{0,2}[kM]|\d{1,3}", r["follower_count"]
        )
    followers = Counter(
        r["follower_count"][-1] for r in distinct_pins if r["follower_count"] != "User Info Error"
    )
    # Heavy tail: plain counts and thousands are common, millions exist but are rare.
    assert followers["k"] > followers["M"] > 0
    assert sum(v for k, v in followers.items() if k.isdigit()) > followers["M"]


def test_geo_and_user_values_in_range(tables: dict[str, list[dict]]) -> None:
    for geo in tables["geolocation_data"]:
        assert dt.datetime(2017, 1, 1) <= geo["timestamp"] < dt.datetime(2023, 1, 1)
        assert -90 <= geo["latitude"] <= 90 and -180 <= geo["longitude"] <= 180
        assert geo["country"] in g.COUNTRIES
    for user in tables["user_data"]:
        assert 18 <= user["age"] <= 80
        assert dt.datetime(2015, 1, 1) <= user["date_joined"] < dt.datetime(2021, 1, 1)
    years = Counter(r["timestamp"].year for r in tables["geolocation_data"])
    assert set(years) == set(range(2017, 2023))
    countries = Counter(r["country"] for r in tables["geolocation_data"])
    assert countries.most_common(1)[0][0] == "United States" and len(countries) > 30
    # Users post after they joined.
    for geo, user in zip(tables["geolocation_data"], tables["user_data"], strict=True):
        assert geo["timestamp"] >= user["date_joined"]


@pytest.mark.parametrize(
    ("count", "text"),
    [(0, "0"), (745, "745"), (999, "999"), (1000, "1k"), (12_345, "12k"), (2_400_000, "2M")],
)
def test_format_follower_count(count: int, text: str) -> None:
    assert g.format_follower_count(count) == text
