# Databricks notebook source
# MAGIC %md
# MAGIC # The nine query results (docs/data-contracts.md 3.7), each a function of the cleaned DataFrames
# MAGIC
# MAGIC * inner joins on `ind`; rows with a null grouping key or value are left out;
# MAGIC * "most popular" = highest count, "top" = highest follower count; all tied rows are kept; rows are distinct;
# MAGIC * counts are of cleaned rows (one per `ind`);
# MAGIC * median = the smallest value with at least half the values less than or equal to it: SQL's
# MAGIC   `percentile_disc(0.5)`, exact for any number of values;
# MAGIC * age groups `18-24`, `25-35`, `36-50`, `+50` (under 18: no group);
# MAGIC * post year = year of `geo.timestamp`, 2018-2022; join year = year of `user.date_joined`, 2015-2020, named
# MAGIC   `post_year` too.
# MAGIC
# MAGIC The queries read a summary built once by `query_summary` and cached: the pins, joined once with their geo and
# MAGIC user rows, counted per combination of the keys the queries group by (country, years, age group, category,
# MAGIC poster, follower count). A few hundred thousand counts stand for a million pins, so each of the nine queries is
# MAGIC a small aggregation (a median from counts of each follower count) instead of another pass over the pins.

# COMMAND ----------

from pyspark.sql import Window
from pyspark.sql import functions as F

AGE_GROUPS = (("18-24", 18, 24), ("25-35", 25, 35), ("36-50", 36, 50), ("+50", 51, None))
POST_YEARS = (2018, 2022)
JOIN_YEARS = (2015, 2020)

RESULT_COLUMNS = {
    "popular_category_by_country": ("country", "category", "category_count"),
    "popular_category_by_year": ("post_year", "category", "category_count"),
    "top_user_by_country": ("country", "poster_name", "follower_count"),
    "top_country_by_followers": ("country", "follower_count"),
    "popular_category_by_age_group": ("age_group", "category", "category_count"),
    "median_followers_by_age_group": ("age_group", "median_follower_count"),
    "users_joined_by_year": ("post_year", "number_users_joined"),
    "median_followers_by_join_year": ("post_year", "median_follower_count"),
    "median_followers_by_join_year_and_age_group": ("age_group", "post_year", "median_follower_count"),
}
#: The nine result names in the order of docs/data-contracts.md 3.7: the one list. The Airflow DAG repeats it (MWAA
#: gets only airflow/dags/); tests/databricks_deploy/test_result_names.py ties the DAG's copy and the docs to it.
RESULT_NAMES = tuple(RESULT_COLUMNS)


def age_group(age):
    """The age group label of `age`, null under 18 (or when unknown)."""
    label = None
    for name, low, high in reversed(AGE_GROUPS):
        test = (age >= low) if high is None else age.between(low, high)
        label = F.when(test, F.lit(name)) if label is None else F.when(test, F.lit(name)).otherwise(label)
    return label


def age_group_order(col):
    """Sort key putting age groups in age order."""
    return F.array_position(F.array(*[F.lit(name) for name, _, _ in AGE_GROUPS]), col)


def year_within(col, years):
    """The year of timestamp `col` when it lies within `years` (first, last), else null."""
    year = F.year(col)
    return F.when(year.between(*years), year)


#: The counts the nine queries need, one kind of row (`facet`) each: keys counted together in one pass.
FACETS = {
    "category": ("country", "post_year", "age_group", "join_year", "category"),
    "followers": ("age_group", "join_year", "follower_count"),
    "poster": ("country", "poster_name", "follower_count"),
}
FACET_KEYS = ("country", "post_year", "age_group", "join_year", "category", "poster_name", "follower_count")


def pins_with_keys(tables):
    """Every pin with the keys the queries group by: its geo row's `country, post_year` and its user row's
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


def query_summary(tables):
    """The queries' input: pins counted per combination of keys of each facet, plus users per join year; cached.

    `summary["pins"]`: `facet, <FACET_KEYS>, pins`, one row per facet and combination of its keys (the other keys
    null). A few hundred thousand rows summarise a million pins, and the three counts share one pass over one
    join, so each query is a small aggregation of small data. `summary["users"]`: `post_year, users`.

    A pin without a geo row has a null `country` and `post_year`, one without a user row a null `age_group` and
    `join_year`, and the queries leave null keys out: the same rows as inner joins.
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
    users = tables["user"].select(year_within(F.col("date_joined"), JOIN_YEARS).alias("post_year"))
    users = users.where(F.col("post_year").isNotNull()).groupBy("post_year").agg(F.count("*").alias("users"))
    # Small enough for one partition: the queries then group and rank without a single shuffle.
    return {"pins": cached(counts.coalesce(1)), "users": cached(users.coalesce(1))}


def cached(df):
    """`df.cache()`; `df` itself where caching is not offered (Databricks serverless compute refuses PERSIST)."""
    try:
        return df.cache()
    except Exception as error:  # NOT_SUPPORTED_WITH_SERVERLESS
        print(f"not cached ({type(error).__name__}): every query recomputes the summary")
        return df


def release_summary(summary):
    """Drop the cached summary from memory (nothing to do where it was not cached)."""
    for df in summary.values():
        if df.is_cached:
            df.unpersist()


def facet(summary, name, *not_null_cols):
    """The summary rows of facet `name` whose `not_null_cols` are all set."""
    rows = summary["pins"].where(F.col("facet") == name)
    for col in not_null_cols:
        rows = rows.where(F.col(col).isNotNull())
    return rows


def keep_top(df, group_cols, value_col):
    """Rows whose `value_col` is the highest of their group (all tied rows kept)."""
    window = Window.partitionBy(*group_cols)
    return (
        df.withColumn("_top", F.max(value_col).over(window))
        .where(F.col(value_col) == F.col("_top"))
        .drop("_top")
    )


def keep_top_overall(df, value_col):
    """Rows whose `value_col` is the highest of the whole DataFrame (all tied rows kept)."""
    top = df.agg(F.max(value_col).alias("_top"))
    return df.join(top, F.col(value_col) == F.col("_top")).drop("_top")


def median_of_counts(df, group_cols, value_col="follower_count", count_col="pins"):
    """Per group, the median of `value_col` over rows that each stand for `count_col` values.

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


def most_popular_category(summary, group_col):
    """Per value of `group_col`: the categories with the most pins (`group_col, category, category_count`)."""
    counts = (
        facet(summary, "category", group_col, "category")
        .groupBy(group_col, "category")
        .agg(F.sum("pins").alias("category_count"))
    )
    return keep_top(counts, [group_col], "category_count")


def median_followers(summary, group_cols):
    """Per group: the median follower count of the pins (`*group_cols, median_follower_count`)."""
    return median_of_counts(facet(summary, "followers", *group_cols, "follower_count"), group_cols)


def popular_category_by_country(summary):
    return most_popular_category(summary, "country")


def popular_category_by_year(summary):
    return most_popular_category(summary, "post_year")


def posters_by_country(summary):
    """Distinct `country, poster_name, follower_count` of the pins that have all three."""
    return facet(summary, "poster", "country", "poster_name", "follower_count").select(
        "country", "poster_name", "follower_count"
    )


def top_user_by_country(summary):
    return keep_top(posters_by_country(summary), ["country"], "follower_count")


def top_country_by_followers(summary):
    top_per_country = (
        posters_by_country(summary).groupBy("country").agg(F.max("follower_count").alias("follower_count"))
    )
    return keep_top_overall(top_per_country, "follower_count")


def popular_category_by_age_group(summary):
    return most_popular_category(summary, "age_group")


def median_followers_by_age_group(summary):
    return median_followers(summary, ["age_group"])


def users_joined_by_year(summary):
    return summary["users"].select("post_year", F.col("users").alias("number_users_joined"))


def median_followers_by_join_year(summary):
    return median_followers(summary, ["join_year"]).withColumnRenamed("join_year", "post_year")


def median_followers_by_join_year_and_age_group(summary):
    return median_followers(summary, ["age_group", "join_year"]).withColumnRenamed("join_year", "post_year")


QUERIES = {
    "popular_category_by_country": popular_category_by_country,
    "popular_category_by_year": popular_category_by_year,
    "top_user_by_country": top_user_by_country,
    "top_country_by_followers": top_country_by_followers,
    "popular_category_by_age_group": popular_category_by_age_group,
    "median_followers_by_age_group": median_followers_by_age_group,
    "users_joined_by_year": users_joined_by_year,
    "median_followers_by_join_year": median_followers_by_join_year,
    "median_followers_by_join_year_and_age_group": median_followers_by_join_year_and_age_group,
}


def ordered(df):
    """Distinct rows in a readable order (every column, age groups in age order), as one small partition.

    Results are small (one row per country, year or group), so one sorted partition avoids a range-partitioning job.
    """
    keys = [age_group_order(F.col(c)) if c == "age_group" else F.col(c) for c in df.columns]
    return df.distinct().coalesce(1).sortWithinPartitions(*keys)


def query_result(name, summary):
    """Result `name` from the summary of `query_summary`: exact columns, ordered."""
    return ordered(QUERIES[name](summary).select(*RESULT_COLUMNS[name]))


def all_results(summary):
    """The nine results from the summary of `query_summary`, by name."""
    return {name: query_result(name, summary) for name in QUERIES}
