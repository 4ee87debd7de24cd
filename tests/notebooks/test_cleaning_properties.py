"""Property-based tests (hypothesis) of the cleaning rules of notebooks/pinterest_pipeline/cleaning.py (docs/data-contracts.md 3.6)
against plain-Python references, with bad input as source rows: NULLs in every column, emoji, 1 MB strings, invalid
dates, negative ages, non-numeric follower counts.

Spark is slow per call, so every hypothesis example is a list of values checked in ONE Spark job; examples are
derandomized (the same every run, no example database written) and few. Spark runs with ANSI mode on, the default
of Databricks Runtime 17+ and the stricter of the two (tests/notebooks/test_runtimes.py checks that both agree).

The rules as the code applies them (and the references below state them):
* a value is null when it is null, a placeholder (exactly) or only spaces; other whitespace (tabs, line breaks)
  is text like any other, and a placeholder with spaces around it is kept;
* `follower_count`: after trimming spaces, `<1-9 digits>[.<1-6 digits>][k|M]`, floored to an int, null above the
  int maximum; anything else null;
* `save_location`: the exact prefix `Local save in ` removed;
* datetimes: ISO-8601 (`T`, optional fraction and offset, converted to UTC) and `YYYY-MM-DD HH:MM:SS`; a date
  that does not exist, an hour 24 or a minute 60 gives null;
* ages: kept as they are (negative ones too), within the int range;
* a record without its key is rejected (counted, kept aside), never fatal.

Two defects these found are fixed and kept as examples below: a follower count ending in a line break (Java's
`$` matched before it) and a time without a date (Spark read it as that time today).
"""

from __future__ import annotations

import datetime as dt
import math
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyspark.sql import functions as F

from tests.notebooks.notebook_reference import FOLLOWERS, PLACEHOLDERS

pytestmark = pytest.mark.spark

INT_MAX = 2**31 - 1
EPOCH = dt.datetime(1970, 1, 1)
#: Java's `$` matches before a final line terminator: the follower count pattern is anchored with `\z` instead.
LINE_TERMINATORS = ("\n", "\r", "\u0085", "\u2028", "\u2029")
PROFILE = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# --- references --------------------------------------------------------------------------------------------------
def ref_text(value: str | None) -> str | None:
    """Null for null, a placeholder or a value of spaces only; the value otherwise (untrimmed)."""
    if value is None or value.strip(" ") == "" or value in PLACEHOLDERS:
        return None
    return value


def ref_followers(value: str | None) -> int | None:
    value = ref_text(value)
    match = FOLLOWERS.fullmatch(value.strip(" ")) if value is not None else None
    if match is None:
        return None
    number = math.floor(Decimal(match[1]) * {"k": 1000, "M": 1_000_000, "": 1}[match[2]])
    return number if number <= INT_MAX else None


def ref_save_location(value: str | None) -> str | None:
    value = ref_text(value)
    return None if value is None else value.removeprefix("Local save in ")


def micros(when: dt.datetime | None) -> int | None:
    """Microseconds since the epoch of a naive UTC datetime (what `unix_micros` gives for Spark's timestamp)."""
    return None if when is None else (when - EPOCH) // dt.timedelta(microseconds=1)


# --- strategies --------------------------------------------------------------------------------------------------
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)  # any text JSON and Arrow can carry
EMOJI = st.sampled_from(["😀", "🇨🇱", "👩‍👩‍👧", "💯k", "Ünïcødé", "\u200b", "🙂 Local save in /x"])
MEGABYTE = st.sampled_from(["a" * (1 << 20), "😀" * (1 << 18)])  # 1 MB of ASCII, 1 MB of emoji (4 bytes each)
SPACES = st.integers(0, 2).map(" ".__mul__)


@st.composite
def follower_forms(draw: Any) -> str:
    """Near the accepted form: 1-10 digits, 0-7 decimals, a suffix that is right or wrong, spaces around."""
    whole = draw(st.text("0123456789", min_size=1, max_size=10))
    decimals = draw(st.one_of(st.just(""), st.text("0123456789", min_size=0, max_size=7).map(".".__add__)))
    suffix = draw(st.sampled_from(["", "", "k", "M", "K", "m", "b", " k"]))
    sign = draw(st.sampled_from(["", "", "-", "+"]))
    return draw(SPACES) + sign + whole + decimals + suffix + draw(SPACES)


FOLLOWER_COUNTS = st.one_of(
    follower_forms(),
    follower_forms(),
    st.sampled_from([*PLACEHOLDERS, "", "   ", "1,000", "1e5", "0x1F", "\uff11\uff12", "\u0663", "NaN", "∞"]),
    TEXT,
    EMOJI,
    st.none(),
    st.builds(lambda v, end: v + end, follower_forms(), st.sampled_from(LINE_TERMINATORS)),
)
TEXTS = st.one_of(
    st.sampled_from(sorted(PLACEHOLDERS)),
    st.builds(lambda a, p, b: a + p + b, SPACES, st.sampled_from(sorted(PLACEHOLDERS)), SPACES),
    SPACES,
    TEXT,
    EMOJI,
    TEXT.map("Local save in ".__add__),
    TEXT.map("Local save in".__add__),
    st.none(),
)
VALID_WHEN = st.datetimes(dt.datetime(1900, 1, 1), dt.datetime(2100, 12, 31))


@st.composite
def datetime_texts(draw: Any) -> tuple[str | None, int | None]:
    """(text, expected microseconds or None): valid datetimes in both formats, impossible ones, other text."""
    kind = draw(st.sampled_from(["iso", "course", "offset", "impossible", "text", "null"]))
    if kind in ("iso", "course", "offset"):
        when = draw(VALID_WHEN)
        if kind == "course":
            when = when.replace(microsecond=0)
            return when.strftime("%Y-%m-%d %H:%M:%S"), micros(when)
        if kind == "iso":
            return when.isoformat(), micros(when)
        offset = dt.timedelta(minutes=draw(st.integers(-18 * 60, 18 * 60)))
        aware = when.replace(tzinfo=dt.timezone(offset))
        return aware.isoformat(), micros(aware.astimezone(dt.UTC).replace(tzinfo=None))
    if kind == "impossible":
        year = draw(st.integers(1900, 2100))
        y, mo, d, h, mi, s = draw(
            st.sampled_from(
                [
                    (year, 2, 30, 0, 0, 0),
                    (year, 4, 31, 12, 0, 0),
                    (year, 13, 1, 0, 0, 0),
                    (year, 0, 10, 0, 0, 0),
                    (year, 1, 0, 0, 0, 0),
                    (year, 1, 2, 24, 0, 0),
                    (year, 1, 2, 3, 60, 0),
                    (year, 1, 2, 3, 4, 60),
                    (2019, 2, 29, 1, 2, 3),
                ]
            )
        )
        sep = draw(st.sampled_from(["T", " "]))
        return f"{y:04d}-{mo:02d}-{d:02d}{sep}{h:02d}:{mi:02d}:{s:02d}", None
    if kind == "text":
        return draw(st.one_of(st.text("abcdefghijklmnopqrstuvwxyz -:", max_size=10), EMOJI)), None
    return None, None


# --- properties: one Spark job per example -------------------------------------------------------------------
def column_of(spark: Any, values: list[Any]) -> Any:
    """A DataFrame of `i` (position) and `v` (string) holding `values`, collected back in their order."""
    return spark.createDataFrame(list(enumerate(values)), "i int, v string")


@settings(PROFILE, max_examples=20)
@given(values=st.lists(FOLLOWER_COUNTS, min_size=1, max_size=40))
def test_follower_count_matches_the_python_reference(
    spark: Any, nb: dict[str, Any], values: list[Any]
) -> None:
    df = column_of(spark, values)
    got = df.select(nb["follower_count_to_int"](nb["null_if_placeholder"]("v"))).collect()
    assert [r[0] for r in got] == [ref_followers(v) for v in values]


@settings(PROFILE, max_examples=10)
@given(values=st.lists(TEXTS, min_size=1, max_size=40))
def test_placeholders_spaces_and_the_save_location_prefix(
    spark: Any, nb: dict[str, Any], values: list[Any]
) -> None:
    nulled = nb["null_if_placeholder"]("v")
    got = column_of(spark, values).select(nulled, nb["strip_save_location"](nulled)).collect()
    assert [tuple(r) for r in got] == [(ref_text(v), ref_save_location(v)) for v in values]


@settings(PROFILE, max_examples=15)
@given(cases=st.lists(datetime_texts(), min_size=1, max_size=40))
def test_datetimes_in_both_formats_and_impossible_dates(
    spark: Any, nb: dict[str, Any], cases: list[Any]
) -> None:
    df = column_of(spark, [text for text, _ in cases])
    got = df.select(F.unix_micros(nb["parse_datetime"](nb["null_if_placeholder"]("v")))).collect()
    assert [r[0] for r in got] == [expected for _, expected in cases]


# --- bad source rows, end to end: source row -> lake JSON (as the S3 sink writes it) -> read -> clean ----------
ANY_TEXT = st.one_of(TEXTS, EMOJI, MEGABYTE, st.none())
KEY = st.one_of(st.none(), st.just(0))  # None: a row without its key; 0: the key is the row's position


@st.composite
def source_tables(draw: Any) -> dict[str, list[dict[str, Any]]]:
    """A few rows of each source table (docs/data-contracts.md 3.1) with any column null or bad."""
    n = draw(st.integers(1, 6))
    keys = [None if draw(KEY) is None else i + 1 for i in range(n)]
    pins, geos, users = [], [], []
    for key in keys:
        when, _ = draw(datetime_texts())
        joined, _ = draw(datetime_texts())
        pins.append(
            {
                "index": key,
                **{c: draw(ANY_TEXT) for c in ("unique_id", "title", "description", "poster_name")},
                "follower_count": draw(FOLLOWER_COUNTS),
                **{c: draw(ANY_TEXT) for c in ("tag_list", "is_image_or_video", "image_src")},
                "downloaded": draw(st.one_of(st.none(), st.integers(-1, 2))),
                "save_location": draw(ANY_TEXT),
                "category": draw(ANY_TEXT),
            }
        )
        geos.append(
            {
                "ind": key,
                "timestamp": when,
                "latitude": draw(st.one_of(st.none(), st.floats(-90, 90))),
                "longitude": draw(st.one_of(st.none(), st.floats(-1e308, 1e308))),
                "country": draw(ANY_TEXT),
            }
        )
        users.append(
            {
                "ind": key,
                "first_name": draw(ANY_TEXT),
                "last_name": draw(ANY_TEXT),
                "age": draw(st.one_of(st.none(), st.integers(-(2**31), INT_MAX), st.integers(-5, 120))),
                "date_joined": joined,
            }
        )
    return {"pinterest_data": pins, "geolocation_data": geos, "user_data": users}


def ref_when(text: str | None) -> int | None:
    """The expected microseconds of a datetime text drawn by `datetime_texts` (re-derived from the text)."""
    if ref_text(text) is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return micros(parsed)


def expected_rows(tables: dict[str, list[dict[str, Any]]]) -> dict[str, list[tuple]]:
    pin = [
        (
            r["index"],
            *(ref_text(r[c]) for c in ("unique_id", "title", "description")),
            ref_followers(r["follower_count"]),
            *(ref_text(r[c]) for c in ("poster_name", "tag_list", "is_image_or_video", "image_src")),
            ref_save_location(r["save_location"]),
            ref_text(r["category"]),
        )
        for r in tables["pinterest_data"]
    ]
    geo = [
        (r["ind"], ref_text(r["country"]), [r["latitude"], r["longitude"]], ref_when(r["timestamp"]))
        for r in tables["geolocation_data"]
    ]
    user = [
        (
            r["ind"],
            None
            if ref_text(r["first_name"]) is None or ref_text(r["last_name"]) is None
            else f"{r['first_name']} {r['last_name']}",
            r["age"],
            ref_when(r["date_joined"]),
        )
        for r in tables["user_data"]
    ]
    return {"pin": pin, "geo": geo, "user": user}


def as_rows(df: Any) -> list[tuple]:
    """Rows in `ind` order, timestamps as microseconds since the epoch (exact, and free of Python's year limits)."""
    cols = [F.unix_micros(c).alias(c) if c in ("timestamp", "date_joined") else F.col(c) for c in df.columns]
    return [tuple(r) for r in df.select(*cols).orderBy("ind").collect()]


@settings(PROFILE, max_examples=6)
@given(tables=source_tables())
def test_bad_source_rows_clean_as_the_rules_say_and_never_fail_the_run(
    spark: Any, nb: dict[str, Any], tables: dict[str, list[dict[str, Any]]]
) -> None:
    from local_stack.lake_layout import write_local_lake

    with tempfile.TemporaryDirectory(prefix="cleaning-properties-") as root:
        write_local_lake(Path(root), "prop", tables)
        raw = nb["read_lake"](root, "prop")
        expected = expected_rows(tables)
        for dataset, source in zip(("pin", "geo", "user"), tables.values(), strict=True):
            cleaned, rejected = nb["clean_dataset"](raw[dataset], dataset)
            want = sorted((row for row in expected[dataset] if row[0] is not None), key=lambda row: row[0])
            assert as_rows(cleaned) == want, dataset
            assert (
                rejected.count()
                == sum(row[0] is None for row in expected[dataset])
                == len(source) - len(want)
            )


# --- defects these properties found, fixed in notebooks/pinterest_pipeline/cleaning.py --------------------------------------------
def test_a_follower_count_ending_in_a_line_break_is_null(spark: Any, nb: dict[str, Any]) -> None:
    values = ["12k\n", "1.5M\n", "12\r", "3M\u2028"]
    got = column_of(spark, values).select(nb["follower_count_to_int"]("v")).collect()
    assert [r[0] for r in got] == [None] * len(values)


def test_a_time_without_a_date_is_null(spark: Any, nb: dict[str, Any]) -> None:
    got = column_of(spark, ["03:04:05", "T03:04:05"]).select(nb["parse_datetime"]("v")).collect()
    assert [r[0] for r in got] == [None, None]
