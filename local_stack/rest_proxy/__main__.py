"""`python -m local_stack.rest_proxy`: the proxy's command line (local_stack/rest_proxy/cli.py)."""

import sys

from local_stack.rest_proxy.cli import main

sys.exit(main())
