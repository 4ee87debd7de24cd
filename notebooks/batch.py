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
# MAGIC made `_`, see `lib/tables`) the cleaned tables `<prefix>_pin_batch`, `<prefix>_geo_batch`, `<prefix>_user_batch`,
# MAGIC the rejected records `<prefix>_<dataset>_rejected` (when there are any), the row counts `<prefix>_batch_counts` and
# MAGIC one table `<prefix>_<result>` per query result. The stream notebook's `<prefix>_<dataset>_table` are never touched.

# COMMAND ----------

# MAGIC %run ./lib/adapter

# COMMAND ----------

# MAGIC %run ./lib/cleaning

# COMMAND ----------

# MAGIC %run ./lib/queries

# COMMAND ----------

USER_ID = widget("user_id", "demo", label="user id")
LAKE_ACCESS = widget("lake_access", "direct", choices=LAKE_ACCESS_MODES, label="lake access")
BUCKET = widget("bucket", "", label="bucket, s3:// URI or path") or f"user-{USER_ID}-bucket"
SECRET_SCOPE = widget("secret_scope", "aws", label="secret scope (mount)")
CREDENTIALS_TABLE = widget("credentials_table", "", label="credentials table (mount, instead of the scope)")
LAKE = lake_root(LAKE_ACCESS, BUCKET, SECRET_SCOPE, CREDENTIALS_TABLE)
print(f"lake: {LAKE} ({LAKE_ACCESS})")

# COMMAND ----------

# MAGIC %md
# MAGIC ## Read and clean
# MAGIC The records read and rejected are counted while the cleaned table is written, so the JSON is read once
# MAGIC (twice only when some records are rejected: they are written to `<prefix>_<dataset>_rejected`). The three
# MAGIC datasets are cleaned at the same time (Spark jobs from three threads), so no core idles while one job
# MAGIC finishes its last task or commits its files.

# COMMAND ----------

from concurrent.futures import ThreadPoolExecutor

from pyspark.sql import Observation


def in_parallel(function, items, max_workers=4):
    """`[function(item) for item in items]`, run from a few threads: each call's Spark jobs share the cluster.

    Small jobs spend much of their time in driver-side planning and commits; running several at once keeps every
    core busy. The first exception raised is raised here.
    """
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        return list(pool.map(function, items))


raw = read_lake(LAKE, USER_ID)
CLEAN_TABLES = {dataset: table_name(USER_ID, f"{dataset}_batch") for dataset in DATASETS}


def save_and_count(df, name):
    """Write `df` as table `name`; its row count, observed during the write (no second pass, no extra job)."""
    written = Observation(f"{name}_rows")
    save_table(df.observe(written, F.count(F.lit(1)).alias("rows")), name)
    return written.get["rows"]


def clean_and_save(dataset):
    """Write the cleaned table (and the rejected records, if any) of `dataset`; return its row counts."""
    # Count the records read and rejected while the cleaned table is written: one pass over the JSON.
    seen = Observation(f"{dataset}_read")
    observed = raw[dataset].observe(
        seen, F.count(F.lit(1)).alias("read"), F.sum(is_rejected(dataset).cast("long")).alias("rejected")
    )
    cleaned, _ = clean_dataset(observed, dataset)
    n_cleaned = save_and_count(cleaned, CLEAN_TABLES[dataset])
    read, n_rejected = seen.get["read"], seen.get["rejected"] or 0
    if n_rejected:  # a second pass, only when something was rejected
        save_table(split_rejected(raw[dataset], dataset)[1], table_name(USER_ID, f"{dataset}_rejected"))
    else:
        drop_table(table_name(USER_ID, f"{dataset}_rejected"))
    return (dataset, read, n_rejected, read - n_rejected - n_cleaned, n_cleaned)


batch_counts = in_parallel(clean_and_save, DATASETS)
for dataset, read, n_rejected, _, n_cleaned in batch_counts:
    print(f"{dataset}: read {read:,}, rejected {n_rejected:,}, cleaned {n_cleaned:,}")

counts_df = spark.createDataFrame(
    batch_counts, "dataset string, read long, rejected long, duplicates_removed long, cleaned long"
)
save_table(counts_df, table_name(USER_ID, "batch_counts"))
show(counts_df)

# COMMAND ----------

# MAGIC %md
# MAGIC ## The nine results
# MAGIC Computed from the cleaned tables just written, through the cached summary of `query_summary` (one pass over
# MAGIC the pins joined with their geo and user rows), written at the same time as `<prefix>_<result>`, then displayed.

# COMMAND ----------

summary = query_summary({dataset: read_table(name) for dataset, name in CLEAN_TABLES.items()})
results = all_results(summary)
RESULT_TABLES = {name: table_name(USER_ID, name) for name in results}
saved = in_parallel(lambda name: save_and_count(results[name], RESULT_TABLES[name]), list(results))
RESULT_ROWS = dict(zip(results, saved, strict=True))
release_summary(summary)
for name, table in RESULT_TABLES.items():
    print(name)
    show(read_table(table))

# COMMAND ----------

# MAGIC %md
# MAGIC The notebook's result: the row count of each of the nine results, as JSON (what the Airflow DAG checks).

# COMMAND ----------

import json

dbutils.notebook.exit(json.dumps(RESULT_ROWS))
