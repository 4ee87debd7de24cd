"""`spark.readStream.format("kinesis")` for local runs: a Python streaming data source over boto3.

Databricks ships a Kinesis source; local Spark has none (and no jars can be fetched offline), so the notebook runner
registers this one under the same name, with the same schema (`partitionKey, data, stream, shardId,
sequenceNumber, approximateArrivalTimestamp`) and the options the stream notebook uses:

| option | meaning | default |
|---|---|---|
| `streamName` | one stream, or several separated by commas | required |
| `region` | AWS region | the local stack's (`us-east-1`) |
| `initialPosition` | `trim_horizon` (or `earliest`) or `latest`, for shards the checkpoint does not know yet | `latest` |
| `endpoint` | Kinesis endpoint URL | `AWS_ENDPOINT_URL`, else the local stack |
| `awsAccessKey`, `awsSecretKey` | credentials | the environment's, else the local stack's test keys |
| `maxRecordsPerShard` | records read from one shard per micro-batch at most | 10000 |

`roleArn`, `serviceCredential` and other Databricks-only options are accepted and ignored (they name AWS identities
that do not exist locally).

Offsets (kept by Spark in the query's checkpoint) are JSON: the starting position and, per `<stream>|<shardId>`, the
sequence number of the last record read. Every shard the stream has is read on each micro-batch, new shards
(resharding) from the starting position; a restarted query resumes after the checkpointed sequence numbers, so it
reads only new records, and a batch Spark replays after a crash is read again between the same two offsets.
`latest` is pinned to the moment the query first started (as `AT_TIMESTAMP`), so replays stay deterministic.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

from pyspark.sql.datasource import DataSource, SimpleDataSourceStreamReader
from pyspark.sql.types import StructType

SCHEMA = (
    "partitionKey string, data binary, stream string, shardId string, sequenceNumber string, "
    "approximateArrivalTimestamp timestamp"
)
DEFAULT_MAX_RECORDS_PER_SHARD = 10_000
#: GetRecords returns at most this many records per call (Kinesis' own limit).
GET_RECORDS_LIMIT = 10_000
#: Errors worth a retry with backoff: throttling and a briefly unavailable service.
TRANSIENT_ERRORS = (
    "ProvisionedThroughputExceededException",
    "LimitExceededException",
    "InternalFailure",
    "ServiceUnavailable",
    "KMSThrottlingException",
)
Row = tuple[str, bytes, str, str, str, dt.datetime]


class KinesisSourceError(RuntimeError):
    """A stream cannot be read: it does not exist, the options are wrong, or AWS refuses."""


class KinesisDataSource(DataSource):
    """The `kinesis` format: a streaming source only (as on Databricks)."""

    @classmethod
    def name(cls) -> str:
        return "kinesis"

    def schema(self) -> str:
        return SCHEMA

    def simpleStreamReader(self, schema: StructType) -> KinesisStreamReader:
        return KinesisStreamReader(dict(self.options))


class KinesisStreamReader(SimpleDataSourceStreamReader):
    """Reads every shard of the configured streams in the driver (a few thousand records/s is plenty locally)."""

    def __init__(self, options: dict[str, str]) -> None:
        options = {
            key.lower(): value for key, value in options.items()
        }  # Spark's options are case-insensitive
        names = [s.strip() for s in (options.get("streamname") or "").split(",") if s.strip()]
        if not names:
            raise KinesisSourceError("the kinesis source needs the option streamName")
        position = (options.get("initialposition") or "latest").strip().lower()
        if position not in ("trim_horizon", "earliest", "latest"):
            raise KinesisSourceError(
                f"initialPosition must be trim_horizon, earliest or latest, not {options.get('initialposition')!r}"
            )
        limit = options.get("maxrecordspershard") or str(DEFAULT_MAX_RECORDS_PER_SHARD)
        if not limit.isdigit() or int(limit) < 1:
            raise KinesisSourceError(f"maxRecordsPerShard must be a positive integer, not {limit!r}")
        self.streams = names
        self.position = position
        self.max_records = int(limit)
        self.options = options
        self._client: Any = None
        # Where each shard's reading stands: key -> (sequence number of the last record read, next iterator).
        self._iterators: dict[str, tuple[str, str | None]] = {}

    # --- Spark's interface ------------------------------------------------------------------------------
    def initialOffset(self) -> dict:
        start = f"AT_TIMESTAMP:{time.time():.3f}" if self.position == "latest" else "TRIM_HORIZON"
        return {"start": start, "shards": {}}

    def read(self, start: dict) -> tuple[Iterator[Row], dict]:
        """Every record after `start`, up to `maxRecordsPerShard` per shard; the offset after them."""
        rows: list[Row] = []
        shards = dict(start.get("shards", {}))
        for key in self._shard_keys():
            stream, shard = key.split("|", 1)
            got = self._read_shard(stream, shard, start["start"], shards.get(key, ""), None)
            rows.extend(got)
            if got:
                shards[key] = got[-1][4]
        return iter(rows), {"start": start["start"], "shards": dict(sorted(shards.items()))}

    def readBetweenOffsets(self, start: dict, end: dict) -> Iterator[Row]:
        """The records between two offsets again (Spark replays a batch that was planned but not committed)."""
        rows: list[Row] = []
        before = start.get("shards", {})
        for key, last in sorted(end.get("shards", {}).items()):
            if before.get(key, "") == last:
                continue
            stream, shard = key.split("|", 1)
            rows.extend(self._read_shard(stream, shard, end["start"], before.get(key, ""), last))
        return iter(rows)

    def commit(self, end: dict) -> None:
        """Nothing to acknowledge: Kinesis keeps records for its retention period whatever is read."""

    # --- Kinesis -------------------------------------------------------------------------------------
    @property
    def client(self) -> Any:
        if self._client is None:
            from databricks_local.lake import aws_client

            self._client = aws_client(
                "kinesis",
                self.options.get("awsaccesskey"),
                self.options.get("awssecretkey"),
                self.options.get("endpoint"),
                self.options.get("region"),
            )
        return self._client

    def _call(self, method: str, **kwargs: Any) -> dict[str, Any]:
        """One Kinesis call; throttling and transient failures are retried with the project's backoff."""
        from botocore.exceptions import BotoCoreError, ClientError

        from emulation.retry import RetryPolicy

        def transient(error: BaseException) -> bool:
            if isinstance(error, ClientError):
                return error.response.get("Error", {}).get("Code") in TRANSIENT_ERRORS
            return isinstance(error, BotoCoreError)

        try:
            return RetryPolicy(attempts=8, base=0.1, cap=2.0).call(
                lambda: getattr(self.client, method)(**kwargs), retry_on=transient
            )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code == "ResourceNotFoundException":
                raise KinesisSourceError(
                    f"Kinesis stream {kwargs.get('StreamName', '?')!r} not found at "
                    f"{self.client.meta.endpoint_url} ({error})"
                ) from None
            if code == "ExpiredIteratorException":
                raise
            raise KinesisSourceError(f"Kinesis {method} failed: {error}") from None
        except BotoCoreError as error:
            raise KinesisSourceError(
                f"cannot reach Kinesis at {self.client.meta.endpoint_url}: {error}"
            ) from None

    def _shard_keys(self) -> list[str]:
        keys = []
        for stream in self.streams:
            token: str | None = None
            while True:
                page = self._call(
                    "list_shards", **({"NextToken": token} if token else {"StreamName": stream})
                )
                keys.extend(f"{stream}|{shard['ShardId']}" for shard in page.get("Shards", []))
                token = page.get("NextToken")
                if not token:
                    break
        return keys

    def _iterator(self, stream: str, shard: str, start: str, after: str) -> str | None:
        """A shard iterator just after sequence number `after` ('' = the query's starting position)."""
        if after:
            args = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "StartingSequenceNumber": after}
        elif start.startswith("AT_TIMESTAMP:"):
            moment = dt.datetime.fromtimestamp(float(start.split(":", 1)[1]), dt.UTC)
            args = {"ShardIteratorType": "AT_TIMESTAMP", "Timestamp": moment}
        else:
            args = {"ShardIteratorType": "TRIM_HORIZON"}
        return self._call("get_shard_iterator", StreamName=stream, ShardId=shard, **args).get("ShardIterator")

    def _read_shard(self, stream: str, shard: str, start: str, after: str, until: str | None) -> list[Row]:
        """Records of one shard after `after`: up to `until` (inclusive) when given, else up to the shard's end
        or `maxRecordsPerShard`."""
        from botocore.exceptions import ClientError

        key = f"{stream}|{shard}"
        cached = self._iterators.get(key)
        iterator = cached[1] if cached is not None and cached[0] == after and until is None else None
        if iterator is None:
            iterator = self._iterator(stream, shard, start, after)
        rows: list[Row] = []
        last = after
        stop = int(until) if until else None
        while iterator and len(rows) < self.max_records:
            try:
                page = self._call(
                    "get_records",
                    ShardIterator=iterator,
                    Limit=min(GET_RECORDS_LIMIT, self.max_records - len(rows)),
                )
            except ClientError:  # the iterator expired (5 minutes): ask for a new one where we stand
                iterator = self._iterator(stream, shard, start, last)
                continue
            records = page.get("Records", [])
            iterator = page.get("NextShardIterator")
            for record in records:
                if stop is not None and int(record["SequenceNumber"]) > stop:
                    return rows
                rows.append(_row(stream, shard, record))
                last = record["SequenceNumber"]
            if stop is not None and last and int(last) >= stop:
                return rows
            if not records and not page.get("MillisBehindLatest"):
                break  # caught up with the shard
        if until is None:
            self._iterators[key] = (last, iterator)
        return rows


def _row(stream: str, shard: str, record: dict[str, Any]) -> Row:
    arrival = record.get("ApproximateArrivalTimestamp")
    if isinstance(arrival, int | float):
        arrival = dt.datetime.fromtimestamp(arrival, dt.UTC)
    return (
        record.get("PartitionKey"),
        bytes(record.get("Data", b"")),
        stream,
        shard,
        record["SequenceNumber"],
        arrival,
    )
