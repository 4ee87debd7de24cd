"""The local notebook runner: cells, %run, %sql, %md, widgets, secrets, mounts, errors and the CLI."""

from __future__ import annotations

import subprocess
import sys
import traceback
from pathlib import Path
from typing import Any

import pytest

from databricks_local.dbutils import LocalDbutils, SecretError, WidgetError, secret_env_name
from databricks_local.lake import S3Mirror, glob_free_prefix

REPO = Path(__file__).resolve().parents[2]
HEADER = "# Databricks notebook source\n"
SEP = "\n# COMMAND ----------\n"


def notebook(path: Path, *cells: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + SEP.join(cells) + "\n")
    return path


def test_widgets_defaults_overrides_and_dropdown_choices() -> None:
    dbutils = LocalDbutils({"user_id": "abc", "mode": "bad"})
    dbutils.widgets.text("user_id", "demo", "user")
    dbutils.widgets.text("bucket", "b1")
    assert (dbutils.widgets.get("user_id"), dbutils.widgets.get("bucket")) == ("abc", "b1")
    with pytest.raises(WidgetError, match="no input widget named 'nope'"):
        dbutils.widgets.get("nope")
    with pytest.raises(ValueError, match="'bad' is not one of direct, mount"):
        dbutils.widgets.dropdown("mode", "direct", ["direct", "mount"])


def test_secrets_come_from_the_environment() -> None:
    env = {"DATABRICKS_SECRET_AWS_ACCESS_KEY_ID": "AK", "DATABRICKS_SECRET_MY_SCOPE_K_1": "v"}
    dbutils = LocalDbutils(environ=env)
    assert secret_env_name("my-scope", "k.1") == "DATABRICKS_SECRET_MY_SCOPE_K_1"
    assert dbutils.secrets.get("aws", "access_key_id") == "AK"
    assert dbutils.secrets.get(scope="my-scope", key="k.1") == "v"
    with pytest.raises(SecretError, match="export DATABRICKS_SECRET_AWS_SECRET_ACCESS_KEY="):
        dbutils.secrets.get("aws", "secret_access_key")


def test_fs_mounts_map_onto_s3_and_directories(tmp_path: Path) -> None:
    s3 = tmp_path / "s3"
    (s3 / "bkt" / "topics" / "t").mkdir(parents=True)
    (s3 / "bkt" / "topics" / "t" / "a.json").write_text("{}\n")
    dbutils = LocalDbutils(mirror=S3Mirror(tmp_path / "cache", s3_dir=s3))
    dbutils.fs.mount("s3a://KEY:se%2Fcret@bkt", "/mnt/bkt")
    assert [m.mountPoint for m in dbutils.fs.mounts()] == ["/mnt/bkt"]
    assert "se%2Fcret" not in str(dbutils.fs.mounts()), "mount sources are shown without credentials"
    assert [f.name for f in dbutils.fs.ls("dbfs:/mnt/bkt/topics/t")] == ["a.json"]
    assert dbutils.fs.head("/dbfs/mnt/bkt/topics/t/a.json") == "{}\n"
    with pytest.raises(ValueError, match="already mounted"):
        dbutils.fs.mount("s3a://bkt", "/mnt/bkt")
    assert dbutils.fs.unmount("/mnt/bkt") and dbutils.fs.mounts() == []
    with pytest.raises(FileNotFoundError, match="does not exist"):  # as on Databricks once unmounted
        dbutils.fs.ls("/mnt/bkt/topics")


def test_glob_free_prefix() -> None:
    assert glob_free_prefix("topics/u.pin/partition=*/*.json") == "topics/u.pin/partition="
    assert glob_free_prefix("topics/u.pin") == "topics/u.pin"


@pytest.mark.spark
def test_cells_run_in_order_with_run_sql_md_and_shared_globals(
    spark: Any, tmp_path: Path, capsys: Any
) -> None:
    from databricks_local.runner import run_notebook

    notebook(
        tmp_path / "lib" / "helpers.py", "# MAGIC %md\n# MAGIC helpers", "def double(x):\n    return 2 * x"
    )
    main = notebook(
        tmp_path / "main.py",
        "# MAGIC %md\n# MAGIC # Title",
        "# MAGIC %run ./lib/helpers",
        'name = dbutils.widgets.get("who") if False else None\ndbutils.widgets.text("who", "world")\n'
        'greeting = "hello " + dbutils.widgets.get("who")\nvalue = double(21)',
        "# MAGIC %sql\n# MAGIC SELECT 40 + 2 AS answer",
        'display(spark.createDataFrame([(value,)], "v int"))',
    )
    run = run_notebook(main, spark, widgets={"who": "tests"}, echo_md=True)
    assert run.namespace["greeting"] == "hello tests"
    assert run.namespace["value"] == 42
    assert [(p.name, n) for p, n in run.cells] == [
        ("main.py", 1),
        ("main.py", 2),
        ("helpers.py", 1),
        ("helpers.py", 2),
        ("main.py", 3),
        ("main.py", 4),
        ("main.py", 5),
    ]
    out = capsys.readouterr().out
    assert "# Title" in out and "answer" in out and "42" in out


@pytest.mark.spark
def test_notebook_exit_ends_the_run_with_its_value(spark: Any, tmp_path: Path) -> None:
    from databricks_local.runner import run_notebook

    child = notebook(tmp_path / "lib" / "child.py", "x = 1")
    path = notebook(
        tmp_path / "main.py", "# MAGIC %run ./lib/child", "dbutils.notebook.exit(str(x + 1))", "x = 99"
    )
    assert child.exists()
    run = run_notebook(path, spark)
    assert run.exit_value == "2"
    assert run.namespace["x"] == 1  # the cell after exit never ran


@pytest.mark.spark
def test_a_failing_cell_names_the_notebook_cell_and_line(spark: Any, tmp_path: Path) -> None:
    from databricks_local.runner import NotebookError, run_notebook

    path = notebook(tmp_path / "bad.py", "x = 1", "y = 2\nraise ValueError('boom')")
    with pytest.raises(
        NotebookError, match=r"bad.py, cell 2 \(line 4: y = 2\) failed: ValueError: boom"
    ) as info:
        run_notebook(path, spark)
    frames = [f for f in traceback.extract_tb(info.value.__cause__.__traceback__) if f.filename == str(path)]
    assert [f.lineno for f in frames] == [5]  # the real line in the notebook file

    missing = notebook(tmp_path / "missing.py", "# MAGIC %run ./nowhere")
    with pytest.raises(NotebookError, match=r"%run target '\./nowhere' not found"):
        run_notebook(missing, spark)
    shell = notebook(tmp_path / "shell.py", "# MAGIC %sh\n# MAGIC ls")
    with pytest.raises(NotebookError, match="%sh cells cannot run locally"):
        run_notebook(shell, spark)


@pytest.mark.spark
def test_spark_reads_go_through_mounts(spark: Any, tmp_path: Path) -> None:
    from databricks_local.runner import make_namespace, run_notebook

    data = tmp_path / "s3" / "bkt" / "dir"
    data.mkdir(parents=True)
    (data / "a.json").write_text('{"n": 1}\n{"n": 2}\n')
    namespace = make_namespace(
        spark,
        mirror=S3Mirror(tmp_path / "cache", s3_dir=tmp_path / "s3"),
        environ={"DATABRICKS_SECRET_AWS_K": "key", "DATABRICKS_SECRET_AWS_S": "se/cret"},
    )
    path = notebook(
        tmp_path / "mount.py",
        "dbutils.fs.mount(f\"s3a://{dbutils.secrets.get('aws', 'k')}:x@bkt\", \"/mnt/bkt\")\n"
        'total = spark.read.schema("n int").json("/mnt/bkt/dir/*.json").groupBy().sum("n").first()[0]\n'
        'direct = spark.read.schema("n int").json("s3://bkt/dir").count()',
    )
    run = run_notebook(path, spark, namespace=namespace)
    assert (run.namespace["total"], run.namespace["direct"]) == (3, 2)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "local_stack.notebook_runner", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_help_and_user_mistakes(tmp_path: Path) -> None:
    help_text = cli("--help")
    assert (
        help_text.returncode == 0 and "batch" in help_text.stdout and "DATABRICKS_SECRET_" in help_text.stdout
    )
    assert "--lake" in cli("batch", "--help").stdout
    missing = cli("batch", "--lake", str(tmp_path / "nope"), "--user-id", "u", "--out", str(tmp_path / "o"))
    assert missing.returncode == 1
    assert missing.stderr.startswith("error: lake directory") and "Traceback" not in missing.stderr
    not_a_lake = cli("batch", "--lake", str(tmp_path), "--user-id", "u", "--out", str(tmp_path / "o"))
    assert not_a_lake.returncode == 1 and "no topics/ folder" in not_a_lake.stderr
    bad_widget = cli("run", "notebooks/batch.py", "--widget", "novalue")
    assert bad_widget.returncode == 2 and "expected name=value" in bad_widget.stderr
