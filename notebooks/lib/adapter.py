# Databricks notebook source
# MAGIC %md
# MAGIC # Adapter: the only Databricks-specific calls
# MAGIC
# MAGIC Widgets, secrets, mounts, `display` and Delta table reads and writes live here and nowhere else, so every
# MAGIC other notebook is plain PySpark. On Databricks these functions call `dbutils`, `display`, `saveAsTable` and
# MAGIC `delta.tables.DeltaTable` directly; the local runner (`python -m local_stack.notebook_runner`) provides objects
# MAGIC with the same methods (Delta through the `deltalake` package), so this file is the same in both places and never
# MAGIC asks where it runs.

# COMMAND ----------

# MAGIC %run ./tables

# COMMAND ----------

from urllib.parse import quote

#: Columns of the course's `authentication_credentials` Delta table (an alternative to a secret scope).
CREDENTIALS_COLUMNS = ("Access key ID", "Secret access key")


def widget(name, default="", choices=None, label=None):
    """Declare a text widget (or a dropdown when `choices` is given) and return its value, stripped.

    A job parameter or a `--widget name=value` of the local runner with the same name overrides the default.
    """
    if choices:
        dbutils.widgets.dropdown(name, default, list(choices), label or name)
    else:
        dbutils.widgets.text(name, default, label or name)
    return dbutils.widgets.get(name).strip()


def secret(scope, key):
    """A secret from a Databricks secret scope (never printed, never written in a notebook)."""
    return dbutils.secrets.get(scope=scope, key=key)


def aws_keys(scope, credentials_table=""):
    """(access key id, secret access key): from the Delta table `credentials_table` when one is named (the
    course's `authentication_credentials`, columns `Access key ID` and `Secret access key`), else from the secret
    scope `scope` (keys `access_key_id` and `secret_access_key`)."""
    if not credentials_table:
        return secret(scope, "access_key_id"), secret(scope, "secret_access_key")
    row = spark.table(credentials_table).select(*[f"`{c}`" for c in CREDENTIALS_COLUMNS]).first()
    if row is None:
        raise ValueError(f"the credentials table {credentials_table} is empty")
    return row[0], row[1]


def mount_bucket(bucket, scope, credentials_table=""):
    """Mount `s3a://<bucket>` at `/mnt/<bucket>` with AWS keys (see `aws_keys`); return the mount point.

    Mounting twice is a no-op. The secret key is URL-encoded (a `/` in it would break the source URI).
    """
    mount_point = f"/mnt/{bucket}"
    if any(m.mountPoint == mount_point for m in dbutils.fs.mounts()):
        return mount_point
    access_key, secret_key = aws_keys(scope, credentials_table)
    dbutils.fs.mount(f"s3a://{access_key}:{quote(secret_key, safe='')}@{bucket}", mount_point)
    return mount_point


def show(df):
    """Show a DataFrame the notebook way (a rendered table on Databricks, a printed head locally)."""
    display(df)


def save_table(df, name, mode="overwrite"):
    """Write `df` as the managed Delta table `name` (replacing it by default; `mode="append"` adds to it)."""
    writer = df.write.format("delta").mode(mode)
    if mode == "overwrite":
        writer = writer.option("overwriteSchema", "true")
    writer.saveAsTable(quoted(name))
    return name


def read_table(name):
    """The current version of the table `name`."""
    return spark.table(quoted(name))


def drop_table(name):
    """Drop the table `name` if it exists."""
    spark.sql(f"DROP TABLE IF EXISTS {quoted(name)}")


def create_table_if_missing(name, schema):
    """Create the empty Delta table `name` with `schema` unless a table of that name exists."""
    if not spark.catalog.tableExists(quoted(name)):
        save_table(spark.createDataFrame([], schema), name, mode="append")


def merge_new_rows(df, name, key="ind"):
    """Insert the rows of `df` whose `key` the Delta table `name` does not hold yet: a MERGE, so a re-sent event
    or a micro-batch Spark replays never adds a second row. `df` must hold one row per key. Returns the metrics.

    Uses the DataFrame's own session, as `foreachBatch` functions must (serverless and standard access mode run
    them apart from the notebook's session).
    """
    from delta.tables import DeltaTable

    target = DeltaTable.forName(df.sparkSession, quoted(name)).alias("t")
    return target.merge(df.alias("s"), f"t.{key} = s.{key}").whenNotMatchedInsertAll().execute()
