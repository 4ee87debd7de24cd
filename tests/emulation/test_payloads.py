"""Payload builders: REST Proxy v2 and Kinesis PutRecord(s) bodies."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from emulation.payloads import (
    kafka_body,
    kafka_body_bytes,
    kinesis_record_body,
    kinesis_records_body,
    record_value,
    to_json_bytes,
)

ROW = {
    "ind": 7,
    "timestamp": dt.datetime(2019, 3, 4, 5, 6, 7),
    "latitude": Decimal("1.5"),
    "country": "Chile",
}


def test_record_value_makes_rows_json_ready() -> None:
    value = record_value(ROW)
    assert value == {"ind": 7, "timestamp": "2019-03-04T05:06:07", "latitude": 1.5, "country": "Chile"}
    assert list(value) == list(ROW)
    json.dumps(value)


def test_kafka_body_has_one_value_per_row_in_order() -> None:
    body = kafka_body([ROW, {**ROW, "ind": 8}])
    assert body == {"records": [{"value": record_value(ROW)}, {"value": record_value({**ROW, "ind": 8})}]}


def test_kinesis_bodies_carry_data_as_json_objects() -> None:
    assert kinesis_record_body("streaming-u-geo", ROW, "7") == {
        "StreamName": "streaming-u-geo",
        "Data": record_value(ROW),
        "PartitionKey": "7",
    }
    body = kinesis_records_body("streaming-u-geo", [ROW, {**ROW, "ind": 9}], lambda r: f"k{r['ind']}")
    assert body["StreamName"] == "streaming-u-geo"
    assert body["Records"] == [
        {"Data": record_value(ROW), "PartitionKey": "k7"},
        {"Data": record_value({**ROW, "ind": 9}), "PartitionKey": "k9"},
    ]


def test_encoded_bodies_match_the_dict_builders() -> None:
    rows = [ROW, {**ROW, "ind": 8, "timestamp": dt.datetime(2020, 1, 1, 0, 0, 0, 5)}]
    assert json.loads(kafka_body_bytes(rows)) == kafka_body(rows)
    assert json.loads(to_json_bytes({"d": dt.date(2020, 2, 3), "x": Decimal("2.25")})) == {
        "d": "2020-02-03",
        "x": 2.25,
    }
