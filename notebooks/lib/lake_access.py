# Databricks notebook source
# MAGIC %md
# MAGIC # Lake access: where the lake is and how its JSON is read
# MAGIC
# MAGIC The S3 sink writes `topics/<user_id>.pin|geo|user/partition=<p>/<topic>+<p>+<offset>.json`, newline-delimited
# MAGIC JSON, one record value per line (docs/data-contracts.md 3.4). Two ways in, chosen by the `lake_access` widget of the caller:
# MAGIC
# MAGIC * `direct` (default, Databricks' current recommendation): read `s3://<bucket>` with the cluster's instance
# MAGIC   profile, or a Unity Catalog external location / volume path given as the `bucket` widget
# MAGIC   (`s3://...`, `/Volumes/<catalog>/<schema>/<volume>`, any path Spark can read).
# MAGIC * `mount` (the course's way): mount `s3a://<bucket>` on `/mnt/<bucket>` with AWS keys read from a secret scope
# MAGIC   (`secret_scope` widget, keys `access_key_id` and `secret_access_key`) or, as the course does, from a Delta
# MAGIC   table (`credentials_table` widget, e.g. `authentication_credentials`, columns `Access key ID` and
# MAGIC   `Secret access key`). Keys never appear in a notebook.
# MAGIC
# MAGIC Schemas are explicit (no inference). Datetimes are read as strings and typed by the cleaning, which accepts
# MAGIC ISO-8601 and `YYYY-MM-DD HH:MM:SS`. A line that is not valid JSON for the schema lands in `_corrupt_record`.

# COMMAND ----------

from pyspark.errors import AnalysisException
from pyspark.sql import types as T

spark.conf.set("spark.sql.session.timeZone", "UTC")

CORRUPT_RECORD = "_corrupt_record"
LAKE_ACCESS_MODES = ("direct", "mount")
DATASETS = ("pin", "geo", "user")


def _schema(*fields):
    return T.StructType(
        [T.StructField(n, t, True) for n, t in fields] + [T.StructField(CORRUPT_RECORD, T.StringType())]
    )


#: Raw record schemas (docs/data-contracts.md 3.1 columns, in order). `follower_count` is text on purpose (`538k`, `2M`).
RAW_SCHEMAS = {
    "pin": _schema(
        ("index", T.LongType()),
        ("unique_id", T.StringType()),
        ("title", T.StringType()),
        ("description", T.StringType()),
        ("poster_name", T.StringType()),
        ("follower_count", T.StringType()),
        ("tag_list", T.StringType()),
        ("is_image_or_video", T.StringType()),
        ("image_src", T.StringType()),
        ("downloaded", T.LongType()),
        ("save_location", T.StringType()),
        ("category", T.StringType()),
    ),
    "geo": _schema(
        ("ind", T.LongType()),
        ("timestamp", T.StringType()),
        ("latitude", T.DoubleType()),
        ("longitude", T.DoubleType()),
        ("country", T.StringType()),
    ),
    "user": _schema(
        ("ind", T.LongType()),
        ("first_name", T.StringType()),
        ("last_name", T.StringType()),
        ("age", T.LongType()),
        ("date_joined", T.StringType()),
    ),
}


def lake_root(mode, bucket, secret_scope="aws", credentials_table=""):
    """Root path of the lake for `mode` (`direct` or `mount`) and `bucket` (a name, an `s3://` URI or a path).

    `mount` takes its keys from `credentials_table` when one is named, else from `secret_scope`."""
    bucket = bucket.strip().rstrip("/")
    if not bucket:
        raise ValueError("the bucket widget is empty: give a bucket name, an s3:// URI or a path")
    if mode == "mount":
        name = bucket.split("://", 1)[-1].split("/", 1)[0]
        return mount_bucket(name, secret_scope, credentials_table)
    if mode == "direct":
        return bucket if ("/" in bucket or ":" in bucket) else f"s3://{bucket}"
    raise ValueError(f"lake_access must be one of {', '.join(LAKE_ACCESS_MODES)}, not {mode!r}")


def topic_path(root, topic):
    """Glob of every object of one topic."""
    return f"{root}/topics/{topic}/partition=*/*.json"


def read_topic(root, topic, dataset):
    """Raw records of one topic with the dataset's explicit schema; empty (same schema) when it has no objects."""
    schema = RAW_SCHEMAS[dataset]
    try:
        return (
            spark.read.schema(schema)
            .option("mode", "PERMISSIVE")
            .option("columnNameOfCorruptRecord", CORRUPT_RECORD)
            .json(topic_path(root, topic))
        )
    except AnalysisException as error:
        if "PATH_NOT_FOUND" not in str(error) and "Path does not exist" not in str(error):
            raise
        print(f"no objects under {topic_path(root, topic)}: {dataset} is empty")
        return spark.createDataFrame([], schema)


def read_lake(root, user_id):
    """The three raw datasets of `user_id` (`pin`, `geo`, `user`) from the lake at `root`."""
    return {dataset: read_topic(root, f"{user_id}.{dataset}", dataset) for dataset in DATASETS}
