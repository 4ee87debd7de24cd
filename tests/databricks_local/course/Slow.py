# Databricks notebook source
# MAGIC %md
# MAGIC # A notebook slower than its caller's timeout

# COMMAND ----------

import time

for _ in range(200):
    time.sleep(0.05)
dbutils.notebook.exit("finished")
