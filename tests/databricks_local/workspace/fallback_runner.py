"""Test tooling only: runs `python -m local_stack.notebook_runner ARGS...` (the workspace's runner command) after
handing the run's secrets file over as `DATABRICKS_SECRET_<SCOPE>_<KEY>` variables, which `dbutils.secrets` reads
already, until the runtime reads `DATABRICKS_LOCAL_SECRETS_FILE` itself through
`databricks_local.workspace.secrets.SecretFileStore` (the lead wires it into `dbutils`). Then this can go and the
tests use the workspace's default runner."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def export_secrets() -> None:
    """The run's secrets file as `DATABRICKS_SECRET_<SCOPE>_<KEY>` variables (the environment wins, as in dbutils)."""
    secrets_file = os.environ.get("DATABRICKS_LOCAL_SECRETS_FILE")
    if not secrets_file:
        return
    sys.path.insert(0, str(REPO))
    from databricks_local.workspace.secrets import load_secret_store

    for scope, keys in load_secret_store(secrets_file).items():
        for key, value in keys.items():
            name = "DATABRICKS_SECRET_" + re.sub(r"[^A-Za-z0-9]", "_", f"{scope}_{key}").upper()
            os.environ.setdefault(name, value)


if __name__ == "__main__":
    export_secrets()
    os.execv(sys.executable, [sys.executable, "-m", "local_stack.notebook_runner", *sys.argv[1:]])
