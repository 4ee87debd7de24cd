"""Lake access: where the lake is and how its JSON is read.

The S3 sink writes `topics/<user_id>.pin|geo|user/partition=<p>/<topic>+<p>+<offset>.json`, newline-delimited
JSON, one record value per line (docs/data-contracts.md 3.4). Two ways in, chosen by the batch notebook's
`lake_access` widget:

* `direct` (default, Databricks' current recommendation): read `s3://<bucket>` with the cluster's instance
  profile, or a Unity Catalog external location / volume path given as the `bucket` widget
  (`s3://...`, `/Volumes/<catalog>/<schema>/<volume>`, any path Spark can read).
* `mount` (the course's way): mount `s3a://<bucket>` on `/mnt/<bucket>` with AWS keys read from a secret scope
  (keys `access_key_id` and `secret_access_key`) or, as the course does, from a Delta table (e.g.
  `authentication_credentials`, columns `Access key ID` and `Secret access key`). Keys never appear in a notebook.

Spark and `dbutils` come from `databricks.sdk.runtime`, as Databricks documents for workspace files.
"""

from __future__ import annotations

from urllib.parse import quote

from databricks.sdk.runtime import dbutils, spark
from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame

from .names import DATASETS, LAKE_ACCESS_MODES, topic_name
from .schemas import CORRUPT_RECORD, RAW_SCHEMAS

#: Columns of the course's `authentication_credentials` Delta table (an alternative to a secret scope).
CREDENTIALS_COLUMNS = ("Access key ID", "Secret access key")


def aws_keys(secret_scope: str, credentials_table: str = "") -> tuple[str, str]:
    """(access key id, secret access key): from the Delta table `credentials_table` when one is named, else from
    the secret scope `secret_scope` (keys `access_key_id` and `secret_access_key`)."""
    if not credentials_table:
        return (
            dbutils.secrets.get(scope=secret_scope, key="access_key_id"),
            dbutils.secrets.get(scope=secret_scope, key="secret_access_key"),
        )
    row = spark.table(credentials_table).select(*[f"`{c}`" for c in CREDENTIALS_COLUMNS]).first()
    if row is None:
        raise ValueError(f"the credentials table {credentials_table} is empty")
    return row[0], row[1]


def lake_root(mode: str, bucket: str, secret_scope: str = "aws", credentials_table: str = "") -> str:
    """Root path of the lake for `mode` (`direct` or `mount`) and `bucket` (a name, an `s3://` URI or a path).

    `mount` mounts `s3a://<bucket>` on `/mnt/<bucket>` unless it is mounted already (the secret key URL-encoded:
    a `/` in it would break the source URI), with the keys of `aws_keys`."""
    bucket = bucket.strip().rstrip("/")
    if not bucket:
        raise ValueError("the bucket widget is empty: give a bucket name, an s3:// URI or a path")
    if mode == "direct":
        return bucket if ("/" in bucket or ":" in bucket) else f"s3://{bucket}"
    if mode != "mount":
        raise ValueError(f"lake_access must be one of {', '.join(LAKE_ACCESS_MODES)}, not {mode!r}")
    name = bucket.split("://", 1)[-1].split("/", 1)[0]
    mount_point = f"/mnt/{name}"
    if all(mount.mountPoint != mount_point for mount in dbutils.fs.mounts()):
        access_key, secret_key = aws_keys(secret_scope, credentials_table)
        dbutils.fs.mount(f"s3a://{access_key}:{quote(secret_key, safe='')}@{name}", mount_point)
    return mount_point


def topic_path(root: str, topic: str) -> str:
    """Glob of every object of one topic."""
    return f"{root}/topics/{topic}/partition=*/*.json"


def read_topic(root: str, topic: str, dataset: str) -> DataFrame:
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


def read_lake(root: str, user_id: str) -> dict[str, DataFrame]:
    """The three raw datasets of `user_id` (`pin`, `geo`, `user`) from the lake at `root`."""
    return {dataset: read_topic(root, topic_name(user_id, dataset), dataset) for dataset in DATASETS}
