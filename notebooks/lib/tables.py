# Databricks notebook source
# MAGIC %md
# MAGIC # Table names, one rule for both notebooks
# MAGIC
# MAGIC Every table starts with the user id made safe for a metastore: each character other than a letter, a digit or
# MAGIC `_` becomes `_` (`jane.doe` -> `jane_doe`; Unity Catalog and the Hive metastore refuse `.` and `-` in table
# MAGIC names even when quoted). `emulation/names.py` applies the same rule outside the notebooks.
# MAGIC
# MAGIC | table | written by | how |
# MAGIC |---|---|---|
# MAGIC | `<prefix>_pin_table`, `_geo_table`, `_user_table` | stream notebook | MERGE of new `ind`s (appends, never rewrites) |
# MAGIC | `<prefix>_pin_batch`, `_geo_batch`, `_user_batch` | batch notebook | overwritten by every run |
# MAGIC | `<prefix>_<dataset>_rejected`, `<prefix>_batch_counts`, `<prefix>_<result>` | batch notebook | overwritten |
# MAGIC | `<prefix>_<dataset>_stream_rejected` | stream notebook | appended |
# MAGIC
# MAGIC The daily batch and the stream never write the same table. Names are passed to Spark quoted (`quoted`).

# COMMAND ----------

import re


def table_prefix(user_id):
    """`user_id` as the start of a table name: characters other than `[A-Za-z0-9_]` become `_`."""
    if not user_id:
        raise ValueError("the user_id widget is empty: give the user id that names the topics and streams")
    return re.sub(r"[^A-Za-z0-9_]", "_", user_id)


def table_name(user_id, suffix):
    """`<prefix>_<suffix>`, e.g. `table_name("jane.doe", "pin_table")` -> `jane_doe_pin_table`."""
    return f"{table_prefix(user_id)}_{suffix}"


def quoted(name):
    """`name` as a quoted Spark SQL identifier."""
    return "`" + name.replace("`", "``") + "`"
