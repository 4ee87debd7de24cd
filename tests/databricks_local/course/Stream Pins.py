# Databricks notebook source
# MAGIC %md
# MAGIC # Stream pins as they arrive
# MAGIC A continuous query, written as on a cluster; the local runner's `--available-now` drains it and moves on.

# COMMAND ----------

dbutils.widgets.text("source", "")
source = dbutils.widgets.get("source")
display(dbutils.fs.ls(source))

# COMMAND ----------

# DBTITLE 1,What has arrived so far
pins_stream = spark.readStream.schema(
    "index long, category string, follower_count string, title string"
).json(source)
display(pins_stream)

# COMMAND ----------

query = (
    pins_stream.writeStream.format("memory")
    .queryName("pins_arrived")
    .trigger(processingTime="10 seconds")
    .start()
)

# COMMAND ----------

arrived = spark.table("pins_arrived").count()
spark.table("pins_arrived").orderBy("index").display()
displayHTML(f"<h3>Pins</h3><p><b>{arrived}</b> pins arrived</p>")

# COMMAND ----------

dbutils.notebook.exit(str(arrived))
