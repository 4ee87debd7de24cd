# Databricks notebook source
# MAGIC %md
# MAGIC Another notebook of the same workspace: the mount is still there, the Delta table is read by path.

# COMMAND ----------

dbutils.widgets.text("user_id", "")
USER_ID = dbutils.widgets.get("user_id")
display(dbutils.fs.mounts())

# COMMAND ----------

pins = spark.read.format("delta").load("/mnt/pinterest_data/delta/pin")
pins.createOrReplaceGlobalTempView("pins")
by_category = spark.sql(
    "SELECT category, count(*) AS pins FROM delta.`/mnt/pinterest_data/delta/pin` GROUP BY category ORDER BY category"
)
display(by_category)

# COMMAND ----------

# MAGIC %sql
# MAGIC DESCRIBE HISTORY delta.`dbfs:/mnt/pinterest_data/delta/pin`

# COMMAND ----------

# MAGIC %sql
# MAGIC -- the table the other notebook saved, by name
# MAGIC SELECT count(*) AS n FROM pin_raw

# COMMAND ----------

from delta.tables import DeltaTable

table = DeltaTable.forPath(spark, "/mnt/pinterest_data/delta/pin")
table.update(condition="category = 'art'", set={"category": "'fine art'"})
HISTORY = [row.operation for row in table.history().collect()]
CATEGORIES = sorted(row.category for row in spark.read.format("delta").load("/mnt/pinterest_data/delta/pin").collect())
dbutils.notebook.exit(",".join(CATEGORIES))
