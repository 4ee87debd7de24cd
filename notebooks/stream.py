# Databricks notebook source
# MAGIC %md
# MAGIC # Pinterest stream: Kinesis to cleaned Delta tables
# MAGIC
# MAGIC Reads the three Kinesis streams `streaming-<user_id>-pin|geo|user`, cleans each micro-batch with the batch
# MAGIC notebook's own functions (`pinterest_pipeline.cleaning`) and MERGEs it into `<prefix>_pin_table`, `<prefix>_geo_table`,
# MAGIC `<prefix>_user_table` (Delta; `<prefix>` is the user id with characters other than letters, digits and `_` made
# MAGIC `_`): a row is inserted only when its `ind` is new, so an event sent twice, or a micro-batch Spark replays after
# MAGIC a failure, never becomes a second row. Records that cannot be used (not JSON for the schema, no key) are appended
# MAGIC to `<prefix>_<dataset>_stream_rejected`. The daily batch notebook writes other tables (`<prefix>_<dataset>_batch`).
# MAGIC
# MAGIC | widget | meaning | default |
# MAGIC |---|---|---|
# MAGIC | `user_id` | names the streams and the tables | `demo` |
# MAGIC | `region` | AWS region of the streams | `us-east-1` |
# MAGIC | `trigger` | `availableNow`: read what the streams hold, write it, stop (scheduled runs); `processingTime`: run until stopped, a micro-batch every `interval` | `availableNow` |
# MAGIC | `interval` | micro-batch interval of `processingTime` | `10 seconds` |
# MAGIC | `initial_position` | where a new checkpoint starts reading: `trim_horizon` (everything retained) or `latest` | `trim_horizon` |
# MAGIC | `kinesis_auth` | `instance_profile`, `service_credential` or `secret_scope` (see `pinterest_pipeline/kinesis.py`) | `instance_profile` |
# MAGIC | `service_credential` | Unity Catalog service credential name (`service_credential` auth) | empty |
# MAGIC | `secret_scope` | scope holding `access_key_id` and `secret_access_key` (`secret_scope` auth) | `aws` |
# MAGIC | `bucket` | the lake bucket, home of the default checkpoints | `user-<user_id>-bucket` |
# MAGIC | `checkpoint_root` | one checkpoint per table under `<checkpoint_root>/<dataset>` | `s3://<bucket>/checkpoints/stream` |
# MAGIC
# MAGIC A checkpoint records what each table has read: a restarted run continues after it and reads only new records.
# MAGIC Deleting a checkpoint makes the next run start again from `initial_position` (the MERGE keeps the tables free of
# MAGIC duplicates even then). With `availableNow` the notebook ends with `dbutils.notebook.exit` of the row count of each
# MAGIC table, as JSON.

# COMMAND ----------

import json

from delta.tables import DeltaTable

from pinterest_pipeline.cleaning import clean_dataset
from pinterest_pipeline.kinesis import decode, kinesis_options
from pinterest_pipeline.names import (
    DATASETS,
    INITIAL_POSITIONS,
    KINESIS_AUTH_MODES,
    TRIGGERS,
    bucket_name,
    stream_name,
    stream_rejected_table,
    stream_table,
)
from pinterest_pipeline.schemas import RAW_SCHEMAS

spark.conf.set("spark.sql.session.timeZone", "UTC")

# COMMAND ----------

# DBTITLE 1,Widgets, the streams and the tables
dbutils.widgets.text("user_id", "demo", "user id")
dbutils.widgets.text("region", "us-east-1", "AWS region")
dbutils.widgets.dropdown("trigger", "availableNow", list(TRIGGERS), "trigger")
dbutils.widgets.text("interval", "10 seconds", "interval (processingTime)")
dbutils.widgets.dropdown("initial_position", "trim_horizon", list(INITIAL_POSITIONS), "initial position")
dbutils.widgets.dropdown("kinesis_auth", "instance_profile", list(KINESIS_AUTH_MODES), "Kinesis credentials")
dbutils.widgets.text("service_credential", "", "service credential")
dbutils.widgets.text("secret_scope", "aws", "secret scope")
dbutils.widgets.text("bucket", "", "lake bucket")
dbutils.widgets.text("checkpoint_root", "", "checkpoint root")

USER_ID = dbutils.widgets.get("user_id").strip()
TRIGGER = dbutils.widgets.get("trigger").strip()
INTERVAL = dbutils.widgets.get("interval").strip()
BUCKET = dbutils.widgets.get("bucket").strip() or bucket_name(USER_ID)
CHECKPOINT_ROOT = (
    dbutils.widgets.get("checkpoint_root").strip() or f"s3://{BUCKET}/checkpoints/stream"
).rstrip("/")
KINESIS_OPTIONS = kinesis_options(
    dbutils.widgets.get("region").strip(),
    dbutils.widgets.get("initial_position").strip(),
    dbutils.widgets.get("kinesis_auth").strip(),
    dbutils.widgets.get("service_credential").strip(),
    dbutils.widgets.get("secret_scope").strip(),
)
STREAMS = {dataset: stream_name(USER_ID, dataset) for dataset in DATASETS}
STREAM_TABLES = {dataset: stream_table(USER_ID, dataset) for dataset in DATASETS}
print(f"streams: {', '.join(STREAMS.values())} -> tables {', '.join(STREAM_TABLES.values())}")
print(
    f"trigger: {TRIGGER}{' every ' + INTERVAL if TRIGGER == 'processingTime' else ''}; checkpoints: {CHECKPOINT_ROOT}"
)

# COMMAND ----------

# MAGIC %md
# MAGIC ## The tables
# MAGIC Each stream table is created empty, with the cleaned schema, the first time: the MERGE needs a target.

# COMMAND ----------

# DBTITLE 1,Create the stream tables if missing
for dataset, table in STREAM_TABLES.items():
    if not spark.catalog.tableExists(table):
        empty = clean_dataset(spark.createDataFrame([], RAW_SCHEMAS[dataset]), dataset)[0]
        empty.write.format("delta").mode("append").saveAsTable(table)

# COMMAND ----------

# MAGIC %md
# MAGIC ## One streaming query per table
# MAGIC Each micro-batch is a static DataFrame, so the batch notebook's `clean_dataset` (cleaning and one row per
# MAGIC `ind`) applies as it is; the MERGE then inserts only the `ind`s the table does not hold yet. The micro-batch is
# MAGIC persisted, so the MERGE and the rejected records read the stream once (and the query's `numInputRows` counts
# MAGIC each record once); where caching is not offered (serverless compute refuses PERSIST) each output reads it again.
# MAGIC `foreachBatch` functions use the micro-batch's own session (`records.sparkSession`), as serverless and
# MAGIC standard access mode require.

# COMMAND ----------


# DBTITLE 1,Clean each micro-batch and MERGE it into its table
def merge_batch(dataset):
    """The `foreachBatch` function of `dataset`: clean the micro-batch, MERGE new `ind`s, keep the rejected."""

    def write_batch(records, batch_id):
        try:
            records = records.persist()
        except Exception as error:  # NOT_SUPPORTED_WITH_SERVERLESS
            print(
                f"micro-batch {batch_id} not persisted ({type(error).__name__}): it is read once per output"
            )
        try:
            cleaned, rejected = clean_dataset(decode(records, dataset), dataset)
            (
                DeltaTable.forName(records.sparkSession, STREAM_TABLES[dataset])
                .alias("t")
                .merge(cleaned.alias("s"), "t.ind = s.ind")
                .whenNotMatchedInsertAll()
                .execute()
            )
            if rejected.take(1):
                rejected.write.format("delta").mode("append").saveAsTable(
                    stream_rejected_table(USER_ID, dataset)
                )
        finally:
            if records.is_cached:
                records.unpersist()

    return write_batch


# `awaitAnyTermination` below returns at once if any query of this session ended before (a previous run in the
# same notebook session): forget those, so only these queries end the wait.
spark.streams.resetTerminated()
QUERIES = {}
for dataset in DATASETS:
    writer = (
        spark.readStream.format("kinesis")
        .option("streamName", STREAMS[dataset])
        .options(**KINESIS_OPTIONS)
        .load()
        .writeStream.queryName(f"{STREAM_TABLES[dataset]}_stream")
        .foreachBatch(merge_batch(dataset))
        .option("checkpointLocation", f"{CHECKPOINT_ROOT}/{dataset}")
    )
    if TRIGGER == "availableNow":
        QUERIES[dataset] = writer.trigger(availableNow=True).start()
    else:
        QUERIES[dataset] = writer.trigger(processingTime=INTERVAL).start()

# COMMAND ----------

# MAGIC %md
# MAGIC ## Wait
# MAGIC `availableNow` queries stop by themselves once they have written what the streams held. `processingTime`
# MAGIC queries run until the job run is cancelled (or `query.stop()`); a query that fails stops the others and fails the
# MAGIC notebook.

# COMMAND ----------

try:
    if TRIGGER == "availableNow":
        for query in QUERIES.values():
            query.awaitTermination()
    else:
        spark.streams.awaitAnyTermination()
finally:
    for query in QUERIES.values():
        if query.isActive:
            query.stop()
for query in QUERIES.values():
    if query.exception() is not None:
        raise RuntimeError(f"streaming query {query.name} failed: {query.exception()}")

STREAM_ROWS = {table: spark.table(table).count() for table in STREAM_TABLES.values()}
display(spark.createDataFrame(list(STREAM_ROWS.items()), "table string, rows long"))
dbutils.notebook.exit(json.dumps(STREAM_ROWS))
