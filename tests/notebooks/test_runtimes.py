"""What differs between the Databricks runtimes the notebooks support (docs/databricks.md, "Runtimes"), tested on
local Spark: Databricks Runtime 17.3 LTS (Apache Spark 4.0) and 18 LTS (Spark 4.1, the jobs' default).

* The job's runtime is one of them, and local pyspark has its Spark minor.
* ANSI mode: on by default in Spark 4 and Databricks Runtime 17.0+ (off before); a cluster or a user may switch it
  off. Dirty input must clean to the same rows either way, and never fail the run: a cast that ANSI rejects would
  fail the whole batch (or stop the stream), where non-ANSI Spark returns null or wraps around.
* Every Spark function and method the notebooks call exists in the oldest supported Spark (4.0), read from
  pyspark's own `versionadded` notes.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from typing import Any

import pyspark
import pytest
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.streaming import DataStreamReader, DataStreamWriter

from databricks_deploy.bundle import load_bundle
from databricks_local import runtime
from tests.notebooks.conftest import NOTEBOOKS, REPO

pytestmark = pytest.mark.spark

#: The supported Databricks LTS runtimes (`spark_version` of a cluster) and their Apache Spark minor version.
RUNTIMES = {"17.3.x-scala2.13": "4.0", "18.0.x-scala2.13": "4.1"}
OLDEST_SPARK = (4, 0)
ANSI = "spark.sql.ansi.enabled"


def version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".")[:2])


@pytest.fixture
def ansi_modes(spark: Any) -> Iterator[Any]:
    """`run(mode, fn)`: `fn()` with ANSI mode on (`"true"`) or off; the session's setting is restored afterwards."""
    before = spark.conf.get(ANSI)

    def run(mode: str, fn: Any) -> Any:
        spark.conf.set(ANSI, mode)
        try:
            return fn()
        finally:
            spark.conf.set(ANSI, before)

    yield run
    spark.conf.set(ANSI, before)


def as_json(df: Any) -> list[str]:
    """The rows of `df` as JSON text, in `ind` order (timestamps stay exact, any year)."""
    return [r[0] for r in df.orderBy("ind").select(F.to_json(F.struct("*"))).collect()]


# --- versions -------------------------------------------------------------------------------------------------
def test_the_jobs_runtime_is_supported_and_local_spark_has_its_minor() -> None:
    jobs = load_bundle(target="local").jobs.values()
    (spark_version,) = {
        c["new_cluster"]["spark_version"] for job in jobs for c in job.settings["job_clusters"]
    }
    assert spark_version == "18.0.x-scala2.13"
    # a cluster's DATABRICKS_RUNTIME_VERSION is its runtime's major.minor; the local runtime sets the jobs' one
    assert runtime.RUNTIME_VERSION == ".".join(spark_version.split(".")[:2]) == "18.0"
    spark_minor = RUNTIMES[spark_version]
    assert pyspark.__version__.startswith(spark_minor + ".")
    (pin,) = re.findall(r"^pyspark==(\S+)$", (REPO / "requirements.txt").read_text(), re.M)
    assert pin == pyspark.__version__ and pin.startswith(spark_minor + ".")


def test_local_spark_runs_with_ansi_mode_on_as_databricks_17_and_18_do(spark: Any) -> None:
    assert spark.conf.get(ANSI) == "true"


def notebook_calls() -> tuple[set[str], set[str]]:
    """Names of the `F.<function>` and of the `.method(` calls in every notebook."""
    functions: set[str] = set()
    methods: set[str] = set()
    for path in NOTEBOOKS.rglob("*.py"):
        text = path.read_text()
        functions |= set(re.findall(r"\bF\.(\w+)\b", text))
        methods |= set(re.findall(r"\.(\w+)\(", text))
    return functions, methods


def added_in(obj: Any) -> tuple[int, ...] | None:
    """The version pyspark's docstring says `obj` was added in (None when it does not say)."""
    found = re.findall(r"versionadded:: ([\d.]+)", obj.__doc__ or "")
    return version(found[0]) if found else None


def test_every_spark_api_the_notebooks_call_exists_in_spark_4_0() -> None:
    functions, methods = notebook_calls()
    assert {"try_to_timestamp", "from_json", "regexp_replace"} <= functions  # the scan sees the notebooks
    too_new = {}
    for name in functions:
        assert hasattr(F, name), f"pyspark.sql.functions has no {name}"
        added = added_in(getattr(F, name))
        assert added is not None, f"F.{name} has no versionadded note"
        if added > OLDEST_SPARK:
            too_new[f"F.{name}"] = added
    classes = (DataFrame, Column, DataStreamReader, DataStreamWriter)
    checked = 0
    for cls in classes:
        for name in methods:
            member = getattr(cls, name, None)
            if callable(member):
                checked += 1
                added = added_in(member)
                if added is not None and added > OLDEST_SPARK:
                    too_new[f"{cls.__name__}.{name}"] = added
    assert checked > 30
    assert too_new == {}, f"not in Databricks Runtime 17.3 LTS (Spark 4.0): {too_new}"


def test_the_cleaning_uses_no_function_that_ansi_makes_raise() -> None:
    """`to_timestamp`, `to_date` and a cast of text raise on bad input under ANSI; the cleaning must use `try_` forms
    or only cast what it has checked. Read from the source: every `.cast(` in cleaning.py is listed here."""
    source = (NOTEBOOKS / "pinterest_pipeline" / "cleaning.py").read_text()
    tree = ast.parse(source)
    called = {
        n.func.attr for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
    }
    assert not called & {"to_timestamp", "to_date", "unix_timestamp", "to_number"}
    assert "try_to_timestamp" in called


# --- ANSI on and off give the same cleaned rows ---------------------------------------------------------------
FOLLOWERS = ["538k", "2M", "124", "abc", "1.2.3k", "9999999999", "12K", "-5", "1e5", "\uff11\uff12", "\u0663", "12 k", "0x1F",
             "2147.483648M", "3.5", "", " ", "User Info Error", "💯k", None]  # fmt: skip
DATETIMES = ["2020-01-02T03:04:05", "2020-01-02 03:04:05", "2020-02-30 00:00:00", "2019-02-29T00:00:00",
             "2020-13-01 00:00:00", "2020-01-02 24:00:00", "2020-01-02T03:60:00", "not a date", "now", "epoch",
             "", "User Info Error", "99999-01-01 00:00:00", "2020-01-02T03:04:05+25:00", "🗓", None]  # fmt: skip
AGES = [30, -5, 0, 17, 200, -2147483648, 2147483647, None]


def dirty_rows(nb: dict[str, Any], spark: Any) -> dict[str, Any]:
    """Raw pin, geo and user rows (the lake schemas) holding the dirty values above, one per row."""
    schemas = nb["RAW_SCHEMAS"]

    def frame(dataset: str, rows: list[dict[str, Any]]) -> Any:
        fields = schemas[dataset].fieldNames()
        return spark.createDataFrame([tuple(r.get(f) for f in fields) for r in rows], schemas[dataset])

    pin = [{"index": i, "follower_count": v, "save_location": v, "title": v} for i, v in enumerate(FOLLOWERS)]
    geo = [
        {"ind": i, "timestamp": v, "country": v, "latitude": lat, "longitude": -lat}
        for i, (v, lat) in enumerate(
            zip(DATETIMES, [1e308, float("nan"), float("inf"), 0.0] * 4, strict=True)
        )
    ]
    user = [
        {"ind": i, "first_name": "Ann", "last_name": v, "age": age, "date_joined": v}
        for i, (v, age) in enumerate(zip(DATETIMES, AGES * 2, strict=True))
    ]
    return {"pin": frame("pin", pin), "geo": frame("geo", geo), "user": frame("user", user)}


def test_ansi_on_and_off_clean_dirty_rows_alike(spark: Any, nb: dict[str, Any], ansi_modes: Any) -> None:
    raw = dirty_rows(nb, spark)

    def clean_all() -> dict[str, list[str]]:
        return {d: as_json(nb["clean_dataset"](df, d)[0]) for d, df in raw.items()}

    on, off = ansi_modes("true", clean_all), ansi_modes("false", clean_all)
    assert on == off
    assert [len(rows) for rows in on.values()] == [len(FOLLOWERS), len(DATETIMES), len(DATETIMES)]
    # what the dirty values became (the same in both modes)
    followers = json_field(on["pin"], "follower_count")
    assert followers == [538_000, 2_000_000, 124] + [None] * 11 + [3] + [None] * 5  # "3.5" floors to 3
    stamps = json_field(on["geo"], "timestamp")
    assert stamps[0] == stamps[1] == "2020-01-02T03:04:05.000Z"
    # invalid dates, text, special words, a bad offset: null; a five-digit year is a valid (lenient) timestamp
    assert stamps[2:] == [None] * 10 + ["+99999-01-01T00:00:00.000Z"] + [None] * 3, stamps
    assert json_field(on["user"], "age") == AGES * 2  # ages are kept as they are, negative ones too


def json_field(rows: list[str], name: str) -> list[Any]:
    """Field `name` of each JSON row (absent, as `to_json` leaves nulls out: None)."""
    return [json.loads(r).get(name) for r in rows]


@pytest.fixture(scope="module")
def stream_nb(nb: dict[str, Any]) -> dict[str, Any]:
    """The package's names, the stream notebook's `decode` (pinterest_pipeline/kinesis.py) among them."""
    return nb


def test_the_stream_decodes_bad_records_alike_with_ansi_on_and_off(
    spark: Any, stream_nb: dict[str, Any], ansi_modes: Any
) -> None:
    data = [
        '{"ind": 1, "first_name": "Ann", "last_name": "Lee", "age": 30, "date_joined": "2016-05-06 07:08:09"}',
        '{"ind": "abc", "age": 30}',
        '{"ind": 3, "age": "thirty"}',
        '{"ind": 4, "age": 3.7}',
        '{"ind": 99999999999999999999}',
        "not json",
        '{"ind": 7, "age": null, "first_name": "😀", "date_joined": "2020-02-30 00:00:00"}',
    ]
    records = spark.createDataFrame([(d.encode(),) for d in data], "data binary")

    def decoded() -> list[str]:
        raw = stream_nb["decode"](records, "user")
        cleaned, rejected = stream_nb["clean_dataset"](raw, "user")
        return as_json(cleaned) + sorted(rejected.select(F.to_json(F.struct("*"))).toPandas().iloc[:, 0])

    on, off = ansi_modes("true", decoded), ansi_modes("false", decoded)
    assert on == off
    kept = json_field(on[:2], "ind")
    assert kept == [1, 7]  # the others are not valid JSON for the schema: rejected, not fatal
    assert len(on) == len(data)


def test_an_age_beyond_the_int_range_cleans_to_null_in_both_modes(
    spark: Any, nb: dict[str, Any], ansi_modes: Any
) -> None:
    schema = nb["RAW_SCHEMAS"]["user"]
    rows = [(1, "Ann", "Lee", 3_000_000_000, None, None), (2, "Bo", "Li", -3_000_000_000, None, None)]
    raw = spark.createDataFrame(rows, schema)

    def ages() -> list[Any]:
        return [r.age for r in nb["clean_dataset"](raw, "user")[0].orderBy("ind").collect()]

    assert ansi_modes("false", ages) == [None, None]
    assert ansi_modes("true", ages) == [None, None]
