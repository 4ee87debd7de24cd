"""Local stand-in for a Databricks cluster: runs the notebooks/ source files cell by cell on local Spark.

`runner` executes a notebook (`%run`, `%md`, `%sql`), `adapter` provides `spark`, `dbutils` and `display`,
`lake` makes `s3://` paths readable (boto3 sync), `session` holds the fast local Spark settings, `batch` is
`run_batch` (the `make run-batch` entry point) and `report` renders `report.html`.
"""
