# Databricks notebook source
# MAGIC %md
# MAGIC # Cleaning rules, one definition each, shared by the batch and the stream notebooks
# MAGIC
# MAGIC The rules of docs/data-contracts.md 3.6.
# MAGIC
# MAGIC Built-in Spark functions only (no Python UDFs).
# MAGIC
# MAGIC * every text column: the known placeholders and empty (or blank) strings become null;
# MAGIC * pin: `index` renamed `ind`; `follower_count` to int (`k` x1,000, `M` x1,000,000, anything else null);
# MAGIC   `save_location` without its `Local save in ` prefix;
# MAGIC * geo: `coordinates = array(latitude, longitude)`, `timestamp` typed;
# MAGIC * user: `user_name = first_name + " " + last_name` (null when either is missing), `date_joined` typed;
# MAGIC * a record that cannot be parsed (`_corrupt_record` set) or has no key is rejected: counted and kept aside;
# MAGIC * one row per `ind`: exact duplicates from at-least-once delivery collapse to one row; should two different
# MAGIC   records share an `ind`, the smallest (column by column, nulls first) is kept, so every run agrees.

# COMMAND ----------

# MAGIC %run ./lake_access

# COMMAND ----------

from pyspark.sql import Column
from pyspark.sql import functions as F

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

CLEAN_COLUMNS = {
    "pin": (
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
    ),
    "geo": ("ind", "country", "coordinates", "timestamp"),
    "user": ("ind", "user_name", "age", "date_joined"),
}
RAW_KEYS = {"pin": "index", "geo": "ind", "user": "ind"}


def as_column(col):
    return F.col(col) if isinstance(col, str) else col


def null_if_placeholder(col) -> Column:
    """Null for a placeholder, an empty or blank string; the value otherwise."""
    c = as_column(col)
    return F.when((F.trim(c) == "") | c.isin(*PLACEHOLDERS), F.lit(None).cast("string")).otherwise(c)


def follower_count_to_int(col) -> Column:
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


def strip_save_location(col) -> Column:
    """`Local save in /data/art` -> `/data/art`."""
    return F.regexp_replace(as_column(col), "^" + SAVE_LOCATION_PREFIX, "")


def parse_datetime(col) -> Column:
    """ISO-8601 (`2020-01-02T03:04:05[.ffffff][+01:00]`) or `2020-01-02 03:04:05` to a timestamp; else null
    (a value without a date first, such as a bare time, too)."""
    c = as_column(col)
    return F.when(c.rlike(DATE_FIRST_PATTERN), F.try_to_timestamp(c))


def is_rejected(dataset) -> Column:
    """True for a raw record that cannot be used: not parseable against the schema, or without its key."""
    return F.col(CORRUPT_RECORD).isNotNull() | F.col(RAW_KEYS[dataset]).isNull()


def clean_pin(raw):
    """Typed, placeholder-free pin rows (`ind` first); one row per raw record."""
    return raw.select(
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
    )


def clean_geo(raw):
    """`ind, country, coordinates, timestamp`; one row per raw record."""
    return raw.select(
        F.col("ind"),
        null_if_placeholder("country").alias("country"),
        F.array(F.col("latitude"), F.col("longitude")).alias("coordinates"),
        parse_datetime(null_if_placeholder("timestamp")).alias("timestamp"),
    )


def clean_user(raw):
    """`ind, user_name, age, date_joined`; one row per raw record."""
    return raw.select(
        F.col("ind"),
        F.concat(null_if_placeholder("first_name"), F.lit(" "), null_if_placeholder("last_name")).alias(
            "user_name"
        ),
        F.when(F.col("age").between(INT_MIN, INT_MAX), F.col("age").cast("int")).alias("age"),
        parse_datetime(null_if_placeholder("date_joined")).alias("date_joined"),
    )


CLEANERS = {"pin": clean_pin, "geo": clean_geo, "user": clean_user}


def one_row_per_ind(df):
    """Collapse rows sharing an `ind` to one: the smallest row (column by column, nulls first)."""
    others = [c for c in df.columns if c != "ind"]
    return (
        df.groupBy("ind")
        .agg(F.min(F.struct(*others)).alias("_row"))
        .select("ind", *[f"_row.{c}" for c in others])
    )


def split_rejected(raw, dataset):
    """(records to clean, rejected records) of one raw dataset."""
    rejected = is_rejected(dataset)
    return raw.where(~rejected).drop(CORRUPT_RECORD), raw.where(rejected)


def clean_dataset(raw, dataset):
    """(cleaned table: one row per `ind`, rejected raw records) of one dataset."""
    valid, rejected = split_rejected(raw, dataset)
    return one_row_per_ind(CLEANERS[dataset](valid)).select(*CLEAN_COLUMNS[dataset]), rejected
