# Databricks notebook source
# MAGIC %md
# MAGIC # The nine query results (DESIGN 3.7), each a function of the cleaned DataFrames
# MAGIC
# MAGIC * inner joins on `ind`; rows with a null grouping key or value are left out;
# MAGIC * "most popular" = highest count, "top" = highest follower count; all tied rows are kept; rows are distinct;
# MAGIC * counts are of cleaned rows (one per `ind`);
# MAGIC * median = the smallest value with at least half the values less than or equal to it, which is what
# MAGIC   `percentile_approx(x, 0.5)` returns; the accuracy is raised to 1,000,000 so it is exact up to a million
# MAGIC   values per group;
# MAGIC * age groups `18-24`, `25-35`, `36-50`, `+50` (under 18: no group);
# MAGIC * post year = year of `geo.timestamp`, 2018-2022; join year = year of `user.date_joined`, 2015-2020, named
# MAGIC   `post_year` too.

# COMMAND ----------

from pyspark.sql import Window
from pyspark.sql import functions as F

AGE_GROUPS = (("18-24", 18, 24), ("25-35", 25, 35), ("36-50", 36, 50), ("+50", 51, None))
POST_YEARS = (2018, 2022)
JOIN_YEARS = (2015, 2020)
MEDIAN_ACCURACY = 1000000

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
    return F.percentile_approx(col, 0.5, MEDIAN_ACCURACY)


def not_null(df, *cols):
    for col in cols:
        df = df.where(F.col(col).isNotNull())
    return df


def with_post_year(geo):
    year = F.year("timestamp")
    return geo.withColumn("post_year", year).where(year.between(*POST_YEARS))


def with_join_year(user):
    year = F.year("date_joined")
    return user.withColumn("post_year", year).where(year.between(*JOIN_YEARS))


def with_age_group(user):
    return not_null(user.withColumn("age_group", age_group(F.col("age"))), "age_group")


def most_popular_category(df, group_col):
    counts = (
        not_null(df, group_col, "category")
        .groupBy(group_col, "category")
        .agg(F.count("*").alias("category_count"))
    )
    return keep_top(counts, [group_col], "category_count")


def popular_category_by_country(pin, geo):
    joined = pin.join(geo, "ind")
    return most_popular_category(joined, "country").select(*RESULT_COLUMNS["popular_category_by_country"])


def popular_category_by_year(pin, geo):
    joined = pin.join(with_post_year(geo), "ind")
    return most_popular_category(joined, "post_year").select(*RESULT_COLUMNS["popular_category_by_year"])


def top_user_by_country(pin, geo):
    joined = not_null(pin.join(geo, "ind"), "country", "poster_name", "follower_count")
    rows = joined.select("country", "poster_name", "follower_count").distinct()
    return keep_top(rows, ["country"], "follower_count")


def top_country_by_followers(pin, geo):
    rows = top_user_by_country(pin, geo).select("country", "follower_count").distinct()
    return keep_top_overall(rows, "follower_count")


def popular_category_by_age_group(pin, user):
    joined = pin.join(with_age_group(user), "ind")
    return most_popular_category(joined, "age_group").select(*RESULT_COLUMNS["popular_category_by_age_group"])


def median_followers(df, group_cols):
    return (
        not_null(df, *group_cols, "follower_count")
        .groupBy(*group_cols)
        .agg(median("follower_count").alias("median_follower_count"))
    )


def median_followers_by_age_group(pin, user):
    return median_followers(pin.join(with_age_group(user), "ind"), ["age_group"])


def users_joined_by_year(user):
    return with_join_year(user).groupBy("post_year").agg(F.count("*").alias("number_users_joined"))


def median_followers_by_join_year(pin, user):
    return median_followers(pin.join(with_join_year(user), "ind"), ["post_year"])


def median_followers_by_join_year_and_age_group(pin, user):
    return median_followers(pin.join(with_age_group(with_join_year(user)), "ind"), ["age_group", "post_year"])


QUERIES = {
    "popular_category_by_country": lambda t: popular_category_by_country(t["pin"], t["geo"]),
    "popular_category_by_year": lambda t: popular_category_by_year(t["pin"], t["geo"]),
    "top_user_by_country": lambda t: top_user_by_country(t["pin"], t["geo"]),
    "top_country_by_followers": lambda t: top_country_by_followers(t["pin"], t["geo"]),
    "popular_category_by_age_group": lambda t: popular_category_by_age_group(t["pin"], t["user"]),
    "median_followers_by_age_group": lambda t: median_followers_by_age_group(t["pin"], t["user"]),
    "users_joined_by_year": lambda t: users_joined_by_year(t["user"]),
    "median_followers_by_join_year": lambda t: median_followers_by_join_year(t["pin"], t["user"]),
    "median_followers_by_join_year_and_age_group": lambda t: median_followers_by_join_year_and_age_group(
        t["pin"], t["user"]
    ),
}


def ordered(df):
    """Distinct rows in a readable order (every column, age groups in age order), as one small partition.

    Results are small (one row per country, year or group), so one sorted partition avoids a range-partitioning job.
    """
    keys = [age_group_order(F.col(c)) if c == "age_group" else F.col(c) for c in df.columns]
    return df.distinct().coalesce(1).sortWithinPartitions(*keys)


def query_result(name, tables):
    """Result `name` over the cleaned tables (`{"pin": ..., "geo": ..., "user": ...}`): exact columns, ordered."""
    return ordered(QUERIES[name](tables).select(*RESULT_COLUMNS[name]))


def all_results(tables):
    """The nine results, by name."""
    return {name: query_result(name, tables) for name in QUERIES}
