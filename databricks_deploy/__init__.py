"""Deploy the pipeline's Databricks side with `databricks-sdk`: import the notebooks, create or update the job.

`python -m databricks_deploy import-notebooks|deploy-job --help` (or `make import-notebooks`, `make deploy-job`).
"""
