"""Benchmark of the batch notebook (`make run-batch`) on 11k, 100k and 1M generated events, against DuckDB.

For each size a lake is generated once under `.cache/bench/lake-<rows>/` (user id `bench`). `run-batch` runs in a
fresh process (`python -m local_stack.notebook_runner batch`), so the wall time includes Python and Spark start-up;
the JVM's peak resident memory is read from /proc. DuckDB, the single-machine reference, computes the same cleaning
and nine results with SQL on the same JSON files in the same run; the row reports `ratio` = Spark / DuckDB and
whether DuckDB's nine results equal the CSVs (`same_results`). Target (issue 4): 1M in <= 60 s, JVM < 2 GB,
ratio <= 8.
"""

from __future__ import annotations

import csv
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".cache" / "bench"
USER_ID = "bench"
SIZES = (11_000, 100_000, 1_000_000)
CHUNK = 10_000


def lake_for(rows: int) -> Path:
    """The cached generated lake of `rows` events per table (written on first use, flush size 10,000)."""
    from emulation.generator import iter_chunks
    from emulation.names import DATASETS, SOURCE_TABLES, PipelineNames
    from emulation.payloads import record_value
    from local_stack.lake_layout import encode_values, object_key

    root = CACHE / f"lake-{rows}"
    if (root / ".complete").exists():
        return root
    partial = CACHE / f"lake-{rows}.partial"
    shutil.rmtree(partial, ignore_errors=True)  # an interrupted earlier run
    shutil.rmtree(root, ignore_errors=True)
    names = PipelineNames(USER_ID)
    offsets = dict.fromkeys(DATASETS, 0)
    for chunk in iter_chunks(rows, 42, CHUNK):
        for dataset in DATASETS:
            values = chunk[SOURCE_TABLES[dataset]]
            path = partial / object_key(names.topic(dataset), 0, offsets[dataset])
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(encode_values(record_value(v) for v in values))
            offsets[dataset] += len(values)
    (partial / ".complete").write_text(json.dumps(offsets))
    partial.rename(root)
    return root


CHILD = """
import json, resource, sys, time
from local_stack.notebook_runner.batch import run_batch
from pyspark.sql import SparkSession
result = run_batch(sys.argv[1], sys.argv[2], sys.argv[3])  # picks the JIT mode by the lake's size, as make run-batch
spark = SparkSession.getActiveSession()
jvm_peak = None
try:
    pid = spark.sparkContext._gateway.proc.pid
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            jvm_peak = int(line.split()[1]) * 1024
except Exception:
    pass
print(json.dumps({"notebook_seconds": result.notebook_seconds, "jvm_peak_bytes": jvm_peak,
                  "python_peak_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


def time_run_batch(lake: Path, out: Path) -> dict[str, Any]:
    """Wall time of a fresh `run_batch` process (Spark start-up included) and its peak memory."""
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(lake), USER_ID, str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=False,
    )
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"run_batch failed on {lake}:\n{proc.stderr[-3000:]}")
    return {"seconds": seconds, **json.loads(proc.stdout.strip().splitlines()[-1])}


def duckdb_sql(lake: Path) -> list[str]:
    """DuckDB statements: the cleaning of docs/data-contracts.md 3.6, then one `CREATE TABLE <result>` per
    result of docs/data-contracts.md 3.7."""
    topic = f"{lake}/topics/{USER_ID}"
    from notebooks.pinterest_pipeline.cleaning import PLACEHOLDERS
    from notebooks.pinterest_pipeline.schemas import CLEAN_COLUMNS

    holders = ", ".join("'" + p.replace("'", "''") + "'" for p in PLACEHOLDERS)

    def read(dataset: str, columns: str) -> str:
        return (
            f"read_json('{topic}.{dataset}/partition=*/*.json', format='newline_delimited', "
            f"columns={{{columns}}}, ignore_errors=true)"
        )

    pin_cols = (
        "'index': 'BIGINT', unique_id: 'VARCHAR', title: 'VARCHAR', description: 'VARCHAR', poster_name: 'VARCHAR',"
        " follower_count: 'VARCHAR', tag_list: 'VARCHAR', is_image_or_video: 'VARCHAR', image_src: 'VARCHAR',"
        " downloaded: 'BIGINT', save_location: 'VARCHAR', category: 'VARCHAR'"
    )
    geo_cols = (
        "ind: 'BIGINT', timestamp: 'VARCHAR', latitude: 'DOUBLE', longitude: 'DOUBLE', country: 'VARCHAR'"
    )
    user_cols = (
        "ind: 'BIGINT', first_name: 'VARCHAR', last_name: 'VARCHAR', age: 'BIGINT', date_joined: 'VARCHAR'"
    )
    pattern = r"^([0-9]{1,9}(\.[0-9]{1,6})?)([kM]?)$"

    def one_per_ind(*columns: str) -> str:
        order = ", ".join(f"{c} NULLS FIRST" for c in columns)
        return f"QUALIFY row_number() OVER (PARTITION BY ind ORDER BY {order}) = 1"

    age_group = (
        "CASE WHEN age BETWEEN 18 AND 24 THEN '18-24' WHEN age BETWEEN 25 AND 35 THEN '25-35' "
        "WHEN age BETWEEN 36 AND 50 THEN '36-50' WHEN age > 50 THEN '+50' END"
    )
    return [
        f"CREATE MACRO ph(x) AS CASE WHEN trim(x) = '' OR x IN ({holders}) THEN NULL ELSE x END",
        "CREATE MACRO followers(x) AS CASE WHEN regexp_matches(trim(ph(x)), '" + pattern + "') THEN "
        "CASE WHEN floor(CAST(regexp_extract(trim(x), '" + pattern + "', 1) AS DECIMAL(18,6)) * "
        "CASE regexp_extract(trim(x), '"
        + pattern
        + "', 3) WHEN 'k' THEN 1000 WHEN 'M' THEN 1000000 ELSE 1 END)"
        " <= 2147483647 THEN CAST(floor(CAST(regexp_extract(trim(x), '"
        + pattern
        + "', 1) AS DECIMAL(18,6)) * "
        "CASE regexp_extract(trim(x), '"
        + pattern
        + "', 3) WHEN 'k' THEN 1000 WHEN 'M' THEN 1000000 ELSE 1 END)"
        " AS INTEGER) END END",
        f'CREATE TABLE pin AS SELECT * FROM (SELECT "index" AS ind, ph(unique_id) AS unique_id, ph(title) AS title,'
        " ph(description) AS description, followers(follower_count) AS follower_count, ph(poster_name) AS"
        " poster_name, ph(tag_list) AS tag_list, ph(is_image_or_video) AS is_image_or_video, ph(image_src) AS"
        " image_src, regexp_replace(ph(save_location), '^Local save in ', '') AS save_location, ph(category) AS"
        f' category FROM {read("pin", pin_cols)} WHERE "index" IS NOT NULL) '
        + one_per_ind(*CLEAN_COLUMNS["pin"][1:]),
        "CREATE TABLE geo AS SELECT * FROM (SELECT ind, ph(country) AS country, [latitude, longitude] AS"
        f" coordinates, try_cast(ph(timestamp) AS TIMESTAMP) AS timestamp FROM {read('geo', geo_cols)}"
        " WHERE ind IS NOT NULL) " + one_per_ind("country", "coordinates", "timestamp"),
        "CREATE TABLE usr AS SELECT * FROM (SELECT ind, ph(first_name) || ' ' || ph(last_name) AS user_name,"
        " CAST(age AS INTEGER) AS age, try_cast(ph(date_joined) AS TIMESTAMP) AS date_joined FROM"
        f" {read('user', user_cols)} WHERE ind IS NOT NULL) "
        + one_per_ind("user_name", "age", "date_joined"),
        "CREATE TABLE pg AS SELECT p.*, g.country, year(g.timestamp) AS post_year FROM pin p JOIN geo g USING (ind)",
        f"CREATE TABLE pu AS SELECT p.*, {age_group} AS age_group, year(u.date_joined) AS join_year"
        " FROM pin p JOIN usr u USING (ind)",
        "CREATE TABLE popular_category_by_country AS SELECT country, category, category_count FROM (SELECT country,"
        " category, count(*) AS category_count FROM pg WHERE country IS NOT NULL AND category IS NOT NULL GROUP BY"
        " ALL) QUALIFY category_count = max(category_count) OVER (PARTITION BY country)",
        "CREATE TABLE popular_category_by_year AS SELECT post_year, category, category_count FROM (SELECT post_year,"
        " category, count(*) AS category_count FROM pg WHERE post_year BETWEEN 2018 AND 2022 AND category IS NOT"
        " NULL GROUP BY ALL) QUALIFY category_count = max(category_count) OVER (PARTITION BY post_year)",
        "CREATE TABLE top_user_by_country AS SELECT DISTINCT country, poster_name, follower_count FROM (SELECT"
        " DISTINCT country, poster_name, follower_count FROM pg WHERE country IS NOT NULL AND poster_name IS NOT"
        " NULL AND follower_count IS NOT NULL) QUALIFY follower_count = max(follower_count) OVER (PARTITION BY"
        " country)",
        "CREATE TABLE top_country_by_followers AS SELECT DISTINCT country, follower_count FROM top_user_by_country"
        " WHERE follower_count = (SELECT max(follower_count) FROM top_user_by_country)",
        "CREATE TABLE popular_category_by_age_group AS SELECT age_group, category, category_count FROM (SELECT"
        " age_group, category, count(*) AS category_count FROM pu WHERE age_group IS NOT NULL AND category IS NOT"
        " NULL GROUP BY ALL) QUALIFY category_count = max(category_count) OVER (PARTITION BY age_group)",
        "CREATE TABLE median_followers_by_age_group AS SELECT age_group, quantile_disc(follower_count, 0.5) AS"
        " median_follower_count FROM pu WHERE age_group IS NOT NULL AND follower_count IS NOT NULL GROUP BY ALL",
        "CREATE TABLE users_joined_by_year AS SELECT year(date_joined) AS post_year, count(*) AS"
        " number_users_joined FROM usr WHERE year(date_joined) BETWEEN 2015 AND 2020 GROUP BY ALL",
        "CREATE TABLE median_followers_by_join_year AS SELECT join_year AS post_year, quantile_disc(follower_count,"
        " 0.5) AS median_follower_count FROM pu WHERE join_year BETWEEN 2015 AND 2020 AND follower_count IS NOT"
        " NULL GROUP BY ALL",
        "CREATE TABLE median_followers_by_join_year_and_age_group AS SELECT age_group, join_year AS post_year,"
        " quantile_disc(follower_count, 0.5) AS median_follower_count FROM pu WHERE join_year BETWEEN 2015 AND 2020"
        " AND age_group IS NOT NULL AND follower_count IS NOT NULL GROUP BY ALL",
    ]


@functools.cache
def result_names() -> tuple[str, ...]:
    """The nine result names: `RESULT_NAMES` of notebooks/pinterest_pipeline/names.py, the one list."""
    from notebooks.pinterest_pipeline.names import RESULT_NAMES

    return RESULT_NAMES


def duckdb_results(lake: Path, threads: int = 2) -> tuple[float, dict[str, set[tuple[str, ...]]]]:
    """Seconds DuckDB takes (2 threads, in memory) for the cleaning and nine results, and the results."""
    import duckdb

    started = time.perf_counter()
    con = duckdb.connect(config={"threads": threads})
    for statement in duckdb_sql(lake):
        con.execute(statement)
    results = {
        name: {tuple(str(v) for v in row) for row in con.execute(f"SELECT * FROM {name}").fetchall()}
        for name in result_names()
    }
    seconds = time.perf_counter() - started
    con.close()
    return seconds, results


def csv_results(out: Path) -> dict[str, set[tuple[str, ...]]]:
    results = {}
    for name in result_names():
        with (out / f"{name}.csv").open(newline="") as handle:
            results[name] = {tuple(r) for r in list(csv.reader(handle))[1:]}
    return results


def run(sizes: tuple[int, ...] = SIZES) -> list[dict[str, Any]]:
    """One row per size: run-batch wall seconds, DuckDB seconds, ratio, peak memory, same results."""
    rows = []
    for size in sizes:
        lake = lake_for(size)
        with tempfile.TemporaryDirectory(prefix="bench-batch-") as out:
            spark = time_run_batch(lake, Path(out))
            duck_seconds, duck = duckdb_results(lake)
            same = duck == csv_results(Path(out))
        label = f"{size // 1_000_000}M" if size >= 1_000_000 else f"{size // 1000}k"
        rows.append(
            {
                "suite": "notebooks",
                "case": f"run-batch {label}",
                "seconds": round(spark["seconds"], 2),
                "notebook_seconds": round(spark["notebook_seconds"], 2),
                "duckdb_seconds": round(duck_seconds, 2),
                "ratio": round(spark["seconds"] / duck_seconds, 2),
                "jvm_peak_mb": round(spark["jvm_peak_bytes"] / 2**20) if spark["jvm_peak_bytes"] else None,
                "json_mb": round(sum(p.stat().st_size for p in lake.rglob("*.json")) / 2**20),
                "same_results": same,
            }
        )
    return rows


if __name__ == "__main__":
    sizes = tuple(int(a) for a in sys.argv[1:]) or SIZES
    for row in run(sizes):
        print(json.dumps(row))
