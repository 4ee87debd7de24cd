# Databricks notebook source
# MAGIC %md
# MAGIC # Clean pin data
# MAGIC Reads the pins, removes duplicates and publishes them as the global temp view `pins_clean`.

# COMMAND ----------

dbutils.widgets.dropdown("mode", "Batch", ["Batch"])
dbutils.widgets.text("source", "")
mode = dbutils.widgets.get("mode")

# COMMAND ----------

# DBTITLE 1,Load and clean
from pin_utils import clean, current_mode, load_pins

pins = clean(load_pins(dbutils.widgets.get("source")))
pins.createOrReplaceGlobalTempView("pins_clean")
pins.createOrReplaceTempView("pins_local")
spark.conf.set("spark.sql.shuffle.partitions", "3")
module_mode = current_mode()

# COMMAND ----------

# DBTITLE 1,Count the clean pins
# MAGIC %sql
# MAGIC -- a comment; with a semicolon
# MAGIC SELECT count(*) AS n FROM pins_local

# COMMAND ----------

cleaned_rows = _sqldf.first()["n"]
