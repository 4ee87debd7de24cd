"""The local Databricks workspace: the REST API of a Databricks workspace (Workspace 2.0, Jobs 2.1/2.2, Secrets 2.0)
for `databricks-sdk`, the Databricks CLI's API calls and the Airflow Databricks provider, served on 127.0.0.1 by
`make local-up` (component `databricks`), whose runs execute imported notebooks on the local notebook runtime.

`server` is the HTTP side (auth, routing, Databricks' error bodies), `objects` the workspace tree, `jobs` the job
definitions and run records, `executor` the run processes, `secrets` the secret scopes (and `load_secret_store`,
the runtime's reader of a run's secrets), `store` the state on disk, `access_token` the access token, `formats` the
notebook formats, `cli` the command line.
"""

from databricks_local.workspace.secrets import SECRETS_FILE_ENV, SecretFileStore, load_secret_store

__all__ = ["SECRETS_FILE_ENV", "SecretFileStore", "load_secret_store"]
