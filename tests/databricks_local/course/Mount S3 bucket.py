# Databricks notebook source
# MAGIC %md
# MAGIC # Mount the S3 bucket
# MAGIC The AWS keys come from the `authentication_credentials` Delta table; the secret key is URL-encoded into the
# MAGIC mount source, as the course does.

# COMMAND ----------

from pyspark.sql.functions import *
import urllib

dbutils.widgets.text("bucket", "")
dbutils.widgets.text("user_id", "")
AWS_S3_BUCKET = dbutils.widgets.get("bucket")
USER_ID = dbutils.widgets.get("user_id")

# COMMAND ----------

# DBTITLE 1,Read the AWS keys
# Define the path to the Delta table
delta_table_path = "dbfs:/user/hive/warehouse/authentication_credentials"

# Read the Delta table to a Spark DataFrame
aws_keys_df = spark.read.format("delta").load(delta_table_path)

# Get the AWS access key and secret key from the spark dataframe
ACCESS_KEY = aws_keys_df.select('Access key ID').collect()[0]['Access key ID']
SECRET_KEY = aws_keys_df.select('Secret access key').collect()[0]['Secret access key']
# Encode the secret key
ENCODED_SECRET_KEY = urllib.parse.quote(string=SECRET_KEY, safe="")

# COMMAND ----------

# DBTITLE 1,Mount
MOUNT_NAME = "/mnt/pinterest_data"
SOURCE_URL = "s3n://{0}:{1}@{2}".format(ACCESS_KEY, ENCODED_SECRET_KEY, AWS_S3_BUCKET)
try:
    dbutils.fs.mount(SOURCE_URL, MOUNT_NAME)
except Exception as error:
    print(f"remounting: {error}")
    dbutils.fs.unmount(MOUNT_NAME)
    dbutils.fs.mount(SOURCE_URL, MOUNT_NAME)

# COMMAND ----------

display(dbutils.fs.ls(f"/mnt/pinterest_data/topics/{USER_ID}.pin/partition=0/"))

# COMMAND ----------

# DBTITLE 1,Read the pins from the mount
# File location and type
# Asterisk(*) indicates reading all the content of the specified file that have .json extension
file_location = f"/mnt/pinterest_data/topics/{USER_ID}.pin/partition=0/*.json"
file_type = "json"
# Ask Spark to infer the schema
infer_schema = "true"
# Read in JSONs from mounted S3 bucket
df_pin = spark.read.format(file_type) \
    .option("inferSchema", infer_schema) \
    .load(file_location)
display(df_pin)

# COMMAND ----------

# DBTITLE 1,Keep them as Delta, in the bucket and as a table
df_pin.write.format("delta").mode("overwrite").save("/mnt/pinterest_data/delta/pin")
df_pin.write.format("delta").mode("overwrite").saveAsTable("pin_raw")
