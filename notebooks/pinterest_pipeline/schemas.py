"""The explicit schemas of the raw records (docs/data-contracts.md 3.1 columns, in order), the same for the lake's
JSON and the Kinesis records' `data`, and the columns of the cleaned tables (3.6).

No inference: datetimes are read as strings and typed by the cleaning, `follower_count` is text on purpose
(`538k`, `2M`). A line or record that is not valid JSON for its schema lands in `_corrupt_record`.
"""

from __future__ import annotations

from pyspark.sql import types as T

CORRUPT_RECORD = "_corrupt_record"


def _schema(*fields: tuple[str, T.DataType]) -> T.StructType:
    return T.StructType(
        [T.StructField(n, t, True) for n, t in fields] + [T.StructField(CORRUPT_RECORD, T.StringType())]
    )


RAW_SCHEMAS: dict[str, T.StructType] = {
    "pin": _schema(
        ("index", T.LongType()),
        ("unique_id", T.StringType()),
        ("title", T.StringType()),
        ("description", T.StringType()),
        ("poster_name", T.StringType()),
        ("follower_count", T.StringType()),
        ("tag_list", T.StringType()),
        ("is_image_or_video", T.StringType()),
        ("image_src", T.StringType()),
        ("downloaded", T.LongType()),
        ("save_location", T.StringType()),
        ("category", T.StringType()),
    ),
    "geo": _schema(
        ("ind", T.LongType()),
        ("timestamp", T.StringType()),
        ("latitude", T.DoubleType()),
        ("longitude", T.DoubleType()),
        ("country", T.StringType()),
    ),
    "user": _schema(
        ("ind", T.LongType()),
        ("first_name", T.StringType()),
        ("last_name", T.StringType()),
        ("age", T.LongType()),
        ("date_joined", T.StringType()),
    ),
}
#: The key of each raw dataset (the pin's is `index`, renamed `ind` by the cleaning).
RAW_KEYS: dict[str, str] = {"pin": "index", "geo": "ind", "user": "ind"}
#: Columns of the cleaned tables, in the order of docs/data-contracts.md 3.6.
CLEAN_COLUMNS: dict[str, tuple[str, ...]] = {
    "pin": (
        "ind",
        "unique_id",
        "title",
        "description",
        "follower_count",
        "poster_name",
        "tag_list",
        "is_image_or_video",
        "image_src",
        "save_location",
        "category",
    ),
    "geo": ("ind", "country", "coordinates", "timestamp"),
    "user": ("ind", "user_name", "age", "date_joined"),
}
