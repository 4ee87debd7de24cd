"""Every resource name the pipeline derives from one `user_id` (DESIGN 3.2): topics, streams, bucket, tables."""

from __future__ import annotations

from dataclasses import dataclass

#: Source tables (DESIGN 3.1) keyed by the short dataset name used in topics, streams and tables.
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

    def table(self, dataset: str) -> str:
        return f"{self.user_id}_{_check(dataset)}_table"

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


def _check(dataset: str) -> str:
    if dataset not in SOURCE_TABLES:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {', '.join(DATASETS)}")
    return dataset
