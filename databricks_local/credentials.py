"""The course's AWS credentials for local runs: what a course workspace held, made from the local stack.

Owns `install` (run by `make local-up`, `Stack.up`): an IAM user `<user_id>-databricks` with an access key in the
stack's LocalStack (its secret, like AWS's, has `/` and `+` in it, so a course notebook's URL-encoding matters), then
the course's Delta table `dbfs:/user/hive/warehouse/authentication_credentials` (columns `User name`,
`Access key ID`, `Secret access key`) and the same row as `dbfs:/FileStore/tables/authentication_credentials.csv`.
The key is kept in `<state>/outputs/databricks_credentials.json`; every file is 0600 (its folders 0700).

LocalStack accepts any key, so `known_keys` (the stack's test keys, the environment's and those issued here) is
what the runtime checks a notebook's keys against (`dbfs.FileSystem`): others get S3's 403.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

from local_stack.config import TEST_CREDENTIALS, StackConfig

TABLE = "authentication_credentials"
COLUMNS = ("User name", "Access key ID", "Secret access key")


def record_file(config: StackConfig | None = None) -> Path:
    """Where the issued key is kept (0600)."""
    return (config or StackConfig.from_env()).state_dir / "outputs" / "databricks_credentials.json"


def known_keys(config: StackConfig | None = None) -> set[tuple[str, str]]:
    """Key pairs the local S3 accepts from a notebook: the stack's, the environment's, those `install` issued."""
    keys = {(TEST_CREDENTIALS["AWS_ACCESS_KEY_ID"], TEST_CREDENTIALS["AWS_SECRET_ACCESS_KEY"])}
    if os.environ.get("AWS_ACCESS_KEY_ID") and os.environ.get("AWS_SECRET_ACCESS_KEY"):
        keys.add((os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]))
    try:
        record = json.loads(record_file(config).read_text())
        keys.add((record["access_key_id"], record["secret_access_key"]))
    except (OSError, ValueError, KeyError):
        pass
    return keys


def issue_key(config: StackConfig) -> dict[str, str]:
    """The IAM user's access key: the recorded one while LocalStack still lists it, else a new one (recorded)."""
    from databricks_local.lake import aws_client
    from local_stack.processes import write_private

    iam = aws_client("iam", endpoint_url=config.localstack_url, region=config.region)
    user = f"{config.user_id}-databricks"
    try:
        iam.get_user(UserName=user)
    except iam.exceptions.NoSuchEntityException:
        iam.create_user(UserName=user)
    path = record_file(config)
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        record = {}
    listed = {k["AccessKeyId"] for k in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]}
    if record.get("user_name") == user and record.get("access_key_id") in listed:
        return record
    key = iam.create_access_key(UserName=user)["AccessKey"]
    record = {
        "user_name": user,
        "access_key_id": key["AccessKeyId"],
        "secret_access_key": key["SecretAccessKey"],
    }
    write_private(path, json.dumps(record, indent=2))
    return record


def write_tables(record: dict[str, str], root: Path) -> tuple[Path, Path]:
    """The Delta table and the CSV under the DBFS `root`, both holding `record`; their paths."""
    import pyarrow as pa
    from deltalake import write_deltalake

    from databricks_local.dbfs import warehouse_dir
    from local_stack.processes import write_private

    row = (record["user_name"], record["access_key_id"], record["secret_access_key"])
    table = warehouse_dir(root) / TABLE
    _private_dirs(root, table.parent)
    rows = pa.table({name: pa.array([value], pa.string()) for name, value in zip(COLUMNS, row, strict=True)})
    old_umask = os.umask(0o077)
    try:
        write_deltalake(str(table), rows, mode="overwrite", schema_mode="overwrite", name=TABLE)
    finally:
        os.umask(old_umask)
    for path in [table, *table.rglob("*")]:
        os.chmod(path, 0o700 if path.is_dir() else 0o600)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerow(row)
    csv_file = root / "FileStore" / "tables" / f"{TABLE}.csv"
    _private_dirs(root, csv_file.parent)
    write_private(csv_file, text.getvalue())
    return table, csv_file


def _private_dirs(root: Path, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for path in [folder, *folder.parents]:
        if path == root.parent:
            break
        if path == root or root in path.parents:
            os.chmod(path, 0o700)


def install(config: StackConfig | None = None, root: Path | None = None) -> dict[str, Any]:
    """`make local-up`'s step: issue (or keep) the key, write the course's table and CSV; what was written."""
    config = config or StackConfig.from_env()
    record = issue_key(config)
    dbfs = root or Path(os.environ.get("DATABRICKS_LOCAL_DBFS_ROOT") or config.state_dir / "dbfs").absolute()
    table, csv_file = write_tables(record, dbfs)
    return {"user_name": record["user_name"], "access_key_id": record["access_key_id"], "table": table,
            "csv": csv_file}  # fmt: skip
