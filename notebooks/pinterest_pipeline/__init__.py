"""The Pinterest pipeline's shared notebook code, imported by `batch` and `stream` as a Python package.

On Databricks the package sits beside the notebooks (a Git folder, or workspace files imported with them); the
notebook's folder is on `sys.path`, so a notebook says `from pinterest_pipeline.cleaning import clean_dataset`.
Modules that need Spark or `dbutils` take them from `databricks.sdk.runtime`, as Databricks documents for files.

* `names`: every name derived from a user id, the widgets' choices, the nine result names (stdlib only: the
  local runner, the deploy CLI and the emulators import it too);
* `schemas`: the raw record schemas of the lake and the streams;
* `cleaning`: the cleaning rules of docs/data-contracts.md 3.6 (built-in Spark functions only);
* `queries`: the summary the nine questions are answered from, and the building blocks of their answers;
* `lake`: where the lake is (direct `s3://` or a DBFS mount) and how its JSON is read;
* `kinesis`: the Kinesis connector's options and how its records are decoded.

Nothing here is imported by `__init__`, so `pinterest_pipeline.names` needs neither Spark nor Databricks.
"""
