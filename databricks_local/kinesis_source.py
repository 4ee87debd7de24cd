"""`spark.readStream.format("kinesis")` for local runs: a Python streaming data source over boto3.

Databricks ships a Kinesis source; local Spark has none (and no jars can be fetched offline), so the notebook runner
registers this one under the same name, with the same schema (`partitionKey, data, stream, shardId,
sequenceNumber, approximateArrivalTimestamp`) and Databricks' options:

| option | meaning | default |
|---|---|---|
| `streamName` | one stream, or several separated by commas | required |
| `region` | AWS region | the local stack's (`us-east-1`) |
| `initialPosition` | for shards the checkpoint does not know yet: `trim_horizon` (or `earliest`), `latest`, or `at_timestamp` as JSON, `{"at_timestamp": "06/25/2020 10:23:45 PDT"}` (Java's default format) or with a Java pattern, `{"at_timestamp": "2020-06-25 10:23:45Z", "format": "yyyy-MM-dd HH:mm:ssX"}` | `latest` |
| `endpoint` | Kinesis endpoint URL | `AWS_ENDPOINT_URL`, else the local stack |
| `awsAccessKey`, `awsSecretKey` | credentials | the environment's, else the local stack's test keys |
| `roleArn` (`roleSessionName`, `roleExternalId`, `stsEndpoint`) | an IAM role to assume with STS first (against LocalStack's STS locally) | none |
| `serviceCredential` | a Unity Catalog service credential: accepted; locally the keys above apply | none |
| `maxRecordsPerFetch` | records asked of one `GetRecords` call | 10000 |
| `maxRecordsPerShard` | records read from one shard per micro-batch at most (local only) | 10000 |

Other Databricks-only options are accepted and ignored.

Every Kinesis call is bounded: botocore connect/read timeouts and standard retries (`KINESIS_CONFIG`), then at most
`CALL_DEADLINE` seconds of the project's backoff on throttling, so a trigger never waits on a call forever. The
shard list is listed once and cached, refreshed every `SHARD_LIST_INTERVAL` seconds or at once when a stream is
not found or a shard ends (resharding); each shard's iterator is kept between triggers (a fresh one only when it
expired, `ExpiredIteratorException`, or the offset moved elsewhere), so a trigger with nothing new costs one
`GetRecords` per shard.

Offsets (kept by Spark in the query's checkpoint) are JSON: the starting position and, per `<stream>|<shardId>`, the
sequence number of the last record read. Every shard the stream has is read on each micro-batch, new shards
(resharding) from the starting position; a restarted query resumes after the checkpointed sequence numbers, so it
reads only new records, and a batch Spark replays after a crash is read again between the same two offsets.
`latest` is pinned to the moment the query first started (as `AT_TIMESTAMP`), so replays stay deterministic.
"""

from __future__ import annotations

import datetime as dt
import json
import re
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
#: GetRecords returns at most this many records per call (Kinesis' own limit), `maxRecordsPerFetch`'s default.
GET_RECORDS_LIMIT = 10_000
#: Seconds between two listings of a stream's shards (sooner when a stream is not found or a shard closes).
SHARD_LIST_INTERVAL = 30.0
#: Seconds one Kinesis call may take in all, the project's backoff on throttling included.
CALL_DEADLINE = 30.0
#: botocore's bounds of every call of the source: a stalled connection fails fast and is retried.
KINESIS_TIMEOUTS = {
    "connect_timeout": 3,
    "read_timeout": 10,
    "retries": {"max_attempts": 4, "mode": "standard"},
}
#: Errors worth a retry with backoff: throttling and a briefly unavailable service.
TRANSIENT_ERRORS = (
    "ProvisionedThroughputExceededException",
    "LimitExceededException",
    "InternalFailure",
    "ServiceUnavailable",
    "KMSThrottlingException",
)
#: Java's `Date.toString()`-like default of Databricks' `at_timestamp` ("06/25/2020 10:23:45 PDT").
DEFAULT_TIMESTAMP_FORMAT = "MM/dd/yyyy HH:mm:ss z"
#: Zone abbreviations an `at_timestamp` may carry (Java's `z`), as UTC offsets in hours.
ZONE_ABBREVIATIONS = {
    "UTC": 0, "GMT": 0, "Z": 0, "PST": -8, "PDT": -7, "MST": -7, "MDT": -6, "CST": -6, "CDT": -5,
    "EST": -5, "EDT": -4, "CET": 1, "CEST": 2, "BST": 1, "IST": 5.5, "JST": 9,
}  # fmt: skip
Row = tuple[str, bytes, str, str, str, dt.datetime]


def kinesis_config() -> Any:
    """The botocore Config of the source's Kinesis (and STS) clients."""
    from botocore.config import Config

    return Config(**KINESIS_TIMEOUTS)


def parse_initial_position(text: str | None) -> str:
    """`initialPosition` -> the offset's `start`: `TRIM_HORIZON`, `LATEST` or `AT_TIMESTAMP:<epoch seconds>`.

    Accepts `trim_horizon`, `earliest`, `latest` (any case) and Databricks' JSON form of `at_timestamp`.
    """
    value = (text or "latest").strip()
    lowered = value.lower()
    if lowered in ("trim_horizon", "earliest"):
        return "TRIM_HORIZON"
    if lowered == "latest":
        return "LATEST"
    if value.startswith("{"):
        try:
            spec = json.loads(value)
        except ValueError:
            raise KinesisSourceError(f"initialPosition is not valid JSON: {value!r}") from None
        if not isinstance(spec, dict) or not isinstance(spec.get("at_timestamp"), str):
            raise KinesisSourceError(
                'initialPosition as JSON needs "at_timestamp": {"at_timestamp": "06/25/2020 10:23:45 PDT"}'
            )
        moment = parse_java_timestamp(spec["at_timestamp"], spec.get("format") or DEFAULT_TIMESTAMP_FORMAT)
        return f"AT_TIMESTAMP:{moment.timestamp():.3f}"
    raise KinesisSourceError(
        "initialPosition must be trim_horizon, earliest, latest or "
        f'{{"at_timestamp": "...", "format": "..."}}, not {text!r}'
    )


_JAVA_TOKENS = [
    ("yyyy", "%Y"), ("uuuu", "%Y"), ("yy", "%y"), ("MMMM", "%B"), ("MMM", "%b"), ("MM", "%m"), ("dd", "%d"),
    ("HH", "%H"), ("hh", "%I"), ("mm", "%M"), ("ss", "%S"), ("SSSSSS", "%f"), ("SSS", "%f"), ("a", "%p"),
    ("EEEE", "%A"), ("EEE", "%a"), ("XXX", "%z"), ("XX", "%z"), ("X", "%z"), ("ZZZ", "%z"), ("Z", "%z"),
    ("zzzz", "<zone>"), ("zzz", "<zone>"), ("z", "<zone>"), ("'T'", "T"), ("T", "T"),
]  # fmt: skip


def parse_java_timestamp(text: str, pattern: str) -> dt.datetime:
    """`text` read with the Java date pattern `pattern` (the common letters: y M d H h m s S a E X Z z); an aware
    datetime (UTC when the text names no zone)."""
    out, i = "", 0
    while i < len(pattern):
        for token, directive in _JAVA_TOKENS:
            if pattern.startswith(token, i):
                out += directive
                i += len(token)
                break
        else:
            out += "%%" if pattern[i] == "%" else pattern[i]
            i += 1
    value, offset = text.strip(), None
    if "<zone>" in out:
        match = re.search(r"([A-Za-z]{1,5})\s*$", value) if out.endswith("<zone>") else None
        if not match or match.group(1).upper() not in ZONE_ABBREVIATIONS:
            raise KinesisSourceError(
                f"at_timestamp {text!r}: the zone must end the text and be one of {', '.join(ZONE_ABBREVIATIONS)}"
            )
        offset = ZONE_ABBREVIATIONS[match.group(1).upper()]
        value, out = value[: match.start()].rstrip(), out.replace("<zone>", "").rstrip()
    value = re.sub(r"Z$", "+0000", value) if "%z" in out else value
    try:
        moment = dt.datetime.strptime(value, out)
    except ValueError as error:
        raise KinesisSourceError(
            f"at_timestamp {text!r} does not match the format {pattern!r}: {error}"
        ) from None
    if offset is not None:
        moment = moment.replace(tzinfo=dt.timezone(dt.timedelta(hours=offset)))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


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
        self.start = parse_initial_position(options.get("initialposition"))
        self.streams = names
        self.max_records = _positive(
            options, "maxrecordspershard", "maxRecordsPerShard", DEFAULT_MAX_RECORDS_PER_SHARD
        )
        self.fetch_limit = min(
            GET_RECORDS_LIMIT,
            _positive(options, "maxrecordsperfetch", "maxRecordsPerFetch", GET_RECORDS_LIMIT),
        )
        self.options = options
        self.shard_list_interval = SHARD_LIST_INTERVAL
        self._client: Any = None
        self._shards: list[str] = []
        self._shards_listed = -float("inf")  # monotonic time of the last listing
        # Where each shard's reading stands: key -> (sequence number of the last record read, next iterator).
        self._iterators: dict[str, tuple[str, str | None]] = {}
        self.calls: dict[str, int] = {}  # Kinesis calls made, by method (for tests and diagnostics)

    # --- Spark's interface ------------------------------------------------------------------------------
    def initialOffset(self) -> dict:
        start = f"AT_TIMESTAMP:{time.time():.3f}" if self.start == "LATEST" else self.start
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

            access_key, secret_key = self.options.get("awsaccesskey"), self.options.get("awssecretkey")
            token = None
            if self.options.get("rolearn"):
                access_key, secret_key, token = self._assume_role(access_key, secret_key)
            self._client = aws_client(
                "kinesis",
                access_key,
                secret_key,
                self.options.get("endpoint"),
                self.options.get("region"),
                config=kinesis_config(),
                session_token=token,
            )
        return self._client

    def _assume_role(self, access_key: str | None, secret_key: str | None) -> tuple[str, str, str]:
        """Temporary credentials of `roleArn` from STS (`stsEndpoint`, else the Kinesis endpoint's: LocalStack's
        STS locally), with `roleSessionName` and `roleExternalId` when given."""
        from botocore.exceptions import BotoCoreError, ClientError

        from databricks_local.lake import aws_client

        sts = aws_client(
            "sts",
            access_key,
            secret_key,
            self.options.get("stsendpoint") or self.options.get("endpoint"),
            self.options.get("region"),
            config=kinesis_config(),
        )
        args = {
            "RoleArn": self.options["rolearn"],
            "RoleSessionName": self.options.get("rolesessionname") or "databricks-local-kinesis",
        }
        if self.options.get("roleexternalid"):
            args["ExternalId"] = self.options["roleexternalid"]
        try:
            creds = sts.assume_role(**args)["Credentials"]
        except (BotoCoreError, ClientError) as error:
            raise KinesisSourceError(f"cannot assume the role {args['RoleArn']}: {error}") from None
        return creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]

    def _call(self, method: str, **kwargs: Any) -> dict[str, Any]:
        """One bounded Kinesis call: botocore's timeouts and retries, then the project's backoff on throttling for
        at most `CALL_DEADLINE` seconds."""
        from botocore.exceptions import BotoCoreError, ClientError

        from emulation.retry import RetryPolicy

        def transient(error: BaseException) -> bool:
            if isinstance(error, ClientError):
                return error.response.get("Error", {}).get("Code") in TRANSIENT_ERRORS
            return isinstance(error, BotoCoreError)

        def once() -> dict[str, Any]:
            self.calls[method] = self.calls.get(method, 0) + 1
            return getattr(self.client, method)(**kwargs)

        try:
            return RetryPolicy(attempts=6, base=0.1, cap=2.0).call(
                once, retry_on=transient, deadline=CALL_DEADLINE
            )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code == "ResourceNotFoundException":
                self._shards_listed = -float("inf")  # the stream is gone or new: list its shards again
                self._iterators.clear()
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
        """`<stream>|<shardId>` of every shard, listed at most every `shard_list_interval` seconds."""
        if time.monotonic() - self._shards_listed < self.shard_list_interval:
            return self._shards
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
        self._shards, self._shards_listed = keys, time.monotonic()
        return keys

    def _iterator(self, stream: str, shard: str, start: str, after: str) -> str | None:
        """A shard iterator just after sequence number `after` ('' = the query's starting position)."""
        if after:
            args = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "StartingSequenceNumber": after}
        elif start.startswith("AT_TIMESTAMP:"):
            moment = dt.datetime.fromtimestamp(float(start.split(":", 1)[1]), dt.UTC)
            args = {"ShardIteratorType": "AT_TIMESTAMP", "Timestamp": moment}
        elif start == "LATEST":
            args = {"ShardIteratorType": "LATEST"}
        else:
            args = {"ShardIteratorType": "TRIM_HORIZON"}
        return self._call("get_shard_iterator", StreamName=stream, ShardId=shard, **args).get("ShardIterator")

    def _read_shard(self, stream: str, shard: str, start: str, after: str, until: str | None) -> list[Row]:
        """Records of one shard after `after`: up to `until` (inclusive) when given, else up to the shard's end
        or `maxRecordsPerShard`."""
        from botocore.exceptions import ClientError

        key = f"{stream}|{shard}"
        cached = self._iterators.get(key)
        if cached is not None and cached[0] == after and until is None:
            iterator = cached[1]
            if iterator is None:  # the shard was closed (resharding) and is read to its end
                return []
        else:
            iterator = self._iterator(stream, shard, start, after)
        rows: list[Row] = []
        last = after
        stop = int(until) if until else None
        # An iterator after `after` may give the record `after` again: kinesis-mock (LocalStack's engine) reads an
        # iterator at a shard's StartingSequenceNumber as the shard's start, and the first record put in the second
        # the shard was created has that very number, so the NextShardIterator after it (kept for the next trigger)
        # and a fresh AFTER_SEQUENCE_NUMBER one both return it until a second record arrives. Sequence numbers only
        # grow within a shard: anything at or before `after` was read already and is skipped, so the offset always
        # moves past what is returned (else Spark stops: SIMPLE_STREAM_READER_OFFSET_DID_NOT_ADVANCE).
        floor = int(after) if after else -1
        while iterator and len(rows) < self.max_records:
            asked = min(self.fetch_limit, self.max_records - len(rows))
            try:
                page = self._call("get_records", ShardIterator=iterator, Limit=asked)
            except ClientError:  # the iterator expired (5 minutes): ask for a new one where we stand
                iterator = self._iterator(stream, shard, start, last)
                continue
            records = page.get("Records", [])
            iterator = page.get("NextShardIterator")
            for record in records:
                sequence = int(record["SequenceNumber"])
                if sequence <= floor:
                    continue
                if stop is not None and sequence > stop:
                    return rows
                rows.append(_row(stream, shard, record))
                last = record["SequenceNumber"]
            if stop is not None and last and int(last) >= stop:
                return rows
            if len(records) < asked and not page.get("MillisBehindLatest"):
                break  # caught up: fewer records than asked and none behind (no extra empty call)
        if until is None:
            self._iterators[key] = (last, iterator)
            if iterator is None:  # the shard ended: its children (resharding) are in the next listing
                self._shards_listed = -float("inf")
        return rows


def _positive(options: dict[str, str], key: str, name: str, default: int) -> int:
    value = options.get(key) or str(default)
    if not value.isdigit() or int(value) < 1:
        raise KinesisSourceError(f"{name} must be a positive integer, not {value!r}")
    return int(value)


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
