"""Kinesis access: the connector's options for each way of authenticating, and how its records are decoded.

The API Gateway puts each source row into `streaming-<user_id>-pin|geo|user` as the JSON object itself
(docs/data-contracts.md 3.5). `spark.readStream.format("kinesis")` gives `partitionKey, data, stream, shardId,
sequenceNumber, approximateArrivalTimestamp`; `decode` parses `data` with the dataset's explicit schema, the same
one the batch notebook reads the lake with, so a record that is not valid JSON for it lands in `_corrupt_record`
as in the lake.

Credentials (the stream notebook's `kinesis_auth` widget):

* `instance_profile` (default): the cluster's instance profile (or the default AWS credential chain);
* `service_credential`: a Unity Catalog service credential, by name (Databricks Runtime 16.1 and above);
* `secret_scope`: keys `access_key_id` and `secret_access_key` of a secret scope, passed as `awsAccessKey` and
  `awsSecretKey`. Keys never appear in a notebook.
"""

from __future__ import annotations

from databricks.sdk.runtime import dbutils
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from .names import INITIAL_POSITIONS, KINESIS_AUTH_MODES
from .schemas import CORRUPT_RECORD, RAW_SCHEMAS


def kinesis_options(
    region: str,
    initial_position: str,
    auth: str = "instance_profile",
    service_credential: str = "",
    secret_scope: str = "aws",
) -> dict[str, str]:
    """The connector's options (besides `streamName`) for one way of authenticating (see above)."""
    if initial_position not in INITIAL_POSITIONS:
        raise ValueError(
            f"initial_position must be one of {', '.join(INITIAL_POSITIONS)}, not {initial_position!r}"
        )
    options = {"region": region, "initialPosition": initial_position}
    if auth == "service_credential":
        if not service_credential:
            raise ValueError(
                "kinesis_auth is service_credential: name the credential in the service_credential widget"
            )
        options["serviceCredential"] = service_credential
    elif auth == "secret_scope":
        options["awsAccessKey"] = dbutils.secrets.get(scope=secret_scope, key="access_key_id")
        options["awsSecretKey"] = dbutils.secrets.get(scope=secret_scope, key="secret_access_key")
    elif auth != "instance_profile":
        raise ValueError(f"kinesis_auth must be one of {', '.join(KINESIS_AUTH_MODES)}, not {auth!r}")
    return options


def decode(records: DataFrame, dataset: str) -> DataFrame:
    """Raw rows of `dataset` (its lake schema, `_corrupt_record` included) from the records' `data`."""
    parsed = F.from_json(
        F.col("data").cast("string"),
        RAW_SCHEMAS[dataset],
        {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT_RECORD},
    )
    return records.select(parsed.alias("record")).select("record.*")
