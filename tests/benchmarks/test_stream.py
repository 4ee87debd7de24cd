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
