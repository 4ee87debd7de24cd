"""The cleaning rules of docs/data-contracts.md 3.6, one definition each, shared by the batch and the stream
notebooks. Built-in Spark functions only (no Python UDFs), no session needed: every function maps DataFrames or
columns to DataFrames or columns.

* every text column: the known placeholders and empty (or blank) strings become null;
* pin: `index` renamed `ind`; `follower_count` to int (`k` x1,000, `M` x1,000,000, anything else null);
  `save_location` without its `Local save in ` prefix;
* geo: `coordinates = array(latitude, longitude)`, `timestamp` typed;
* user: `user_name = first_name + " " + last_name` (null when either is missing), `date_joined` typed;
* a record that cannot be parsed (`_corrupt_record` set) or has no key is rejected: counted and kept aside;
* one row per `ind`: exact duplicates from at-least-once delivery collapse to one row; should two different
  records share an `ind`, the smallest (column by column, nulls first) is kept, so every run agrees.

Timestamps without an offset are read in the session time zone: the notebooks set `spark.sql.session.timeZone`
to `UTC`.

The cleaning expressions are built once per Spark context and reused by every DataFrame they clean (`reused`):
building the pin columns makes about 1,700 calls from Python to the JVM (0.4 s), more than cleaning a stream's
micro-batch takes. A Column is an expression, not bound to a DataFrame, so reusing it changes no result.
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark import SparkContext
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from .schemas import CLEAN_COLUMNS, CORRUPT_RECORD, RAW_KEYS

PLACEHOLDERS = (
    "No description available Story format",
    "No description available",
    "User Info Error",
    "Image src error.",
    "N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e",
    "No Title Data Available",
)
#: `<number>[k|M]`: at most 9 integer digits and 6 decimals, so the arithmetic never overflows. Anchored with `\z`
#: (Java's `$` also matches before a final line break, which would let `12k\n` reach the cast).
FOLLOWER_COUNT_PATTERN = r"^([0-9]{1,9}(\.[0-9]{1,6})?)([kM]?)\z"
#: A value is read as a timestamp only when it starts with a date: Spark reads a bare time as that time today.
DATE_FIRST_PATTERN = r"^\s*[0-9]{4,}-[0-9]{1,2}-[0-9]{1,2}"
INT_MAX = 2147483647
INT_MIN = -2147483648
SAVE_LOCATION_PREFIX = "Local save in "


def as_column(col: str | Column) -> Column:
    """`col` as a Column (a name becomes `F.col(name)`)."""
    return F.col(col) if isinstance(col, str) else col


def null_if_placeholder(col: str | Column) -> Column:
    """Null for a placeholder, an empty or blank string; the value otherwise."""
    c = as_column(col)
    return F.when((F.trim(c) == "") | c.isin(*PLACEHOLDERS), F.lit(None).cast("string")).otherwise(c)


def follower_count_to_int(col: str | Column) -> Column:
    """`538k` -> 538000, `2M` -> 2000000, `124` -> 124, `1.5k` -> 1500 (fractions floored); anything else null.

    One regular expression checks the form; the value is integer arithmetic on its parts (whole number x
    multiplier + as many decimals as the suffix shifts by): no decimal type, no second match. Every cast below
    sees digits only, because `&` and `when` evaluate their right side only when the form matched.
    """
    text = F.trim(as_column(col))
    suffix = F.substring(text, -1, 1)
    shift = F.when(suffix == "k", 3).when(suffix == "M", 6).otherwise(0)  # decimal places the suffix moves
    number = text.substr(F.lit(1), F.length(text) - F.least(shift, F.lit(1)))  # without the suffix
    whole = F.substring_index(number, ".", 1).cast("long")
    decimals = F.when(number.contains("."), F.substring_index(number, ".", -1)).otherwise(F.lit(""))
    shifted = F.concat(F.lit("0"), F.concat(decimals, F.lit("000000")).substr(F.lit(1), shift)).cast("long")
    value = whole * F.pow(F.lit(10), shift).cast("long") + shifted
    return F.when(text.rlike(FOLLOWER_COUNT_PATTERN) & (value <= INT_MAX), value.cast("int"))


def strip_save_location(col: str | Column) -> Column:
    """`Local save in /data/art` -> `/data/art`."""
    return F.regexp_replace(as_column(col), "^" + SAVE_LOCATION_PREFIX, "")


def parse_datetime(col: str | Column) -> Column:
    """ISO-8601 (`2020-01-02T03:04:05[.ffffff][+01:00]`) or `2020-01-02 03:04:05` to a timestamp; else null
    (a value without a date first, such as a bare time, too)."""
    c = as_column(col)
    return F.when(c.rlike(DATE_FIRST_PATTERN), F.try_to_timestamp(c))


def is_rejected(dataset: str) -> Column:
    """True for a raw record that cannot be used: not parseable against the schema, or without its key."""
    return F.col(CORRUPT_RECORD).isNotNull() | F.col(RAW_KEYS[dataset]).isNull()


_BUILT: dict[str, tuple[object, list[Column]]] = {}


def reused(key: str, build: Callable[[], list[Column]]) -> list[Column]:
    """The columns `build()` returns, built once per Spark context (JVM) under `key` and reused afterwards."""
    context = (
        SparkContext._active_spark_context
    )  # None under Spark Connect, whose Columns are plain expressions
    cached = _BUILT.get(key)
    if cached is None or cached[0] is not context:
        cached = _BUILT[key] = (context, build())
    return cached[1]


def clean_pin(raw: DataFrame) -> DataFrame:
    """Typed, placeholder-free pin rows (`ind` first); one row per raw record."""
    return raw.select(*reused("clean_pin", _pin_columns))


def _pin_columns() -> list[Column]:
    return [
        F.col("index").alias("ind"),
        null_if_placeholder("unique_id").alias("unique_id"),
        null_if_placeholder("title").alias("title"),
        null_if_placeholder("description").alias("description"),
        follower_count_to_int(null_if_placeholder("follower_count")).alias("follower_count"),
        null_if_placeholder("poster_name").alias("poster_name"),
        null_if_placeholder("tag_list").alias("tag_list"),
        null_if_placeholder("is_image_or_video").alias("is_image_or_video"),
        null_if_placeholder("image_src").alias("image_src"),
        strip_save_location(null_if_placeholder("save_location")).alias("save_location"),
        null_if_placeholder("category").alias("category"),
    ]


def clean_geo(raw: DataFrame) -> DataFrame:
    """`ind, country, coordinates, timestamp`; one row per raw record."""
    return raw.select(*reused("clean_geo", _geo_columns))


def _geo_columns() -> list[Column]:
    return [
        F.col("ind"),
        null_if_placeholder("country").alias("country"),
        F.array(F.col("latitude"), F.col("longitude")).alias("coordinates"),
        parse_datetime(null_if_placeholder("timestamp")).alias("timestamp"),
    ]


def clean_user(raw: DataFrame) -> DataFrame:
    """`ind, user_name, age, date_joined`; one row per raw record."""
    return raw.select(*reused("clean_user", _user_columns))


def _user_columns() -> list[Column]:
    return [
        F.col("ind"),
        F.concat(null_if_placeholder("first_name"), F.lit(" "), null_if_placeholder("last_name")).alias(
            "user_name"
        ),
        F.when(F.col("age").between(INT_MIN, INT_MAX), F.col("age").cast("int")).alias("age"),
        parse_datetime(null_if_placeholder("date_joined")).alias("date_joined"),
    ]


CLEANERS = {"pin": clean_pin, "geo": clean_geo, "user": clean_user}


def one_row_per_ind(df: DataFrame) -> DataFrame:
    """Collapse rows sharing an `ind` to one: the smallest row (column by column, nulls first)."""
    others = [c for c in df.columns if c != "ind"]
    return (
        df.groupBy("ind")
        .agg(F.min(F.struct(*others)).alias("_row"))
        .select("ind", *[f"_row.{c}" for c in others])
    )


def split_rejected(raw: DataFrame, dataset: str) -> tuple[DataFrame, DataFrame]:
    """(records to clean, rejected records) of one raw dataset."""
    (rejected,) = reused(f"is_rejected_{dataset}", lambda: [is_rejected(dataset)])
    return raw.where(~rejected).drop(CORRUPT_RECORD), raw.where(rejected)


def clean_dataset(raw: DataFrame, dataset: str) -> tuple[DataFrame, DataFrame]:
    """(cleaned table: one row per `ind`, rejected raw records) of one dataset."""
    valid, rejected = split_rejected(raw, dataset)
    return one_row_per_ind(CLEANERS[dataset](valid)).select(*CLEAN_COLUMNS[dataset]), rejected
