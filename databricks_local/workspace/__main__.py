"""`python -m databricks_local.workspace`: the local workspace's server (see `cli.py`)."""

import sys

from databricks_local.workspace.cli import main

sys.exit(main())
