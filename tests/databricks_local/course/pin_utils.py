"""A module beside the course notebooks (a Databricks Git folder): it reaches the notebook's objects the way
Databricks modules do, through `databricks.sdk.runtime`."""

from databricks.sdk.runtime import dbutils, spark
from pyspark.sql import DataFrame
from pyspark.sql import functions as F


def load_pins(path: str) -> DataFrame:
    return spark.read.schema("index long, category string, follower_count string, title string").json(path)


def clean(df: DataFrame) -> DataFrame:
    return df.withColumn("follower_count", F.col("follower_count").cast("int")).dropDuplicates(["index"])


def current_mode() -> str:
    return dbutils.widgets.get("mode")


def session_id() -> str:
    return str(spark._jsparkSession.hashCode())
