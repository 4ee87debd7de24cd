"""Local Databricks runtime: what a Databricks cluster gives a notebook, on local Spark.

The one seam between Databricks notebooks and this machine: it provides `spark`, `dbutils`, `display`,
`displayHTML`, `sc`, `sqlContext`, DBFS and Delta, so that a notebook exported from a workspace runs unchanged.
Nothing else in the repository knows that it runs locally.

`runner` executes notebooks cell by cell (`%run`, `%md`, `%sql`), `spark_hooks` prepares each notebook's real
SparkSession (paths through DBFS, Delta formats), `dbfs` is DBFS, its mounts and the S3 mirror, `delta`,
`delta_tables` and `delta_sql` the Delta tables (through the `deltalake` package), `credentials` the course's
credentials table, `kinesis_source` the `kinesis` streaming source, `lake` makes `s3://` paths readable (boto3
sync), `session` holds the fast local Spark settings and `source` parses the notebook formats.

`cluster` is the one local cluster (a SparkSession per notebook, the active-session and streaming hooks), `dbutils`
and `display` are the notebook's `dbutils` and `display`, and `runtime` is the `databricks.sdk.runtime` seam
(with the `dbruntime` stand-in in `_shim/`).
"""
