"""Benchmarks of the pipeline (`make bench`): each module's `run()` returns result rows; `__main__` collects them."""
