"""Test helpers shared by the suites of both venvs (stdlib only)."""
