# Databricks notebook source
# MAGIC %md
# MAGIC # Pinterest stream: Kinesis to cleaned Delta tables
# MAGIC
# MAGIC Reads the three Kinesis streams `streaming-<user_id>-pin|geo|user`, cleans each micro-batch with the batch
# MAGIC path's own functions (`lib/cleaning`) and MERGEs it into `<prefix>_pin_table`, `<prefix>_geo_table`,
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
# MAGIC | `kinesis_auth` | `instance_profile`, `service_credential` or `secret_scope` (see `lib/kinesis_access`) | `instance_profile` |
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

# MAGIC %run ./lib/adapter

# COMMAND ----------

# MAGIC %run ./lib/cleaning

# COMMAND ----------

# MAGIC %run ./lib/kinesis_access

# COMMAND ----------

TRIGGERS = ("availableNow", "processingTime")

USER_ID = widget("user_id", "demo", label="user id")
REGION = widget("region", "us-east-1", label="AWS region")
TRIGGER = widget("trigger", "availableNow", choices=TRIGGERS, label="trigger")
INTERVAL = widget("interval", "10 seconds", label="interval (processingTime)")
INITIAL_POSITION = widget(
    "initial_position", "trim_horizon", choices=INITIAL_POSITIONS, label="initial position"
)
KINESIS_AUTH = widget(
    "kinesis_auth", "instance_profile", choices=KINESIS_AUTH_MODES, label="Kinesis credentials"
)
SERVICE_CREDENTIAL = widget("service_credential", "", label="service credential")
SECRET_SCOPE = widget("secret_scope", "aws", label="secret scope")
BUCKET = widget("bucket", "", label="lake bucket") or f"user-{USER_ID}-bucket"
CHECKPOINT_ROOT = (
    widget("checkpoint_root", "", label="checkpoint root") or f"s3://{BUCKET}/checkpoints/stream"
).rstrip("/")

OPTIONS = kinesis_options(REGION, INITIAL_POSITION, KINESIS_AUTH, SERVICE_CREDENTIAL, SECRET_SCOPE)
STREAMS = {dataset: stream_name(USER_ID, dataset) for dataset in DATASETS}
STREAM_TABLES = {dataset: table_name(USER_ID, f"{dataset}_table") for dataset in DATASETS}
print(f"streams: {', '.join(STREAMS.values())} -> tables {', '.join(STREAM_TABLES.values())}")
print(
    f"trigger: {TRIGGER}{' every ' + INTERVAL if TRIGGER == 'processingTime' else ''}; checkpoints: {CHECKPOINT_ROOT}"
)

# COMMAND ----------

# MAGIC %md
# MAGIC ## One streaming query per table
# MAGIC Each micro-batch is a static DataFrame, so the batch path's `clean_dataset` (cleaning and one row per `ind`)
# MAGIC applies as it is; the MERGE then skips the `ind`s the table already holds.

# COMMAND ----------


def empty_cleaned(dataset):
    """The schema of the cleaned `dataset`: the cleaning applied to no rows."""
    return clean_dataset(spark.createDataFrame([], RAW_SCHEMAS[dataset]), dataset)[0].schema


def read_once(records):
    """The micro-batch, persisted: the MERGE and the rejected records then read the stream once, not twice (and
    the query's `numInputRows` counts each record once). Not persisted where caching is not offered (serverless
    compute refuses PERSIST): each output then reads the micro-batch again."""
    try:
        return records.persist()
    except Exception as error:  # NOT_SUPPORTED_WITH_SERVERLESS
        print(f"micro-batch not persisted ({type(error).__name__}): it is read once per output")
        return records


def batch_writer(dataset):
    """The `foreachBatch` function of `dataset`: clean the micro-batch, MERGE new `ind`s, keep the rejected."""
    table, rejected_table = STREAM_TABLES[dataset], table_name(USER_ID, f"{dataset}_stream_rejected")

    def write_batch(records, batch_id):
        records = read_once(records)
        try:
            cleaned, rejected = clean_dataset(decode(records, dataset), dataset)
            merge_new_rows(cleaned, table)
            if rejected.take(1):
                save_table(rejected, rejected_table, mode="append")
        finally:
            if records.is_cached:
                records.unpersist()

    return write_batch


def start_query(dataset):
    """Start the streaming query that fills the table of `dataset`."""
    create_table_if_missing(STREAM_TABLES[dataset], empty_cleaned(dataset))
    writer = (
        read_stream(STREAMS[dataset], OPTIONS)
        .writeStream.queryName(f"{STREAM_TABLES[dataset]}_stream")
        .foreachBatch(batch_writer(dataset))
        .option("checkpointLocation", f"{CHECKPOINT_ROOT}/{dataset}")
    )
    if TRIGGER == "availableNow":
        writer = writer.trigger(availableNow=True)
    else:
        writer = writer.trigger(processingTime=INTERVAL)
    return writer.start()


# `awaitAnyTermination` below returns at once if any query of this session ended before (a previous run in the
# same notebook session): forget those, so only these queries end the wait.
spark.streams.resetTerminated()
QUERIES = {dataset: start_query(dataset) for dataset in DATASETS}

# COMMAND ----------

# MAGIC %md
# MAGIC ## Wait
# MAGIC `availableNow` queries stop by themselves once they have written what the streams held. `processingTime`
# MAGIC queries run until the job run is cancelled (or `query.stop()`); a query that fails stops the others and fails the
# MAGIC notebook.

# COMMAND ----------

import json

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

STREAM_ROWS = {table: read_table(table).count() for table in STREAM_TABLES.values()}
for table, rows in STREAM_ROWS.items():
    print(f"{table}: {rows:,} rows")
dbutils.notebook.exit(json.dumps(STREAM_ROWS))
