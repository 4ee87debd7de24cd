# Databricks notebook source
# MAGIC %md
# MAGIC Read the pin stream from Kinesis with the course's keys and append it to a Delta table, with a checkpoint.

# COMMAND ----------

dbutils.widgets.text("stream", "")
dbutils.widgets.text("table", "")
STREAM = dbutils.widgets.get("stream")
TABLE = dbutils.widgets.get("table")

aws_keys_df = spark.read.format("delta").load("dbfs:/user/hive/warehouse/authentication_credentials")
ACCESS_KEY = aws_keys_df.select("Access key ID").collect()[0]["Access key ID"]
SECRET_KEY = aws_keys_df.select("Secret access key").collect()[0]["Secret access key"]

# COMMAND ----------

from pyspark.sql.functions import col, from_json
from pyspark.sql.types import IntegerType, StringType, StructField, StructType

df = (
    spark.readStream.format("kinesis")
    .option("streamName", STREAM)
    .option("region", "us-east-1")
    .option("initialPosition", "earliest")
    .option("awsAccessKey", ACCESS_KEY)
    .option("awsSecretKey", SECRET_KEY)
    .load()
)
schema = StructType([
    StructField("index", IntegerType()),
    StructField("category", StringType()),
    StructField("title", StringType()),
])
pins = df.selectExpr("CAST(data AS STRING) AS json").select(from_json(col("json"), schema).alias("pin")).select("pin.*")

# COMMAND ----------

# DBTITLE 1,Append to the Delta table
query = (
    pins.writeStream.format("delta")
    .outputMode("append")
    .option("checkpointLocation", f"/tmp/kinesis/_checkpoints/{TABLE}/")
    .trigger(availableNow=True)
    .table(TABLE)
)
query.awaitTermination()

# COMMAND ----------

display(spark.sql(f"SELECT category, count(*) AS pins FROM {TABLE} GROUP BY category"))
