"""Every cleaning rule of notebooks/pinterest_pipeline/cleaning.py (docs/data-contracts.md 3.6) on small hand-written
rows."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

pytestmark = pytest.mark.spark

PLACEHOLDERS = [
    "No description available Story format",
    "No description available",
    "User Info Error",
    "Image src error.",
    "N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e",
    "No Title Data Available",
]


def pin_row(index: Any = 1, **values: Any) -> dict[str, Any]:
    row = {
        "index": index,
        "unique_id": "u-1",
        "title": "Title",
        "description": "Desc",
        "poster_name": "Ann",
        "follower_count": "10",
        "tag_list": "a,b",
        "is_image_or_video": "image",
        "image_src": "https://x/1.jpg",
        "downloaded": 1,
        "save_location": "Local save in /data/art",
        "category": "art",
        "_corrupt_record": None,
    }
    row.update(values)
    return row


def raw(spark: Any, nb: dict[str, Any], dataset: str, rows: list[dict[str, Any]]) -> Any:
    schema = nb["RAW_SCHEMAS"][dataset]
    return spark.createDataFrame([tuple(r.get(f.name) for f in schema.fields) for r in rows], schema)


def clean(spark: Any, nb: dict[str, Any], dataset: str, rows: list[dict[str, Any]]) -> tuple[list[dict], int]:
    cleaned, rejected = nb["clean_dataset"](raw(spark, nb, dataset, rows), dataset)
    return [r.asDict() for r in cleaned.orderBy("ind").collect()], rejected.count()


def test_pin_columns_in_design_order(spark: Any, nb: dict[str, Any]) -> None:
    cleaned, _ = nb["clean_dataset"](raw(spark, nb, "pin", [pin_row()]), "pin")
    assert cleaned.columns == [
        "ind",
        "unique_id",
        "title",
        "description",
        "follower_count",
        "poster_name",
        "tag_list",
        "is_image_or_video",
        "image_src",
        "save_location",
        "category",
    ]


def test_every_placeholder_and_empty_or_blank_string_becomes_null(spark: Any, nb: dict[str, Any]) -> None:
    values = [*PLACEHOLDERS, "", "   ", "kept"]
    rows = [
        pin_row(i, title=v, description=v, tag_list=v, image_src=v, poster_name=v)
        for i, v in enumerate(values)
    ]
    cleaned, rejected = clean(spark, nb, "pin", rows)
    assert rejected == 0
    for row in cleaned[:-1]:
        assert (row["title"], row["description"], row["tag_list"], row["image_src"], row["poster_name"]) == (
            None,
            None,
            None,
            None,
            None,
        )
    assert cleaned[-1]["title"] == "kept" and cleaned[-1]["image_src"] == "kept"


def test_image_src_error_without_its_period_is_not_a_placeholder(spark: Any, nb: dict[str, Any]) -> None:
    cleaned, _ = clean(spark, nb, "pin", [pin_row(1, image_src="Image src error")])
    assert cleaned[0]["image_src"] == "Image src error"


FOLLOWER_CASES = [
    ("538k", 538_000),
    ("2M", 2_000_000),
    ("124", 124),
    ("0", 0),
    ("1.5k", 1_500),
    ("1.2345k", 1_234),  # floored
    ("2.5M", 2_500_000),
    ("0.000001M", 1),
    ("0.5", 0),
    ("7.123456", 7),
    ("7.1234567", None),  # seven decimals
    ("123456789", 123_456_789),
    ("1234567890", None),  # ten digits
    ("2147.483647M", 2_147_483_647),  # the int maximum
    ("2147.483648M", None),
    (" 12k ", 12_000),
    ("User Info Error", None),
    ("", None),
    ("12K", None),
    ("k", None),
    ("1,000", None),
    ("-5", None),
    ("999999999M", None),  # over the int range
    (None, None),
]


def test_follower_count_to_int(spark: Any, nb: dict[str, Any]) -> None:
    rows = [pin_row(i, follower_count=text) for i, (text, _) in enumerate(FOLLOWER_CASES)]
    cleaned, _ = clean(spark, nb, "pin", rows)
    assert [(FOLLOWER_CASES[r["ind"]][0], r["follower_count"]) for r in cleaned] == FOLLOWER_CASES


def test_save_location_loses_exactly_its_prefix(spark: Any, nb: dict[str, Any]) -> None:
    rows = [
        pin_row(1, save_location="Local save in /data/art"),
        pin_row(2, save_location="Local save in/data/x"),  # no space: not the prefix, kept as is
        pin_row(3, save_location="/data/Local save in /x"),
        pin_row(4, save_location=""),
    ]
    cleaned, _ = clean(spark, nb, "pin", rows)
    assert [r["save_location"] for r in cleaned] == [
        "/data/art",
        "Local save in/data/x",
        "/data/Local save in /x",
        None,
    ]


def test_index_renamed_ind_and_one_row_per_ind(spark: Any, nb: dict[str, Any]) -> None:
    rows = [
        pin_row(7),
        pin_row(7),
        pin_row(7),
        pin_row(3, title="b"),
        pin_row(3, title="a"),
        pin_row(3, title=None),
    ]
    cleaned, rejected = clean(spark, nb, "pin", rows)
    assert rejected == 0
    # exact duplicates collapse; conflicting rows keep the smallest, nulls first
    assert [(r["ind"], r["title"]) for r in cleaned] == [(3, None), (7, "Title")]


def test_unparseable_or_keyless_records_are_rejected_not_fatal(spark: Any, nb: dict[str, Any]) -> None:
    rows = [pin_row(1), pin_row(None), pin_row(2, _corrupt_record='{"index": "x"'), pin_row(3)]
    cleaned, rejected = clean(spark, nb, "pin", rows)
    assert [r["ind"] for r in cleaned] == [1, 3]
    assert rejected == 2


def geo_row(ind: Any, timestamp: Any, country: Any = "Chile", lat: float = 1.5, lon: float = -2.5) -> dict:
    return {"ind": ind, "timestamp": timestamp, "latitude": lat, "longitude": lon, "country": country}


def test_geo_coordinates_and_both_datetime_formats(spark: Any, nb: dict[str, Any]) -> None:
    rows = [
        geo_row(1, "2020-01-02T03:04:05"),
        geo_row(2, "2020-01-02 03:04:05"),
        geo_row(3, "2020-01-02T03:04:05.250000"),
        geo_row(4, "2020-01-02T04:04:05+01:00"),
        geo_row(5, "not a date"),
        geo_row(6, "", country=""),
        geo_row(7, None, country="User Info Error"),
    ]
    cleaned, rejected = clean(spark, nb, "geo", rows)
    assert rejected == 0
    assert list(cleaned[0]) == ["ind", "country", "coordinates", "timestamp"]
    assert cleaned[0]["coordinates"] == [1.5, -2.5]
    stamp = dt.datetime(2020, 1, 2, 3, 4, 5)
    assert [r["timestamp"] for r in cleaned] == [
        stamp,
        stamp,
        stamp + dt.timedelta(milliseconds=250),
        stamp,
        None,
        None,
        None,
    ]
    assert [r["country"] for r in cleaned][-2:] == [None, None]


def test_user_name_age_and_date_joined(spark: Any, nb: dict[str, Any]) -> None:
    rows = [
        {"ind": 1, "first_name": "Ann", "last_name": "Lee", "age": 30, "date_joined": "2016-05-06 07:08:09"},
        {"ind": 2, "first_name": "Bo", "last_name": "", "age": 17, "date_joined": "2016-05-06T07:08:09"},
        {"ind": 2, "first_name": "Bo", "last_name": "", "age": 17, "date_joined": "2016-05-06T07:08:09"},
        {"ind": None, "first_name": "No", "last_name": "Key", "age": 40, "date_joined": None},
    ]
    cleaned, rejected = clean(spark, nb, "user", rows)
    joined = dt.datetime(2016, 5, 6, 7, 8, 9)
    assert cleaned == [
        {"ind": 1, "user_name": "Ann Lee", "age": 30, "date_joined": joined},
        {"ind": 2, "user_name": None, "age": 17, "date_joined": joined},
    ]
    assert rejected == 1


def test_rules_are_built_in_spark_only(spark: Any, nb: dict[str, Any]) -> None:
    """No Python UDF anywhere in the cleaning plan (they would be slow and differ from the SQL semantics)."""
    cleaned, _ = nb["clean_dataset"](raw(spark, nb, "pin", [pin_row()]), "pin")
    plan = cleaned._jdf.queryExecution().executedPlan().toString()
    assert "BatchEvalPython" not in plan and "ArrowEvalPython" not in plan
    assert "Project" in plan  # the plan was really rendered


def test_the_cleaning_columns_are_built_once_and_clean_every_dataframe_alike(
    spark: Any, nb: dict[str, Any]
) -> None:
    """The select list is reused from one DataFrame to the next (no JVM calls to build it again), with the same
    result as for the first DataFrame."""
    calls: list[int] = []

    def build() -> list[Any]:
        calls.append(1)
        return [nb["null_if_placeholder"]("title").alias("title")]

    first = nb["reused"]("test_title", build)
    assert nb["reused"]("test_title", build) is first and calls == [1]
    one = raw(spark, nb, "pin", [pin_row(1, title="No Title Data Available")])
    two = raw(spark, nb, "pin", [pin_row(2, title="kept")])
    assert [r.title for r in one.select(*first).collect()] == [None]
    assert [r.title for r in two.select(*first).collect()] == ["kept"]
    assert clean(spark, nb, "pin", [pin_row(3, title="kept")])[0][0]["title"] == "kept"
    assert clean(spark, nb, "pin", [pin_row(4, title="")])[0][0]["title"] is None
