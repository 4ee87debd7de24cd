"""Every resource name the pipeline derives from one `user_id` (docs/data-contracts.md 3.2): topics, streams,
bucket, tables.

Table names start with the user id made safe for a metastore: every character other than a letter, a digit or `_`
becomes `_` (`jane.doe` -> `jane_doe_pin_table`); Unity Catalog and the Hive metastore refuse `.` in a table
name even when quoted. `notebooks/lib/tables.py` applies the same rule inside the notebooks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Source tables (docs/data-contracts.md 3.1) keyed by the short dataset name of topics, streams and tables.
SOURCE_TABLES: dict[str, str] = {
    "pin": "pinterest_data",
    "geo": "geolocation_data",
    "user": "user_data",
}
DATASETS: tuple[str, ...] = tuple(SOURCE_TABLES)


@dataclass(frozen=True)
class PipelineNames:
    """Names of the topics, streams, bucket and tables that belong to one `user_id`."""

    user_id: str

    def topic(self, dataset: str) -> str:
        return f"{self.user_id}.{_check(dataset)}"

    def stream(self, dataset: str) -> str:
        return f"streaming-{self.user_id}-{_check(dataset)}"

    @property
    def table_prefix(self) -> str:
        """The user id with every character other than `[A-Za-z0-9_]` replaced by `_`."""
        return table_prefix(self.user_id)

    def table(self, dataset: str) -> str:
        """The stream notebook's Delta table of `dataset` (the course's name): `<prefix>_<dataset>_table`."""
        return f"{self.table_prefix}_{_check(dataset)}_table"

    def batch_table(self, dataset: str) -> str:
        """The batch notebook's cleaned table of `dataset`, overwritten daily: `<prefix>_<dataset>_batch`."""
        return f"{self.table_prefix}_{_check(dataset)}_batch"

    @property
    def bucket(self) -> str:
        return f"user-{self.user_id}-bucket"

    @property
    def topic_regex(self) -> str:
        """The sink's `topics.regex`: every topic of this user (dots escaped)."""
        return self.user_id.replace(".", r"\.") + r"\..*"

    @property
    def topics(self) -> dict[str, str]:
        return {d: self.topic(d) for d in DATASETS}

    @property
    def streams(self) -> dict[str, str]:
        return {d: self.stream(d) for d in DATASETS}


def table_prefix(user_id: str) -> str:
    """`user_id` as the start of a table name: characters other than `[A-Za-z0-9_]` become `_`."""
    return re.sub(r"[^A-Za-z0-9_]", "_", user_id)


def _check(dataset: str) -> str:
    if dataset not in SOURCE_TABLES:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {', '.join(DATASETS)}")
    return dataset
