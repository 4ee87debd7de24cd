"""The local Spark session that stands in for a Databricks cluster (the fast settings of
docs/data-contracts.md 5), one per process.

`local[2]`, no UI, UTC, driver bound to 127.0.0.1, the serial GC. The first call starts the JVM; later calls
return the same session (tests share it).

Start-up is dominated by the JVM loading and verifying some 15,000 classes. `build_class_archive` (run by
`make setup`) records them once in a CDS archive (`.cache/spark/classes-<key>.jsa`, JDK's AppCDS); every later
session maps it and starts about twice as fast (measured 12 s -> 7 s to the first job's result). Without the
archive, or with one the JVM finds stale, Spark starts exactly as before.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from pyspark.sql import SparkSession

REPO_ROOT = Path(__file__).resolve().parents[1]
#: Driver heap. The whole local "cluster" (driver = executor in local mode) stays under 2 GB.
DRIVER_MEMORY = os.environ.get("NOTEBOOK_RUNNER_DRIVER_MEMORY", "1g")
#: Quick start for short runs (tests): C1 JIT only and the serial GC (docs/data-contracts.md 5). C1 alone gets the
#: client VM's 48 MB code cache by default, which one test session's JVM (hundreds of notebooks, sessions and
#: Python data sources) fills: "Out of space in CodeCache for adapters", then the JVM dies. 240 MB is what tiered
#: compilation reserves anyway; it is reserved address space, committed only as code is compiled.
QUICK_JAVA_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=240m -XX:+UseSerialGC"
#: Throughput for big runs (`make run-batch`, benchmarks): the full JIT (C1 alone is 4x slower on JSON parsing)
#: with less inlining. A run of a minute spends as much CPU compiling as computing (`-XX:+CITime`: 53 s of JIT for
#: 43 s of cleaning on 2 cores); smaller inlining budgets cut the compile time by a third and the cleaning to 37 s.
#: The serial GC keeps memory low (GC pauses total 2 s).
#: `jit_directives.json` keeps code that only runs while queries are planned (Janino compiling the generated code,
#: the closure cleaner's ASM, the SQL parser) out of the optimizing compiler: it stays at C1's quick code. These
#: took 5-8 s of C2 time in a 1M run (JFR `jdk.Compilation`); run-batch 1M is 1.7 s faster on average over 3 runs.
JIT_DIRECTIVES = Path(__file__).with_name("jit_directives.json")
THROUGHPUT_JAVA_OPTIONS = (
    "-XX:+UseSerialGC -XX:InlineSmallCode=1000 -XX:MaxInlineLevel=9 -XX:FreqInlineSize=150"
    f" -XX:+UnlockDiagnosticVMOptions -XX:CompilerDirectivesFile={JIT_DIRECTIVES}"
)
#: Where the class archives live (ignored by git); `NOTEBOOK_RUNNER_CLASS_ARCHIVE=off` disables their use.
CLASS_ARCHIVE_DIR = REPO_ROOT / ".cache" / "spark"
#: The JVM's notes about the archive (a stale one is simply not used) are not worth a line on the console.
QUIET_CDS = "-Xlog:cds=off -Xlog:cds+dynamic=off"


def class_archive_path() -> Path:
    """The class archive for this Python environment's Spark jars and this machine's `java`."""
    import pyspark

    java = shutil.which("java") or os.environ.get("JAVA_HOME", "")
    key = f"{pyspark.__version__}|{os.path.realpath(java)}|{Path(pyspark.__file__).parent}"
    return CLASS_ARCHIVE_DIR / f"classes-{hashlib.sha256(key.encode()).hexdigest()[:12]}.jsa"


def _class_archive_options() -> str:
    if os.environ.get("NOTEBOOK_RUNNER_CLASS_ARCHIVE", "").lower() == "off":
        return ""
    archive = class_archive_path()
    return f"-XX:SharedArchiveFile={archive} {QUIET_CDS}" if archive.is_file() else ""


def local_spark(
    master: str = "local[2]",
    warehouse: str | Path | None = None,
    quick_start: bool = True,
    java_options: str = "",
) -> SparkSession:
    """The process-wide local Spark session with the fast settings (created on first use).

    `quick_start=True` (tests): the settings of docs/data-contracts.md 5 (C1 JIT, two shuffle partitions, no
    adaptive execution).
    `quick_start=False` (`make run-batch`, benchmarks) keeps the full JIT and uses 16 shuffle partitions with
    adaptive execution, so a million-row shuffle sorts in small pieces without spilling and small results are
    coalesced back to one partition. `warehouse` defaults to the local DBFS's `dbfs:/user/hive/warehouse`
    (`dbfs.warehouse_dir`), where a Databricks cluster keeps its managed tables. `java_options`, when given, replace the class-archive options (the archive
    build passes its own `-XX:ArchiveClassesAtExit`).
    """
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    options = " ".join(
        part
        for part in (
            QUICK_JAVA_OPTIONS if quick_start else THROUGHPUT_JAVA_OPTIONS,
            java_options or _class_archive_options(),
        )
        if part
    )
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    # Python data sources (the local Kinesis source) run in Spark's Python workers, which import this repository.
    paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    if str(REPO_ROOT) not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), *[p for p in paths if p]])
    if warehouse is None:  # a cluster's managed tables: dbfs:/user/hive/warehouse of the local DBFS
        from databricks_local.dbfs import warehouse_dir

        warehouse = warehouse_dir()
        warehouse.mkdir(parents=True, exist_ok=True)
    warehouse = Path(warehouse).absolute()
    builder = (
        SparkSession.builder.master(master)
        .appName("notebook-runner")
        .config("spark.driver.memory", DRIVER_MEMORY)
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2" if quick_start else "16")
        .config("spark.sql.adaptive.enabled", "false" if quick_start else "true")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.warehouse.dir", str(warehouse))
        .config("spark.driver.extraJavaOptions", f"{options} -Duser.timezone=UTC")
        .config("spark.executor.extraJavaOptions", options)
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.join.preferSortMergeJoin", "false")
        # A topic's glob matches a file per 10,000 records (100 at 1M events): above 32 paths Spark lists them with
        # a 100-task job (1-2 s per topic); local files are listed faster in the driver.
        .config("spark.sql.sources.parallelPartitionDiscovery.threshold", "100000")
        # Titles, descriptions, tags and URLs are nearly all distinct: Parquet's dictionary encoding fills a
        # dictionary per column chunk only to give it up. Without it the cleaned pins are written 3 s sooner (1M).
        .config("spark.hadoop.parquet.enable.dictionary", "false")
        # Delta's `timestamp` is UTC-adjusted microseconds; Spark's default (INT96) is not a Delta type.
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
    )
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


ARCHIVE_WORKLOAD = """
import sys, tempfile
from pathlib import Path
from emulation.generator import generate_tables
from local_stack.lake_layout import write_local_lake
from local_stack.notebook_runner.batch import run_batch
from databricks_local.session import local_spark

work = Path(tempfile.mkdtemp(prefix="spark-archive-"))
write_local_lake(work / "lake", "warmup", generate_tables(rows=500, seed=7))
spark = local_spark(quick_start=False, java_options=sys.argv[1])
run_batch(str(work / "lake"), "warmup", work / "out", spark=spark)
jvm = spark.sparkContext._gateway.proc
spark.stop()
jvm.stdin.close()  # the JVM exits on EOF and writes the archive as it exits
jvm.wait(timeout=300)
"""


def build_class_archive() -> Path:
    """Record the classes a batch run loads into the class archive (a small run in a fresh process); its path."""
    if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        raise RuntimeError("no Java runtime (java on PATH or JAVA_HOME): nothing to archive")
    archive = class_archive_path()
    archive.parent.mkdir(parents=True, exist_ok=True)
    partial = archive.with_name(f"{archive.name}.{os.getpid()}.partial")
    result = subprocess.run(
        [sys.executable, "-c", ARCHIVE_WORKLOAD, f"-XX:ArchiveClassesAtExit={partial} {QUIET_CDS}"],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "NOTEBOOK_RUNNER_CLASS_ARCHIVE": "off"},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 or not partial.is_file():
        partial.unlink(missing_ok=True)
        raise RuntimeError(f"building the class archive failed:\n{result.stderr[-2000:]}")
    partial.replace(archive)
    return archive
