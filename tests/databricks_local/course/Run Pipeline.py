# Databricks notebook source
# MAGIC %md
# MAGIC # Run the pipeline: clean in this session, query in a notebook job of its own

# COMMAND ----------

# MAGIC %pip install pin-helpers==1.0

# COMMAND ----------

# MAGIC %run "./Clean Pin Data" $mode="Stream"

# COMMAND ----------

# DBTITLE 1,Query in its own session
import json

answer = json.loads(
    dbutils.notebook.run("/Users/student@example.com/course/Query Pins", 60, {"min_followers": "50"})
)

# COMMAND ----------

try:
    dbutils.notebook.run("./Broken", 60)
except Exception as error:
    failure = f"{type(error).__name__}: {error}"

# COMMAND ----------

try:
    dbutils.notebook.run("Slow", 1)
except Exception as error:
    timeout_failure = f"{type(error).__name__}: {error}"

# COMMAND ----------

dbutils.notebook.exit(str(cleaned_rows))
