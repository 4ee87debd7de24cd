"""Names derived from one user_id (docs/data-contracts.md 3.2)."""

from __future__ import annotations

import re

import pytest

from emulation.names import DATASETS, PipelineNames


def test_every_name_derives_from_user_id() -> None:
    names = PipelineNames("0a1b2c3d4e5f")
    assert names.topics == {"pin": "0a1b2c3d4e5f.pin", "geo": "0a1b2c3d4e5f.geo", "user": "0a1b2c3d4e5f.user"}
    assert names.streams["geo"] == "streaming-0a1b2c3d4e5f-geo"
    assert names.bucket == "user-0a1b2c3d4e5f-bucket"
    assert names.table("user") == "0a1b2c3d4e5f_user_table"
    assert names.batch_table("pin") == "0a1b2c3d4e5f_pin_batch"
    assert DATASETS == ("pin", "geo", "user")


def test_topic_regex_matches_only_this_users_topics() -> None:
    regex = re.compile(PipelineNames("a.b").topic_regex)
    assert regex.fullmatch("a.b.pin")
    assert not regex.fullmatch("aXb.pin")
    assert not regex.fullmatch("other.pin")


def test_unknown_dataset_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown dataset 'pins'"):
        PipelineNames("u").topic("pins")


def test_table_names_replace_what_a_metastore_refuses() -> None:
    names = PipelineNames("jane.doe-1")
    assert names.table("pin") == "jane_doe_1_pin_table"
    assert names.batch_table("geo") == "jane_doe_1_geo_batch"
    assert names.topic("pin") == "jane.doe-1.pin" and names.stream("user") == "streaming-jane.doe-1-user"
