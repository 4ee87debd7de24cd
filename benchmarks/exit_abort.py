"""Reproducer of the abort at interpreter exit ("terminate called without an active exception", issue 19).

The demo's last step reads the stream notebook's Delta tables with `databricks_local.delta.read_inds` (deltalake ->
Arrow), then the interpreter exits. This script does the same on small inputs: it writes a few small Delta tables
once (MERGE-d like the stream notebook's), then runs N child interpreters that each read them the way the demo does
and exit, and counts the children that did not exit 0 or printed `terminate called` / `Aborted` / `core dumped`.

    .venv/bin/python -m benchmarks.exit_abort --runs 30             # the repo's read path (delta.read_arrow)
    .venv/bin/python -m benchmarks.exit_abort --runs 30 --read old  # deltalake's to_pyarrow_dataset(), as before

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

CHILD = r"""
import sys
from pathlib import Path
root = Path(sys.argv[1])
mode = sys.argv[2]
if mode == "old":
    from deltalake import DeltaTable
    def read_inds(path):
        table = DeltaTable(str(path)).to_pyarrow_dataset().to_table(columns=["ind"], use_threads=False)
        return set(table.column("ind").to_pylist())
else:
    from databricks_local.delta import read_inds
total = 0
for path in sorted(root.iterdir()):
    total += len(read_inds(path))
print(total)
"""


def make_tables(root: Path, tables: int = 3, commits: int = 8, rows: int = 200) -> int:
    """`tables` Delta tables, each `commits` MERGE-inserts of `rows` rows (a stream table's shape); rows in all."""
    import pyarrow as pa
    from deltalake import DeltaTable, write_deltalake

    for t in range(tables):
        path = root / f"table{t}"
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
    return tables * commits * rows


def run(runs: int, mode: str, root: Path, expected: int) -> tuple[int, list[str]]:
    """Run the child `runs` times; (aborted runs, one line per failure)."""
    failures: list[str] = []
    for i in range(runs):
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(root), mode],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=Path(__file__).resolve().parent.parent,
        )
        output = done.stdout + done.stderr
        bad = done.returncode != 0 or any(m in output for m in MARKERS)
        if bad or done.stdout.strip() != str(expected):
            failures.append(f"run {i + 1}: exit {done.returncode}: {output.strip().splitlines()[-1:]}")
    return len(failures), failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.exit_abort",
        description="Run N fresh interpreters that read small Delta tables and exit; count the aborted ones.",
    )
    parser.add_argument("--runs", type=int, default=30, help="child interpreters to run (default 30)")
    parser.add_argument("--read", choices=("repo", "old"), default="repo", help="read path to exercise")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="exit-abort-") as tmp:
        root = Path(tmp)
        expected = make_tables(root)
        started = time.perf_counter()
        aborted, failures = run(args.runs, args.read, root, expected)
    for line in failures:
        print(line)
    print(
        f"{aborted} of {args.runs} runs aborted or failed ({args.read} read path, "
        f"{time.perf_counter() - started:.0f} s)"
    )
    return 1 if aborted else 0


if __name__ == "__main__":
    sys.exit(main())
