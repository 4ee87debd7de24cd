"""`local_stack/demo.py`'s start of the stream path on the real local stack: streams that hold the last run's
records come back empty, the stream checkpoints go, the stream tables stay."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from local_stack.demo import fresh_streams
from local_stack.stack_user import StackUser

pytestmark = pytest.mark.integration


def test_the_stream_path_starts_from_empty_streams_and_new_checkpoints(stack: Any, tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "checkpoints" / "pin" / "offsets").mkdir(parents=True)
    (out / "checkpoints" / "pin" / "offsets" / "0").write_text("{}")
    (out / "tables" / "t").mkdir(parents=True)
    (out / "tables" / "t" / "part-0.parquet").write_bytes(b"kept")
    with StackUser(stack, "sqlite://", tmp_path / "state", prefix="demo", topics=False, streams=True) as user:
        names = user.config.names
        kinesis = user.kinesis()
        for dataset in ("pin", "user"):
            kinesis.put_record(StreamName=names.stream(dataset), Data=b'{"ind": 1}', PartitionKey="1")
        info = dataclasses.replace(stack, user_id=user.config.user_id)

        assert fresh_streams(info, out) == [names.stream("pin"), names.stream("user")]

        assert all(user.read_stream(dataset) == [] for dataset in ("pin", "geo", "user"))
        assert not (out / "checkpoints").exists()
        assert (out / "tables" / "t" / "part-0.parquet").read_bytes() == b"kept"
        assert fresh_streams(info, out) == []  # nothing held: nothing recreated
