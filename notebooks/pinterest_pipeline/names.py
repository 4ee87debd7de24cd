"""Every name the pipeline derives from one `user_id` (docs/data-contracts.md 3.2), the choices of the notebooks'
widgets and the nine result names: written once, here.

Stdlib only: the notebooks import it as `pinterest_pipeline.names`, the rest of the repository (local runner,
deploy CLI, emulators, benchmarks) as `notebooks.pinterest_pipeline.names`. The Airflow DAG, which MWAA runs
without this repository, keeps its own copy of `RESULT_NAMES` (tests/databricks_deploy/test_result_names.py ties
the two).

Table names start with the user id made safe for a metastore: each character other than a letter, a digit or `_`
becomes `_` (`jane.doe` -> `jane_doe`; Unity Catalog and the Hive metastore refuse `.` and `-` in table names even
when quoted).

| table | written by | how |
|---|---|---|
| `<prefix>_pin_table`, `_geo_table`, `_user_table` | stream notebook | MERGE of new `ind`s (appends, never rewrites) |
| `<prefix>_pin_batch`, `_geo_batch`, `_user_batch` | batch notebook | overwritten by every run |
| `<prefix>_<dataset>_rejected`, `<prefix>_batch_counts`, `<prefix>_<result>` | batch notebook | overwritten |
| `<prefix>_<dataset>_stream_rejected` | stream notebook | appended |
"""

from __future__ import annotations

import re

#: The three datasets, by the short name of their topics, streams and tables.
DATASETS: tuple[str, ...] = ("pin", "geo", "user")
#: The batch notebook's `lake_access` widget: `s3://` (instance profile, UC location, volume) or a DBFS mount.
LAKE_ACCESS_MODES: tuple[str, ...] = ("direct", "mount")
#: The stream notebook's `trigger` widget: drain and stop (scheduled runs), or a micro-batch every `interval`.
TRIGGERS: tuple[str, ...] = ("availableNow", "processingTime")
#: The stream notebook's `initial_position` widget: where a new checkpoint starts reading.
INITIAL_POSITIONS: tuple[str, ...] = ("trim_horizon", "latest")
#: The stream notebook's `kinesis_auth` widget: how the Kinesis connector authenticates.
KINESIS_AUTH_MODES: tuple[str, ...] = ("instance_profile", "service_credential", "secret_scope")

#: The nine query results (docs/data-contracts.md 3.7) and their columns, in the contract's order.
RESULT_COLUMNS: dict[str, tuple[str, ...]] = {
    "popular_category_by_country": ("country", "category", "category_count"),
    "popular_category_by_year": ("post_year", "category", "category_count"),
    "top_user_by_country": ("country", "poster_name", "follower_count"),
    "top_country_by_followers": ("country", "follower_count"),
    "popular_category_by_age_group": ("age_group", "category", "category_count"),
    "median_followers_by_age_group": ("age_group", "median_follower_count"),
    "users_joined_by_year": ("post_year", "number_users_joined"),
    "median_followers_by_join_year": ("post_year", "median_follower_count"),
    "median_followers_by_join_year_and_age_group": ("age_group", "post_year", "median_follower_count"),
}
#: The nine result names, in order: the one list (the DAG's copy is tied to it by a test).
RESULT_NAMES: tuple[str, ...] = tuple(RESULT_COLUMNS)


def table_prefix(user_id: str) -> str:
    """`user_id` as the start of a table name: characters other than `[A-Za-z0-9_]` become `_`."""
    if not user_id:
        raise ValueError("the user_id is empty: give the user id that names the topics and streams")
    return re.sub(r"[^A-Za-z0-9_]", "_", user_id)


def table_name(user_id: str, suffix: str) -> str:
    """`<prefix>_<suffix>`, e.g. `table_name("jane.doe", "pin_table")` -> `jane_doe_pin_table`."""
    return f"{table_prefix(user_id)}_{suffix}"


def topic_name(user_id: str, dataset: str) -> str:
    """The Kafka topic of `dataset`: `<user_id>.<dataset>`."""
    return f"{user_id}.{check_dataset(dataset)}"


def stream_name(user_id: str, dataset: str) -> str:
    """The Kinesis stream of `dataset`: `streaming-<user_id>-<dataset>`."""
    return f"streaming-{user_id}-{check_dataset(dataset)}"


def bucket_name(user_id: str) -> str:
    """The lake bucket: `user-<user_id>-bucket`."""
    return f"user-{user_id}-bucket"


def stream_table(user_id: str, dataset: str) -> str:
    """The stream notebook's Delta table of `dataset` (the course's name): `<prefix>_<dataset>_table`."""
    return table_name(user_id, f"{check_dataset(dataset)}_table")


def stream_rejected_table(user_id: str, dataset: str) -> str:
    """The stream notebook's rejected records of `dataset`: `<prefix>_<dataset>_stream_rejected`."""
    return table_name(user_id, f"{check_dataset(dataset)}_stream_rejected")


def batch_table(user_id: str, dataset: str) -> str:
    """The batch notebook's cleaned table of `dataset`, overwritten daily: `<prefix>_<dataset>_batch`."""
    return table_name(user_id, f"{check_dataset(dataset)}_batch")


def rejected_table(user_id: str, dataset: str) -> str:
    """The batch notebook's rejected records of `dataset`: `<prefix>_<dataset>_rejected`."""
    return table_name(user_id, f"{check_dataset(dataset)}_rejected")


def counts_table(user_id: str) -> str:
    """The batch notebook's row counts before and after cleaning: `<prefix>_batch_counts`."""
    return table_name(user_id, "batch_counts")


def result_table(user_id: str, result: str) -> str:
    """The table of one of the nine results: `<prefix>_<result>`."""
    if result not in RESULT_COLUMNS:
        raise ValueError(f"unknown result {result!r}; expected one of {', '.join(RESULT_NAMES)}")
    return table_name(user_id, result)


def check_dataset(dataset: str) -> str:
    """`dataset` itself when it is one of `DATASETS`; a clear error otherwise."""
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {', '.join(DATASETS)}")
    return dataset
