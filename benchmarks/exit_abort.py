"""Reproducer of the abort at interpreter exit ("terminate called without an active exception", issue 19).

The demo's last step reads the stream notebook's Delta tables with `databricks_local.delta.read_inds` (deltalake ->
Arrow), then the interpreter exits. This script does the same on small inputs: it writes one small Delta table
(MERGE-d like a stream notebook's table), then runs N child interpreters that each read it the way the demo does and
exit, and counts the children that did not exit 0 or printed `terminate called` / `Aborted` / `core dumped`.

    .venv/bin/python -m benchmarks.exit_abort --runs 100             # the repo's read path (delta.read_arrow)
    .venv/bin/python -m benchmarks.exit_abort --runs 100 --read old  # deltalake's to_pyarrow_dataset(), as before

Root cause (gdb on the core dump): deltalake's `to_pyarrow_dataset()` wraps its Python storage handler in
`pyarrow.fs.PyFileSystem`, so the Parquet reads' buffers are `arrow::py::PyBuffer`s owned by Python. A worker of
Arrow's I/O thread pool (`arrow::internal::ThreadPool`, running `RandomAccessFile::ReadAsync` for Parquet's
pre-buffering) that drops the last reference while the main thread is in `Py_FinalizeEx` calls `PyGILState_Ensure`;
Python ends a thread that asks for the GIL during finalization with `pthread_exit`, whose forced unwind crosses the
noexcept `~PyBuffer` destructor: `std::terminate`, "terminate called without an active exception", SIGABRT.

It is a diagnostic, not part of `make bench` or `make test` (a loop of interpreters takes a while).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MARKERS = ("terminate called", "Aborted", "core dumped")

# One read, then straight to interpreter exit: the abort needs an Arrow I/O thread still finishing a read's task while
# the interpreter finalizes, so a child that does little else hits it most often (about 1 in 25 to 1 in 50 runs).
CHILD = r"""
import sys
path, mode, expected = sys.argv[1], sys.argv[2], int(sys.argv[3])
if mode == "old":
    from deltalake import DeltaTable
    table = DeltaTable(path).to_pyarrow_dataset().to_table(columns=["ind"], use_threads=False)
    inds = set(table.column("ind").to_pylist())
else:
    from databricks_local.delta import read_inds
    inds = read_inds(path)
sys.exit(0 if len(inds) == expected else 3)
"""


def make_table(path: Path, commits: int = 30, rows: int = 100) -> int:
    """A Delta table of `commits` MERGE-inserts of `rows` rows each (a stream table's shape); its row count."""
    import pyarrow as pa
    from deltalake import DeltaTable, write_deltalake

    for c in range(commits):
        batch = pa.table(
            {
                "ind": pa.array(range(c * rows, (c + 1) * rows), pa.int64()),
                "value": pa.array([f"v{i}" for i in range(rows)]),
            }
        )
        if c == 0:
            write_deltalake(str(path), batch)
        else:
            DeltaTable(str(path)).merge(
                batch, "t.ind = s.ind", source_alias="s", target_alias="t"
            ).when_not_matched_insert_all().execute()
    return commits * rows


def run(runs: int, mode: str, path: Path, expected: int) -> tuple[int, list[str]]:
    """Run the child `runs` times; (aborted runs, one line per failure)."""
    failures: list[str] = []
    for i in range(runs):
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(path), mode, str(expected)],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=Path(__file__).resolve().parent.parent,
        )
        output = done.stdout + done.stderr
        if done.returncode != 0 or any(m in output for m in MARKERS):
            failures.append(f"run {i + 1}: exit {done.returncode}: {output.strip().splitlines()[-1:]}")
    return len(failures), failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.exit_abort",
        description="Run N fresh interpreters that read small Delta tables and exit; count the aborted ones.",
    )
    parser.add_argument("--runs", type=int, default=100, help="child interpreters to run (default 100)")
    parser.add_argument("--read", choices=("repo", "old"), default="repo", help="read path to exercise")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="exit-abort-") as tmp:
        path = Path(tmp) / "table"
        expected = make_table(path)
        started = time.perf_counter()
        aborted, failures = run(args.runs, args.read, path, expected)
    for line in failures:
        print(line)
    print(
        f"{aborted} of {args.runs} runs aborted or failed ({args.read} read path, "
        f"{time.perf_counter() - started:.0f} s)"
    )
    return 1 if aborted else 0


if __name__ == "__main__":
    sys.exit(main())
