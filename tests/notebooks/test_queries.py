"""The nine answers of the batch notebook's question cells (docs/data-contracts.md 3.7), run as they are with
the summary of `notebooks/pinterest_pipeline/queries.py`, on small hand-written cleaned tables.

The tables cover ties, missing joins (pins without geo or user rows and the reverse), null keys and values,
boundary ages 17/18/24/25/35/36/50/51 and boundary years (post 2017/2018/2022/2023, join 2014/2015/2020/2021).
Every expected row below was worked out by hand from these tables.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.notebooks.notebook_cells import answer_questions

pytestmark = pytest.mark.spark

PIN_SCHEMA = (
    "ind bigint, unique_id string, title string, description string, follower_count int, poster_name string,"
    " tag_list string, is_image_or_video string, image_src string, save_location string, category string"
)
GEO_SCHEMA = "ind bigint, country string, coordinates array<double>, timestamp timestamp"
USER_SCHEMA = "ind bigint, user_name string, age int, date_joined timestamp"

# ind: (category, poster_name, follower_count)
PINS = {
    1: ("art", "Ann", 100),
    2: ("art", "Bob", 300),
    3: ("beauty", "Cat", 300),
    4: ("beauty", "Bob", 300),  # Bob again with the same count: one row in top_user_by_country
    5: ("travel", "Dan", None),
    6: (None, "Eve", 500),
    7: ("art", "Fay", 50),  # no geo row, no user row
    8: ("travel", "Gus", 1000),
    9: ("travel", "Hal", 1000),
    10: ("beauty", "Ian", 20),
}
# ind: (country, post year)
GEOS = {
    1: ("Chile", 2018),
    2: ("Chile", 2022),
    3: ("Chile", 2017),
    4: ("Chile", 2023),
    5: ("Peru", 2019),
    6: ("Peru", 2019),
    8: ("Peru", 2020),
    9: ("Spain", 2020),
    10: (None, 2021),
    11: ("Spain", 2020),  # no pin
}
# ind: (age, join year)
USERS = {
    1: (17, 2015),
    2: (18, 2015),
    3: (24, 2016),
    4: (25, 2020),
    5: (35, 2021),
    6: (36, 2014),
    8: (50, 2017),
    9: (51, 2018),
    10: (None, 2019),
    12: (40, 2019),  # no pin
}

EXPECTED = {
    "popular_category_by_country": {
        ("Chile", "art", 2),
        ("Chile", "beauty", 2),
        ("Peru", "travel", 2),
        ("Spain", "travel", 1),
    },
    "popular_category_by_year": {
        (2018, "art", 1),
        (2019, "travel", 1),
        (2020, "travel", 2),
        (2021, "beauty", 1),
        (2022, "art", 1),
    },
    "top_user_by_country": {
        ("Chile", "Bob", 300),
        ("Chile", "Cat", 300),
        ("Peru", "Gus", 1000),
        ("Spain", "Hal", 1000),
    },
    "top_country_by_followers": {("Peru", 1000), ("Spain", 1000)},
    "popular_category_by_age_group": {
        ("18-24", "art", 1),
        ("18-24", "beauty", 1),
        ("25-35", "beauty", 1),
        ("25-35", "travel", 1),
        ("36-50", "travel", 1),
        ("+50", "travel", 1),
    },
    "median_followers_by_age_group": {("18-24", 300), ("25-35", 300), ("36-50", 500), ("+50", 1000)},
    "users_joined_by_year": {(2015, 2), (2016, 1), (2017, 1), (2018, 1), (2019, 2), (2020, 1)},
    "median_followers_by_join_year": {
        (2015, 100),
        (2016, 300),
        (2017, 1000),
        (2018, 1000),
        (2019, 20),
        (2020, 300),
    },
    "median_followers_by_join_year_and_age_group": {
        ("18-24", 2015, 300),
        ("18-24", 2016, 300),
        ("25-35", 2020, 300),
        ("36-50", 2017, 1000),
        ("+50", 2018, 1000),
    },
}


@pytest.fixture(scope="module")
def tables(spark: Any) -> dict[str, Any]:
    pin = [
        (i, f"u{i}", "t", "d", n, poster, "tags", "image", "src", "/data/x", cat)
        for i, (cat, poster, n) in PINS.items()
    ]
    geo = [(i, c, [1.0, 2.0], dt.datetime(y, 6, 1, 12)) for i, (c, y) in GEOS.items()]
    user = [(i, f"User {i}", age, dt.datetime(y, 3, 1)) for i, (age, y) in USERS.items()]
    return {
        "pin": spark.createDataFrame(pin, PIN_SCHEMA),
        "geo": spark.createDataFrame(geo, GEO_SCHEMA),
        "user": spark.createDataFrame(user, USER_SCHEMA),
    }


@pytest.fixture(scope="module")
def results(spark: Any, nb: dict[str, Any], tables: dict[str, Any]) -> dict[str, Any]:
    return answer_questions(spark, nb, tables)[0]


def test_the_nine_results_have_the_design_names_and_columns(
    nb: dict[str, Any], results: dict[str, Any]
) -> None:
    # RESULT_NAMES / RESULT_COLUMNS are docs/data-contracts.md 3.7 (tests/databricks_deploy/test_result_names.py)
    assert tuple(results) == nb["RESULT_NAMES"]
    assert {name: tuple(df.columns) for name, df in results.items()} == nb["RESULT_COLUMNS"]


@pytest.mark.parametrize("name", list(EXPECTED))
def test_result_rows(results: dict[str, Any], name: str) -> None:
    rows = [tuple(r) for r in results[name].collect()]
    assert len(rows) == len(set(rows)), "rows must be distinct"
    assert set(rows) == EXPECTED[name]


def test_age_groups_come_in_age_order(results: dict[str, Any]) -> None:
    assert [r.age_group for r in results["median_followers_by_age_group"].collect()] == [
        "18-24",
        "25-35",
        "36-50",
        "+50",
    ]


def test_median_is_the_smallest_value_with_half_at_or_below(spark: Any, nb: dict[str, Any]) -> None:
    rows = (
        [("a", v) for v in (4, 1, 3, 2)]
        + [("b", v) for v in (9, 1, 5)]
        + [("c", 7)]
        + [("d", v) for v in (2, 2, 8, 9)]
    )
    df = spark.createDataFrame(rows, "g string, follower_count int").groupBy("g", "follower_count").count()
    medians = {
        r.g: r.median_follower_count for r in nb["median_of_counts"](df, ["g"], count_col="count").collect()
    }
    assert medians == {"a": 2, "b": 5, "c": 7, "d": 2}


def test_median_of_counts_weighs_each_value_by_its_count(spark: Any, nb: dict[str, Any]) -> None:
    # g=a stands for 1,1,1,5,9 (median 1); g=b for 2,2,7,7 (median 2: two of four at or below); g=c for 4 x3, 8 x4.
    rows = [("a", 1, 3), ("a", 5, 1), ("a", 9, 1), ("b", 7, 2), ("b", 2, 2), ("c", 8, 4), ("c", 4, 3)]
    df = spark.createDataFrame(rows, "g string, follower_count int, pins long")
    medians = {r.g: r.median_follower_count for r in nb["median_of_counts"](df, ["g"]).collect()}
    assert medians == {"a": 1, "b": 2, "c": 8}


def test_empty_tables_give_empty_results_with_the_columns(spark: Any, nb: dict[str, Any]) -> None:
    empty = {
        "pin": spark.createDataFrame([], PIN_SCHEMA),
        "geo": spark.createDataFrame([], GEO_SCHEMA),
        "user": spark.createDataFrame([], USER_SCHEMA),
    }
    results, summary = answer_questions(spark, nb, empty)
    assert tuple(results) == nb["RESULT_NAMES"]
    for name, columns in nb["RESULT_COLUMNS"].items():
        assert tuple(results[name].columns) == columns
        assert results[name].count() == 0
    summary.unpersist()


def test_summary_is_cached_in_one_partition_and_released(nb: dict[str, Any], tables: dict[str, Any]) -> None:
    summary = nb["query_summary"](tables)
    assert summary.is_cached
    assert summary.rdd.getNumPartitions() == 1  # the questions on it need no shuffle
    assert summary.columns == ["facet", *nb["FACET_KEYS"], "pins"]
    summary.unpersist()
    assert not summary.is_cached


def test_summary_counts_each_pin_once_per_facet(nb: dict[str, Any], tables: dict[str, Any]) -> None:
    summary = nb["query_summary"](tables)
    pins = {
        r.facet: r.pins for r in summary.groupBy("facet").agg({"pins": "sum"}).toDF("facet", "pins").collect()
    }
    assert pins == {"category": len(PINS), "followers": len(PINS), "poster": len(PINS)}
    # pin 7 has neither a geo nor a user row: its keys from those rows are null, its own are kept
    row = summary.where("facet = 'poster' AND poster_name = 'Fay'").collect()
    assert [(r.country, r.follower_count, r.pins) for r in row] == [(None, 50, 1)]
    summary.unpersist()


def test_without_caching_the_summary_is_used_as_it_is(nb: dict[str, Any]) -> None:
    class NoPersist:  # what Databricks serverless compute does with df.cache()
        is_cached = False

        def cache(self) -> Any:
            raise RuntimeError("[NOT_SUPPORTED_WITH_SERVERLESS] PERSIST TABLE is not supported")

    df = NoPersist()
    assert nb["cached"](df) is df
