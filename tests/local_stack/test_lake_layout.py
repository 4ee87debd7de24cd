"""The lake layout of docs/data-contracts.md 3.4: object keys and the local lake writer."""

from __future__ import annotations

import datetime as dt
import json

from local_stack.lake_layout import encode_values, object_key, write_local_lake


def test_object_key_zero_pads_the_start_offset() -> None:
    assert object_key("u.pin", 0, 42) == "topics/u.pin/partition=0/u.pin+0+0000000042.json"


def test_encode_values_is_one_json_value_per_line() -> None:
    body = encode_values([{"a": 1}, {"b": "x"}])
    assert body == b'{"a":1}\n{"b":"x"}\n'


def test_write_local_lake_splits_by_flush_size_and_serialises_datetimes(tmp_path) -> None:
    geo = [{"ind": i, "timestamp": dt.datetime(2020, 1, 2, 3, 4, 5), "country": "Chile"} for i in range(5)]
    written = write_local_lake(tmp_path, "u", {"geolocation_data": geo}, flush_size=2)
    assert written == {"u.pin": 0, "u.geo": 5, "u.user": 0}
    files = sorted(p.name for p in (tmp_path / "topics/u.geo/partition=0").iterdir())
    assert files == ["u.geo+0+0000000000.json", "u.geo+0+0000000002.json", "u.geo+0+0000000004.json"]
    last = (tmp_path / "topics/u.geo/partition=0/u.geo+0+0000000004.json").read_text().splitlines()
    assert [json.loads(line) for line in last] == [
        {"ind": 4, "timestamp": "2020-01-02T03:04:05", "country": "Chile"}
    ]
