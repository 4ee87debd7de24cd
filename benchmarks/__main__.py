"""`make bench`: run the benchmark suites, print one table and write `out/bench/results.json`.

Each suite is a module of this package with a `run(...) -> list[dict]` function; a row names its `suite` and `case`
and carries measured numbers. Speed targets live here, as ratios against a baseline measured in the same run,
never in timed tests.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS = Path("out/bench/results.json")


def _emulator_suite() -> list[dict[str, Any]]:
    from benchmarks import emulator
    from local_stack.supervisor import Stack

    return emulator.run(Stack().up())


def _notebooks_suite() -> list[dict[str, Any]]:
    from benchmarks import notebooks

    return notebooks.run()


def _stream_suite() -> list[dict[str, Any]]:
    from benchmarks import stream
    from local_stack.supervisor import Stack

    return stream.run(Stack().up(), say=lambda line: print(line, file=sys.stderr, flush=True))


def _reliability_suite() -> list[dict[str, Any]]:
    from benchmarks import reliability
    from local_stack.supervisor import Stack

    stack = Stack(say=lambda line: print(line, file=sys.stderr))
    return reliability.run(stack, stack.up(), say=lambda line: print(line, file=sys.stderr, flush=True))


def _rest_proxy_suite() -> list[dict[str, Any]]:
    from benchmarks import rest_proxy
    from local_stack.supervisor import Stack

    return rest_proxy.run(Stack().up(), say=lambda line: print(line, file=sys.stderr, flush=True))


def _workspace_suite() -> list[dict[str, Any]]:
    from benchmarks import workspace

    return workspace.run(say=lambda line: print(line, file=sys.stderr, flush=True))


def _orchestration_suite() -> list[dict[str, Any]]:
    from benchmarks import orchestration
    from local_stack.supervisor import Stack

    Stack().up()
    return orchestration.run(say=lambda line: print(line, file=sys.stderr, flush=True))


SUITES: dict[str, Callable[[], list[dict[str, Any]]]] = {
    "emulator": _emulator_suite,
    "notebooks": _notebooks_suite,
    "stream": _stream_suite,
    "reliability": _reliability_suite,
    "rest_proxy": _rest_proxy_suite,
    "workspace": _workspace_suite,
    "orchestration": _orchestration_suite,
}


def format_table(rows: list[dict[str, Any]]) -> str:
    """Render result rows as an aligned text table (columns: the union of the rows' keys, in first-seen order)."""
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    cells = [[_cell(row.get(col)) for col in columns] for row in rows]
    widths = [max([len(col)] + [len(r[i]) for r in cells]) for i, col in enumerate(columns)]
    lines = ["  ".join(col.ljust(w) for col, w in zip(columns, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--suite",
        choices=sorted(SUITES),
        action="append",
        help="run only this suite (repeatable; default: all)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"JSON results file (default {RESULTS})")
    args = parser.parse_args(argv)

    rows: list[dict[str, Any]] = []
    failures = 0
    for name in args.suite or list(SUITES):
        print(f"== {name} ==", file=sys.stderr, flush=True)
        started = time.perf_counter()
        try:
            rows += SUITES[name]()
        except Exception as exc:  # one failing suite must not hide the others' numbers
            failures += 1
            rows.append({"suite": name, "case": "FAILED", "error": f"{type(exc).__name__}: {exc}"})
        print(f"   {name} took {time.perf_counter() - started:.1f} s", file=sys.stderr)

    print(format_table(rows))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": _cpus(),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    args.out.write_text(json.dumps({"meta": meta, "results": rows}, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    if set(args.suite or SUITES) - {"notebooks", "workspace"}:
        print("the local stack is still running (`make local-down` stops it)")
    return 1 if failures else 0


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    sys.exit(main())
