"""Every resource name the pipeline derives from one `user_id` (docs/data-contracts.md 3.2): topics, streams,
bucket, tables.

Table names start with the user id made safe for a metastore: every character other than a letter, a digit or `_`
becomes `_` (`jane.doe` -> `jane_doe_pin_table`); Unity Catalog and the Hive metastore refuse `.` in a table
name even when quoted. The rule, the dataset names and the notebooks' table names are written once, in
`notebooks/pinterest_pipeline/names.py` (the notebooks' own package, stdlib only), and used from there.
"""

from __future__ import annotations

from dataclasses import dataclass

from notebooks.pinterest_pipeline import names as notebook_names
from notebooks.pinterest_pipeline.names import DATASETS as DATASETS
from notebooks.pinterest_pipeline.names import table_prefix as table_prefix

#: Source tables (docs/data-contracts.md 3.1) keyed by the short dataset name of topics, streams and tables.
SOURCE_TABLES: dict[str, str] = dict(
    zip(DATASETS, ("pinterest_data", "geolocation_data", "user_data"), strict=True)
)


@dataclass(frozen=True)
class PipelineNames:
    """Names of the topics, streams, bucket and tables that belong to one `user_id`."""

    user_id: str

    def topic(self, dataset: str) -> str:
        return notebook_names.topic_name(self.user_id, dataset)

    def stream(self, dataset: str) -> str:
        return notebook_names.stream_name(self.user_id, dataset)

    @property
    def table_prefix(self) -> str:
        """The user id with every character other than `[A-Za-z0-9_]` replaced by `_`."""
        return table_prefix(self.user_id)

    def table(self, dataset: str) -> str:
        """The stream notebook's Delta table of `dataset` (the course's name): `<prefix>_<dataset>_table`."""
        return notebook_names.stream_table(self.user_id, dataset)

    def batch_table(self, dataset: str) -> str:
        """The batch notebook's cleaned table of `dataset`, overwritten daily: `<prefix>_<dataset>_batch`."""
        return notebook_names.batch_table(self.user_id, dataset)

    @property
    def bucket(self) -> str:
        return notebook_names.bucket_name(self.user_id)

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
