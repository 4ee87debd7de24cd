"""`local_stack/stack_user.py` without a stack: what a streams-only user creates and deletes (a recording stand-in
for the boto3 Kinesis client; the integration tests and `make bench` use the real one)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from local_stack.stack_user import StackUser


class RecordingKinesis:
    """The four Kinesis calls a StackUser makes, noted instead of sent."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def create_stream(self, StreamName: str, ShardCount: int) -> None:
        self.calls.append(("create", (StreamName, ShardCount)))

    def get_waiter(self, name: str) -> RecordingKinesis:
        return self

    def wait(self, StreamName: str, WaiterConfig: dict[str, Any]) -> None:
        self.calls.append(("wait", StreamName))

    def delete_stream(self, StreamName: str, EnforceConsumerDeletion: bool) -> None:
        self.calls.append(("delete", StreamName))


def test_streams_only_user_has_streams_and_no_source(monkeypatch: pytest.MonkeyPatch) -> None:
    kinesis = RecordingKinesis()
    monkeypatch.setattr(StackUser, "kinesis", lambda self: kinesis)
    stack = SimpleNamespace(invoke_url="http://127.0.0.1:9/local", api_key="test-key")
    with StackUser.streams_only(stack, prefix="engine", shards=4) as user:
        assert user.config.user_id.startswith("engine") and len(user.config.user_id) == len("engine") + 10
        assert (user.config.db_url, user.config.state_dir) == ("sqlite://", Path(tempfile.gettempdir()))
        assert user.topics == []
        streams = [user.config.names.stream(d) for d in ("pin", "geo", "user")]
        assert sorted(user.streams) == sorted(streams)
        assert sorted(args for call, args in kinesis.calls if call == "create") == sorted(
            (s, 4) for s in streams
        )
    assert sorted(args for call, args in kinesis.calls if call == "delete") == sorted(streams)
