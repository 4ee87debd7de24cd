"""What the nine questions of the batch notebook (docs/data-contracts.md 3.7) are answered from, and the building
blocks of the answers; each question's own query is in its cell of `batch`.

* inner joins on `ind`; rows with a null grouping key or value are left out;
* "most popular" = highest count, "top" = highest follower count; all tied rows are kept; rows are distinct;
* counts are of cleaned rows (one per `ind`);
* median = the smallest value with at least half the values less than or equal to it: SQL's
  `percentile_disc(0.5)`, exact for any number of values;
* age groups `18-24`, `25-35`, `36-50`, `+50` (under 18: no group);
* post year = year of `geo.timestamp`, 2018-2022; join year = year of `user.date_joined`, 2015-2020, named
  `post_year` too.

The questions about pins read a summary built once by `query_summary` and cached: the pins, joined once with their
geo and user rows, counted per combination of the keys the questions group by (country, years, age group,
category, poster, follower count). A few hundred thousand counts stand for a million pins, so each question is a
small aggregation (a median from counts of each follower count) instead of another pass over the pins.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from .names import RESULT_COLUMNS, RESULT_NAMES

__all__ = [
    "AGE_GROUPS",
    "FACETS",
    "FACET_KEYS",
    "JOIN_YEARS",
    "POST_YEARS",
    "RESULT_COLUMNS",
    "RESULT_NAMES",
    "age_group",
    "age_group_order",
    "cached",
    "facet",
    "keep_top",
    "keep_top_overall",
    "median_of_counts",
    "ordered",
    "pins_with_keys",
    "query_summary",
    "year_within",
]

AGE_GROUPS = (("18-24", 18, 24), ("25-35", 25, 35), ("36-50", 36, 50), ("+50", 51, None))
POST_YEARS = (2018, 2022)
JOIN_YEARS = (2015, 2020)


def age_group(age: Column) -> Column:
    """The age group label of `age`, null under 18 (or when unknown)."""
    label = None
    for name, low, high in reversed(AGE_GROUPS):
        test = (age >= low) if high is None else age.between(low, high)
        label = F.when(test, F.lit(name)) if label is None else F.when(test, F.lit(name)).otherwise(label)
    return label


def age_group_order(col: Column) -> Column:
    """Sort key putting age groups in age order."""
    return F.array_position(F.array(*[F.lit(name) for name, _, _ in AGE_GROUPS]), col)


def year_within(col: Column, years: tuple[int, int]) -> Column:
    """The year of timestamp `col` when it lies within `years` (first, last), else null."""
    year = F.year(col)
    return F.when(year.between(*years), year)


#: The counts the questions about pins need, one kind of row (`facet`) each: keys counted together in one pass.
FACETS = {
    "category": ("country", "post_year", "age_group", "join_year", "category"),
    "followers": ("age_group", "join_year", "follower_count"),
    "poster": ("country", "poster_name", "follower_count"),
}
FACET_KEYS = ("country", "post_year", "age_group", "join_year", "category", "poster_name", "follower_count")


def pins_with_keys(tables: dict[str, DataFrame]) -> DataFrame:
    """Every pin with the keys the questions group by: its geo row's `country, post_year` and its user row's
    `age_group, join_year` (null where the pin has no such row), `category, poster_name, follower_count`."""
    pin = tables["pin"].select("ind", "category", "poster_name", "follower_count")
    geo = tables["geo"].select(
        "ind", "country", year_within(F.col("timestamp"), POST_YEARS).alias("post_year")
    )
    user = tables["user"].select(
        "ind",
        age_group(F.col("age")).alias("age_group"),
        year_within(F.col("date_joined"), JOIN_YEARS).alias("join_year"),
    )
    return pin.join(geo, "ind", "left").join(user, "ind", "left")


def query_summary(tables: dict[str, DataFrame]) -> DataFrame:
    """The pins counted per combination of the keys of each facet (`facet, <FACET_KEYS>, pins`), cached.

    One row per facet and combination of its keys (the other keys null). A few hundred thousand rows summarise a
    million pins, and the three counts share one pass over one join, so each question is a small aggregation of
    small data. A pin without a geo row has a null `country` and `post_year`, one without a user row a null
    `age_group` and `join_year`, and the questions leave null keys out: the same rows as inner joins.
    """
    pins = pins_with_keys(tables)
    facets = F.array(
        *[
            F.struct(
                F.lit(name).alias("facet"),
                *[
                    (F.col(k) if k in keys else F.lit(None)).cast(pins.schema[k].dataType).alias(k)
                    for k in FACET_KEYS
                ],
            )
            for name, keys in FACETS.items()
        ]
    )
    counts = pins.select(F.inline(facets)).groupBy("facet", *FACET_KEYS).agg(F.count("*").alias("pins"))
    # Small enough for one partition: the questions then group and rank without a single shuffle.
    return cached(counts.coalesce(1))


def cached(df: DataFrame) -> DataFrame:
    """`df.cache()`; `df` itself where caching is not offered (Databricks serverless compute refuses PERSIST)."""
    try:
        return df.cache()
    except Exception as error:  # NOT_SUPPORTED_WITH_SERVERLESS
        print(f"not cached ({type(error).__name__}): every question recomputes the summary")
        return df


def facet(summary: DataFrame, name: str, *not_null_cols: str) -> DataFrame:
    """The summary rows of facet `name` whose `not_null_cols` are all set."""
    rows = summary.where(F.col("facet") == name)
    for col in not_null_cols:
        rows = rows.where(F.col(col).isNotNull())
    return rows


def keep_top(df: DataFrame, group_cols: list[str], value_col: str) -> DataFrame:
    """Rows whose `value_col` is the highest of their group (all tied rows kept)."""
    window = Window.partitionBy(*group_cols)
    return (
        df.withColumn("_top", F.max(value_col).over(window))
        .where(F.col(value_col) == F.col("_top"))
        .drop("_top")
    )


def keep_top_overall(df: DataFrame, value_col: str) -> DataFrame:
    """Rows whose `value_col` is the highest of the whole DataFrame (all tied rows kept)."""
    top = df.agg(F.max(value_col).alias("_top"))
    return df.join(top, F.col(value_col) == F.col("_top")).drop("_top")


def median_of_counts(
    df: DataFrame, group_cols: list[str], value_col: str = "follower_count", count_col: str = "pins"
) -> DataFrame:
    """Per group, the median of `value_col` (`*group_cols, median_follower_count`) over rows that each stand for
    `count_col` values.

    The median is the smallest value with at least half of the values less than or equal to it (exact, discrete:
    SQL's `percentile_disc(0.5)`): the first value, in order, whose running count reaches half the group's count.
    """
    running = Window.partitionBy(*group_cols).orderBy(value_col).rowsBetween(Window.unboundedPreceding, 0)
    return (
        df.groupBy(*group_cols, value_col)
        .agg(F.sum(count_col).alias("_n"))
        .withColumn("_running", F.sum("_n").over(running))
        .withColumn("_total", F.sum("_n").over(Window.partitionBy(*group_cols)))
        .where(F.col("_running") * 2 >= F.col("_total"))
        .groupBy(*group_cols)
        .agg(F.min(value_col).alias("median_follower_count"))
    )


def ordered(df: DataFrame) -> DataFrame:
    """Distinct rows in a readable order (every column, age groups in age order), as one small partition.

    Results are small (one row per country, year or group), so one sorted partition avoids a range-partitioning job.
    """
    keys = [age_group_order(F.col(c)) if c == "age_group" else F.col(c) for c in df.columns]
    return df.distinct().coalesce(1).sortWithinPartitions(*keys)
