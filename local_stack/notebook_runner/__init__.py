"""This project's notebooks on the local Databricks runtime (`databricks_local`): the local entry points.

`batch` is `run_batch` (the `make run-batch` entry point), `stream` is `run_stream` (`make run-stream`), `report`
renders `report.html`; `python -m local_stack.notebook_runner run` runs any notebook on the runtime.
"""
