"""The stream benchmark's percentile (the measurement itself runs in `make bench`)."""

from __future__ import annotations

import pytest

from benchmarks.stream import percentile


@pytest.mark.parametrize(
    ("share", "expected"), [(0.5, 50.0), (0.95, 95.0), (0.99, 99.0), (1.0, 100.0), (0.0, 1.0)]
)
def test_nearest_rank_percentile_of_one_to_hundred(share: float, expected: float) -> None:
    assert percentile([float(v) for v in range(100, 0, -1)], share) == expected


def test_percentile_of_few_values_takes_the_rank_above() -> None:
    assert percentile([3.0, 1.0, 2.0], 0.95) == 3.0
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0


def test_the_spread_row_gives_the_range_of_consecutive_runs() -> None:
    from benchmarks.stream import TARGET_P95_S, latency_spread

    runs = [
        {"records": 450, "missing": 0, "p50_s": 1.1, "p95_s": 1.6, "p99_s": 2.0, "met": True},
        {"records": 450, "missing": 0, "p50_s": 1.3, "p95_s": 1.7, "p99_s": 2.4, "met": True},
        {"records": 450, "missing": 1, "p50_s": 1.2, "p95_s": 1.9, "p99_s": 2.1, "met": False},
    ]
    spread = latency_spread(runs)
    assert spread["runs"] == 3 and spread["records"] == 1350 and spread["missing"] == 1
    assert spread["p50_s_range"] == [1.1, 1.3]
    assert spread["p95_s_range"] == [1.6, 1.9]
    assert spread["p99_s_range"] == [2.0, 2.4]
    assert spread["met"] is False and spread["target_p95_s"] == TARGET_P95_S == 1.8


def test_refill_rows_compare_each_run_with_the_first() -> None:
    from benchmarks.stream import _refill_rows

    first, second = _refill_rows("x", [(33_000, 30.0), (33_000, 36.0)])
    assert first["vs_first"] == 1.0 and first["met"]
    assert second["records_per_s"] == round(33_000 / 36.0, 1)
    assert second["vs_first"] == round(30 / 36, 3) and second["met"]  # within 20%
    assert not _refill_rows("x", [(33_000, 30.0), (33_000, 66.0)])[1]["met"]


def test_refill_rows_without_a_target_report_the_speed_only() -> None:
    from benchmarks.stream import _refill_rows

    second = _refill_rows("engine", [(33_000, 30.0), (33_000, 90.0)], target=None)[1]
    assert second["vs_first"] == round(30 / 90, 3)
    assert second["met"] is None and second["target_vs_first"] is None


def test_the_watcher_reads_only_the_files_new_commits_add(tmp_path) -> None:
    import pyarrow as pa
    from deltalake import DeltaTable, write_deltalake

    from benchmarks.stream import TableWatcher

    path = tmp_path / "t"
    write_deltalake(str(path), pa.table({"ind": pa.array([1, 2], pa.int64())}))
    watcher = TableWatcher({"pin": path}, poll=0.01)
    assert sorted(watcher._new_inds("pin")) == [1, 2]
    assert watcher._new_inds("pin") == []  # nothing new: nothing read
    DeltaTable(str(path)).merge(
        pa.table({"ind": pa.array([2, 3], pa.int64())}), "t.ind = s.ind", source_alias="s", target_alias="t"
    ).when_not_matched_insert_all().execute()
    assert watcher._new_inds("pin") == [3]
