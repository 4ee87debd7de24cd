# Databricks notebook source
# MAGIC %md
# MAGIC # Pinterest batch: read the lake, clean, answer the nine questions
# MAGIC
# MAGIC Widgets (job parameters of the same names override them):
# MAGIC
# MAGIC | widget | meaning | default |
# MAGIC |---|---|---|
# MAGIC | `user_id` | prefix of the topics (`<user_id>.pin`, `.geo`, `.user`) and of the tables | `demo` |
# MAGIC | `lake_access` | `direct` (s3:// with an instance profile, a UC external location or volume path) or `mount` (DBFS mount, keys from a secret scope or a credentials table) | `direct` |
# MAGIC | `bucket` | bucket name, `s3://` URI or path of the lake | `user-<user_id>-bucket` |
# MAGIC | `secret_scope` | secret scope holding `access_key_id` and `secret_access_key` (mount only) | `aws` |
# MAGIC | `credentials_table` | instead of the scope: a Delta table with columns `Access key ID`, `Secret access key` (the course's `authentication_credentials`; mount only) | empty |
# MAGIC
# MAGIC Writes (Delta, replaced by every run; `<prefix>` is the user id with characters other than letters, digits and `_`
# MAGIC made `_`, see `pinterest_pipeline/names.py`) the cleaned tables `<prefix>_pin_batch`, `<prefix>_geo_batch`,
# MAGIC `<prefix>_user_batch`, the rejected records `<prefix>_<dataset>_rejected` (when there are any), the row counts
# MAGIC `<prefix>_batch_counts` and one table `<prefix>_<result>` per question. The stream notebook's
# MAGIC `<prefix>_<dataset>_table` are never touched. The shared code is the package `pinterest_pipeline` beside this
# MAGIC notebook.

# COMMAND ----------

import json
from concurrent.futures import ThreadPoolExecutor

from pyspark.sql import Observation
from pyspark.sql import functions as F

from pinterest_pipeline.cleaning import clean_dataset, is_rejected, split_rejected
from pinterest_pipeline.lake import lake_root, read_lake
from pinterest_pipeline.names import (
    DATASETS,
    LAKE_ACCESS_MODES,
    RESULT_COLUMNS,
    RESULT_NAMES,
    batch_table,
    bucket_name,
    counts_table,
    rejected_table,
    result_table,
)
from pinterest_pipeline.queries import (
    facet,
    keep_top,
    keep_top_overall,
    median_of_counts,
    ordered,
    query_summary,
)

spark.conf.set("spark.sql.session.timeZone", "UTC")

# COMMAND ----------

# DBTITLE 1,Widgets, the lake and the table names
dbutils.widgets.text("user_id", "demo", "user id")
dbutils.widgets.dropdown("lake_access", "direct", list(LAKE_ACCESS_MODES), "lake access")
dbutils.widgets.text("bucket", "", "bucket, s3:// URI or path")
dbutils.widgets.text("secret_scope", "aws", "secret scope (mount)")
dbutils.widgets.text("credentials_table", "", "credentials table (mount, instead of the scope)")

USER_ID = dbutils.widgets.get("user_id").strip()
LAKE_ACCESS = dbutils.widgets.get("lake_access").strip()
BUCKET = dbutils.widgets.get("bucket").strip() or bucket_name(USER_ID)
LAKE = lake_root(
    LAKE_ACCESS,
    BUCKET,
    dbutils.widgets.get("secret_scope").strip(),
    dbutils.widgets.get("credentials_table").strip(),
)
CLEAN_TABLES = {dataset: batch_table(USER_ID, dataset) for dataset in DATASETS}
RESULT_TABLES = {name: result_table(USER_ID, name) for name in RESULT_NAMES}
print(f"lake: {LAKE} ({LAKE_ACCESS}); tables {', '.join(CLEAN_TABLES.values())}")

# COMMAND ----------

# MAGIC %md
# MAGIC ## Read and clean
# MAGIC The records read and rejected are counted while the cleaned table is written, so the JSON is read once
# MAGIC (twice only when some records are rejected: they are written to `<prefix>_<dataset>_rejected`). The three
# MAGIC datasets are cleaned at the same time (Spark jobs from three threads), so no core idles while one job
# MAGIC finishes its last task or commits its files.

# COMMAND ----------

# DBTITLE 1,Read and clean the three datasets
raw = read_lake(LAKE, USER_ID)


def clean_and_save(dataset):
    """Write the cleaned table (and the rejected records, if any) of `dataset`; return its row counts."""
    # Count the records read, rejected and written while the cleaned table is written: one pass over the JSON.
    seen, written = Observation(f"{dataset}_read"), Observation(f"{dataset}_written")
    observed = raw[dataset].observe(
        seen, F.count(F.lit(1)).alias("read"), F.sum(is_rejected(dataset).cast("long")).alias("rejected")
    )
    cleaned, _ = clean_dataset(observed, dataset)
    (
        cleaned.observe(written, F.count(F.lit(1)).alias("rows"))
        .write.format("delta")
        .mode("overwrite")
        .option("overwriteSchema", "true")
        .saveAsTable(CLEAN_TABLES[dataset])
    )
    read, n_rejected, n_cleaned = seen.get["read"], seen.get["rejected"] or 0, written.get["rows"]
    if n_rejected:  # a second pass, only when something was rejected
        rejected = split_rejected(raw[dataset], dataset)[1]
        (
            rejected.write.format("delta")
            .mode("overwrite")
            .option("overwriteSchema", "true")
            .saveAsTable(rejected_table(USER_ID, dataset))
        )
    else:
        spark.sql(f"DROP TABLE IF EXISTS {rejected_table(USER_ID, dataset)}")
    return (dataset, read, n_rejected, read - n_rejected - n_cleaned, n_cleaned)


with ThreadPoolExecutor(max_workers=3) as pool:
    batch_counts = list(pool.map(clean_and_save, DATASETS))

counts_df = spark.createDataFrame(
    batch_counts, "dataset string, read long, rejected long, duplicates_removed long, cleaned long"
)
counts_df.write.format("delta").mode("overwrite").option("overwriteSchema", "true").saveAsTable(
    counts_table(USER_ID)
)
display(counts_df)

# COMMAND ----------

# MAGIC %md
# MAGIC ## The nine questions
# MAGIC Each question below reads the cleaned tables just written. The questions about pins read the summary of
# MAGIC `query_summary` (`pinterest_pipeline/queries.py`): one pass over the pins joined with their geo and user rows,
# MAGIC counting pins per combination of the keys the questions group by (`facet` picks one kind of count), cached.
# MAGIC Every answer is displayed here and saved as `<prefix>_<result>` by the cell after the questions.

# COMMAND ----------

# DBTITLE 1,The cleaned tables, joined once and summarised
summary = query_summary({dataset: spark.table(name) for dataset, name in CLEAN_TABLES.items()})
spark.table(CLEAN_TABLES["user"]).createOrReplaceTempView("cleaned_users")
answers = {}

# COMMAND ----------

# DBTITLE 1,Question 1: What is the most popular category in each country?
category_by_country = (
    facet(summary, "category", "country", "category")
    .groupBy("country", "category")
    .agg(F.sum("pins").alias("category_count"))
)
answers["popular_category_by_country"] = keep_top(category_by_country, ["country"], "category_count")
display(answers["popular_category_by_country"])

# COMMAND ----------

# DBTITLE 1,Question 2: What was the most popular category each year, 2018 to 2022?
category_by_year = (
    facet(summary, "category", "post_year", "category")
    .groupBy("post_year", "category")
    .agg(F.sum("pins").alias("category_count"))
)
answers["popular_category_by_year"] = keep_top(category_by_year, ["post_year"], "category_count")
display(answers["popular_category_by_year"])

# COMMAND ----------

# DBTITLE 1,Question 3: Which user has the most followers in each country?
posters = facet(summary, "poster", "country", "poster_name", "follower_count").select(
    "country", "poster_name", "follower_count"
)
answers["top_user_by_country"] = keep_top(posters, ["country"], "follower_count")
display(answers["top_user_by_country"])

# COMMAND ----------

# DBTITLE 1,Question 4: Which country has the user with the most followers?
followers_by_country = (
    answers["top_user_by_country"].groupBy("country").agg(F.max("follower_count").alias("follower_count"))
)
answers["top_country_by_followers"] = keep_top_overall(followers_by_country, "follower_count")
display(answers["top_country_by_followers"])

# COMMAND ----------

# DBTITLE 1,Question 5: What is the most popular category for each age group?
category_by_age_group = (
    facet(summary, "category", "age_group", "category")
    .groupBy("age_group", "category")
    .agg(F.sum("pins").alias("category_count"))
)
answers["popular_category_by_age_group"] = keep_top(category_by_age_group, ["age_group"], "category_count")
display(answers["popular_category_by_age_group"])

# COMMAND ----------

# DBTITLE 1,Question 6: What is the median follower count for each age group?
answers["median_followers_by_age_group"] = median_of_counts(
    facet(summary, "followers", "age_group", "follower_count"), ["age_group"]
)
display(answers["median_followers_by_age_group"])

# COMMAND ----------

# DBTITLE 1,Question 7: How many users joined each year, 2015 to 2020?
# MAGIC %sql
# MAGIC SELECT year(date_joined) AS post_year, count(*) AS number_users_joined
# MAGIC FROM cleaned_users
# MAGIC WHERE year(date_joined) BETWEEN 2015 AND 2020
# MAGIC GROUP BY year(date_joined)
# MAGIC ORDER BY post_year

# COMMAND ----------

# The %sql cell's answer is its `_sqldf`.
answers["users_joined_by_year"] = _sqldf

# COMMAND ----------

# DBTITLE 1,Question 8: What is the median follower count of users by the year they joined, 2015 to 2020?
answers["median_followers_by_join_year"] = median_of_counts(
    facet(summary, "followers", "join_year", "follower_count"), ["join_year"]
).withColumnRenamed("join_year", "post_year")
display(answers["median_followers_by_join_year"])

# COMMAND ----------

# DBTITLE 1,Question 9: What is the median follower count by joining year and age group?
answers["median_followers_by_join_year_and_age_group"] = median_of_counts(
    facet(summary, "followers", "age_group", "join_year", "follower_count"), ["age_group", "join_year"]
).withColumnRenamed("join_year", "post_year")
display(answers["median_followers_by_join_year_and_age_group"])

# COMMAND ----------

# MAGIC %md
# MAGIC Each answer, with the columns of docs/data-contracts.md 3.7 in their order, is written as the Delta table
# MAGIC `<prefix>_<result>` and its rows counted while it is written; the nine are written at the same time (Spark
# MAGIC jobs from a few threads: each is small, so planning and commits would otherwise leave cores idle).

# COMMAND ----------


# DBTITLE 1,Save the nine answers
def save_answer(name):
    """Write the answer `name` as its table; its row count, observed during the write (no second pass)."""
    written = Observation(f"{name}_rows")
    (
        ordered(answers[name].select(*RESULT_COLUMNS[name]))
        .observe(written, F.count(F.lit(1)).alias("rows"))
        .write.format("delta")
        .mode("overwrite")
        .option("overwriteSchema", "true")
        .saveAsTable(RESULT_TABLES[name])
    )
    return written.get["rows"]


with ThreadPoolExecutor(max_workers=4) as pool:
    RESULT_ROWS = dict(zip(RESULT_NAMES, pool.map(save_answer, RESULT_NAMES), strict=True))
if summary.is_cached:
    summary.unpersist()
display(spark.createDataFrame(list(RESULT_ROWS.items()), "result string, rows long"))

# COMMAND ----------

# MAGIC %md
# MAGIC The notebook's result: the row count of each of the nine answers, as JSON (what the Airflow DAG checks).

# COMMAND ----------

dbutils.notebook.exit(json.dumps(RESULT_ROWS))
