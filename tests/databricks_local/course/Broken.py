# Databricks notebook source
# MAGIC %md
# MAGIC # A notebook that asks for what only Databricks has

# COMMAND ----------

ready = True
dbutils.credentials.assumeRole("arn:aws:iam::123456789012:role/course")
