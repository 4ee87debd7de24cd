"""Restarts mid-stream on the real stack (issue 11): 20,000 uniquely keyed records through the API Gateway while the
REST Proxy, the broker or the sink restarts with `Stack.restart`; nothing acknowledged is missing from the topics or
the lake. The broker is also restarted with no sink running (item 7b): what the topics hold afterwards is compared,
read with `assign()`, against what the API acknowledged.

The scenario is `benchmarks/reliability.py` (`make bench` runs its long variants). It restarts components of the
session stack and leaves them running and healthy; the records go to topics of a fresh user id with a sink of its
own, so the demo's data is untouched.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.reliability import restart_case
from local_stack import config as cfg
from local_stack.supervisor import Stack, StackInfo

pytestmark = pytest.mark.integration
RECORDS = 20_000


def check(row: dict, *, lake: bool = True) -> None:
    print(row)  # the figures for the README's Reliability table (`pytest -s`)
    assert row["dead_letters"] == 0
    assert row["accepted"] == RECORDS
    assert 0 < row["accepted_before_restart"] < RECORDS  # the restart began mid-stream ...
    assert row["accepted_after_restarts"] > 0  # ... and records were accepted after it had finished
    assert row["topic_missing"] == 0
    if lake:
        assert row["lake_missing"] == 0 and row["lake_distinct"] == RECORDS


@pytest.mark.parametrize("component", [cfg.REST_PROXY, cfg.TANSU, cfg.S3_SINK])
def test_a_restart_mid_stream_loses_nothing(
    stack_handle: tuple[Stack, StackInfo], component: str, tmp_path: Path
) -> None:
    handle, info = stack_handle
    check(restart_case(handle, info, component, records=RECORDS, work_dir=tmp_path))
    assert all(row["health"] == "healthy" for row in handle.status())  # left healthy for the tests after


def test_acknowledged_records_survive_a_broker_restart_with_no_sink_running(
    stack_handle: tuple[Stack, StackInfo], tmp_path: Path
) -> None:
    handle, info = stack_handle
    row = restart_case(handle, info, cfg.TANSU, records=RECORDS, sink=False, work_dir=tmp_path)
    check(row, lake=False)
    assert row["topic_held"] >= RECORDS
