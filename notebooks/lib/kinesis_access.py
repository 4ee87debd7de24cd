# Databricks notebook source
# MAGIC %md
# MAGIC # Kinesis access: where the streams are, how to authenticate, how their records are decoded
# MAGIC
# MAGIC The API Gateway puts each source row into `streaming-<user_id>-pin|geo|user` as the JSON object itself
# MAGIC (docs/data-contracts.md 3.5). `spark.readStream.format("kinesis")` (Databricks' connector, or the local
# MAGIC runner's stand-in with the same schema and options) gives `partitionKey, data, stream, shardId, sequenceNumber,
# MAGIC approximateArrivalTimestamp`; `decode` parses `data` with the dataset's explicit schema, the same one the batch
# MAGIC path reads the lake with, so a record that is not valid JSON for it lands in `_corrupt_record` as in the lake.
# MAGIC
# MAGIC Credentials (`kinesis_auth` widget of the caller):
# MAGIC
# MAGIC * `instance_profile` (default): the cluster's instance profile (or the default AWS credential chain);
# MAGIC * `service_credential`: a Unity Catalog service credential, by name (Databricks Runtime 16.1 and above);
# MAGIC * `secret_scope`: keys `access_key_id` and `secret_access_key` of a secret scope, passed as `awsAccessKey` and
# MAGIC   `awsSecretKey`. Keys never appear in a notebook.

# COMMAND ----------

# MAGIC %run ./lake_access

# COMMAND ----------

from pyspark.sql import functions as F

KINESIS_AUTH_MODES = ("instance_profile", "service_credential", "secret_scope")
INITIAL_POSITIONS = ("trim_horizon", "latest")


def stream_name(user_id, dataset):
    """The Kinesis stream of `dataset`: `streaming-<user_id>-<dataset>`."""
    return f"streaming-{user_id}-{dataset}"


def kinesis_options(
    region, initial_position, auth="instance_profile", service_credential="", secret_scope="aws"
):
    """The connector's options for one way of authenticating (see the table above)."""
    if initial_position not in INITIAL_POSITIONS:
        raise ValueError(
            f"initial_position must be one of {', '.join(INITIAL_POSITIONS)}, not {initial_position!r}"
        )
    options = {"region": region, "initialPosition": initial_position}
    if auth == "service_credential":
        if not service_credential:
            raise ValueError(
                "kinesis_auth is service_credential: name the credential in the service_credential widget"
            )
        options["serviceCredential"] = service_credential
    elif auth == "secret_scope":
        options["awsAccessKey"] = secret(secret_scope, "access_key_id")
        options["awsSecretKey"] = secret(secret_scope, "secret_access_key")
    elif auth != "instance_profile":
        raise ValueError(f"kinesis_auth must be one of {', '.join(KINESIS_AUTH_MODES)}, not {auth!r}")
    return options


def read_stream(name, options):
    """The records of the Kinesis stream `name`, as a streaming DataFrame."""
    return spark.readStream.format("kinesis").option("streamName", name).options(**options).load()


def decode(records, dataset):
    """Raw rows of `dataset` (its lake schema, `_corrupt_record` included) from the records' `data`."""
    parsed = F.from_json(
        F.col("data").cast("string"),
        RAW_SCHEMAS[dataset],
        {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT_RECORD},
    )
    return records.select(parsed.alias("record")).select("record.*")
