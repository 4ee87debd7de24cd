"""Local Databricks runtime: what a Databricks cluster gives a notebook, on local Spark.

The one seam between Databricks notebooks and this machine: it provides `spark`, `dbutils`, `display`,
`displayHTML`, `sc`, `sqlContext`, DBFS and Delta, so that a notebook exported from a workspace runs unchanged.
Nothing else in the repository knows that it runs locally.

`runner` executes notebooks cell by cell (`%run`, `%md`, `%sql`), `adapter` provides `spark`, `dbutils` and
`display`, `delta` the Delta tables (through the `deltalake` package), `kinesis_source` the `kinesis` streaming
source, `lake` makes `s3://` paths readable (boto3 sync), `session` holds the fast local Spark settings and
`source` parses the notebook formats; `dbfs` is DBFS and `dbutils.fs`, `spark_hooks` prepares the real
SparkSession a notebook gets (`prepare_session`), `delta_tables` and `delta_sql` are Delta's Python API and SQL,
`credentials` the course's credentials table.
"""
