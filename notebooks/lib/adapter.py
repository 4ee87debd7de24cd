# Databricks notebook source
# MAGIC %md
# MAGIC # Adapter: the only Databricks-specific calls
# MAGIC
# MAGIC Widgets, secrets, mounts, `display` and table writes live here and nowhere else, so every other notebook is
# MAGIC plain PySpark. On Databricks these functions call `dbutils`, `display` and `saveAsTable` directly; the local
# MAGIC runner (`python -m local_stack.notebook_runner`) provides objects with the same methods, so this file is the
# MAGIC same in both places and never asks where it runs.

# COMMAND ----------

from urllib.parse import quote


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


def mount_bucket(bucket, scope, access_key_name="access_key_id", secret_key_name="secret_access_key"):
    """Mount `s3a://<bucket>` at `/mnt/<bucket>` with AWS keys from secret scope `scope`; return the mount point.

    Mounting twice is a no-op. The secret key is URL-encoded (a `/` in it would break the source URI).
    """
    mount_point = f"/mnt/{bucket}"
    if any(m.mountPoint == mount_point for m in dbutils.fs.mounts()):
        return mount_point
    access_key = secret(scope, access_key_name)
    secret_key = quote(secret(scope, secret_key_name), safe="")
    dbutils.fs.mount(f"s3a://{access_key}:{secret_key}@{bucket}", mount_point)
    return mount_point


def show(df):
    """Show a DataFrame the notebook way (a rendered table on Databricks, a printed head locally)."""
    display(df)


def save_table(df, name):
    """Write `df` as the table `name`, replacing it (managed table: Delta on Databricks, Parquet locally)."""
    df.write.mode("overwrite").option("overwriteSchema", "true").saveAsTable(name)
    return name
