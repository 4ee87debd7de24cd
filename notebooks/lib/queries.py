# Databricks notebook source
# MAGIC %md
# MAGIC # The nine query results (DESIGN 3.7), each a function of the cleaned DataFrames
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
# MAGIC The queries read three views built once by `query_views` and cached: pins joined with their geo rows, pins
# MAGIC joined with their user rows (age group and join year already computed), and the users. Each view keeps only
# MAGIC the columns the queries use, so the two joins run once, not once per query.

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


def query_views(tables):
    """The queries' inputs from the cleaned tables, each computed once and cached.

    * `pin_geo`: pins with a geo row: `ind, category, poster_name, follower_count, country, post_year`;
    * `pin_user`: pins with a user row: `ind, category, follower_count, age_group, join_year`;
    * `user`: `ind, age_group, join_year`.

    `post_year` and `join_year` are null outside 2018-2022 and 2015-2020, `age_group` under 18.
    """
    pin = tables["pin"].select("ind", "category", "poster_name", "follower_count")
    geo = tables["geo"].select(
        "ind", "country", year_within(F.col("timestamp"), POST_YEARS).alias("post_year")
    )
    user = tables["user"].select(
        "ind",
        age_group(F.col("age")).alias("age_group"),
        year_within(F.col("date_joined"), JOIN_YEARS).alias("join_year"),
    )
    return {
        "pin_geo": cached(pin.join(geo, "ind")),
        "pin_user": cached(pin.drop("poster_name").join(user, "ind")),
        "user": cached(user),
    }


def cached(df):
    """`df.cache()`; `df` itself where caching is not offered (Databricks serverless compute refuses PERSIST)."""
    try:
        return df.cache()
    except Exception as error:  # NOT_SUPPORTED_WITH_SERVERLESS
        print(f"not cached ({type(error).__name__}): every query recomputes its join")
        return df


def release_views(views):
    """Drop the cached views from memory (nothing to do where they were not cached)."""
    for view in views.values():
        if view.is_cached:
            view.unpersist()


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


def median(col):
    """The smallest value with at least half of the values less than or equal to it (exact, discrete).

    `percentile_disc` answers a double; the median is one of the (integer) follower counts, so it is cast back.
    """
    return F.expr(f"percentile_disc(0.5) WITHIN GROUP (ORDER BY {col})").cast("int")


def not_null(df, *cols):
    for col in cols:
        df = df.where(F.col(col).isNotNull())
    return df


def most_popular_category(df, group_col):
    """Per value of `group_col`: the categories with the most rows (`group_col, category, category_count`)."""
    counts = (
        not_null(df, group_col, "category")
        .groupBy(group_col, "category")
        .agg(F.count("*").alias("category_count"))
    )
    return keep_top(counts, [group_col], "category_count")


def median_followers(df, group_cols):
    """Per group: the median follower count (`*group_cols, median_follower_count`)."""
    return (
        not_null(df, *group_cols, "follower_count")
        .groupBy(*group_cols)
        .agg(median("follower_count").alias("median_follower_count"))
    )


def popular_category_by_country(views):
    return most_popular_category(views["pin_geo"], "country")


def popular_category_by_year(views):
    return most_popular_category(views["pin_geo"], "post_year")


def followers_by_country(views):
    """Pins with a country, a poster and a follower count: `country, poster_name, follower_count`."""
    return not_null(views["pin_geo"], "country", "poster_name", "follower_count").select(
        "country", "poster_name", "follower_count"
    )


def top_followers_by_country(views):
    """The highest follower count of each country: `country, follower_count` (one small row per country)."""
    return followers_by_country(views).groupBy("country").agg(F.max("follower_count").alias("follower_count"))


def top_user_by_country(views):
    # The maxima are one row per country: joined back as a broadcast, no sort of the million pins.
    top = F.broadcast(top_followers_by_country(views))
    return followers_by_country(views).join(top, ["country", "follower_count"]).distinct()


def top_country_by_followers(views):
    return keep_top_overall(top_followers_by_country(views), "follower_count")


def popular_category_by_age_group(views):
    return most_popular_category(views["pin_user"], "age_group")


def median_followers_by_age_group(views):
    return median_followers(views["pin_user"], ["age_group"])


def users_joined_by_year(views):
    users = not_null(views["user"], "join_year")
    return users.groupBy(F.col("join_year").alias("post_year")).agg(F.count("*").alias("number_users_joined"))


def median_followers_by_join_year(views):
    return median_followers(views["pin_user"].withColumnRenamed("join_year", "post_year"), ["post_year"])


def median_followers_by_join_year_and_age_group(views):
    pins = views["pin_user"].withColumnRenamed("join_year", "post_year")
    return median_followers(pins, ["age_group", "post_year"])


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


def query_result(name, views):
    """Result `name` over the views of `query_views`: exact columns, ordered."""
    return ordered(QUERIES[name](views).select(*RESULT_COLUMNS[name]))


def all_results(views):
    """The nine results over the views of `query_views`, by name."""
    return {name: query_result(name, views) for name in QUERIES}
