"""Stream path: put the source tables into the Kinesis streams through the API Gateway (`make emulate-stream`).

`pinterest_data` -> `streaming-<user_id>-pin`, `geolocation_data` -> `-geo`, `user_data` -> `-user`, through the
API's Kinesis service integration (docs/data-contracts.md 3.5); the partition key is the event's index. Two modes:

- `batched` (default): `PUT /streams/<stream>/records` (PutRecords), 100 records per request by default (at most
  500), `workers` requests in flight. Only the records a `FailedRecordCount` answer names as failed go again:
  throttled or failed internally (`ProvisionedThroughputExceededException`, `InternalFailure`) with backoff, the
  others to the dead-letter file;
- `course`: the course's call: `PUT /streams/<stream>/record` (PutRecord) with `{"StreamName", "Data",
  "PartitionKey"}`, one record per request, a new connection each, one thread, datetimes as
  `YYYY-MM-DD HH:MM:SS`.

Reading, options, checkpoint/resume, dead letters and the report are shared with the batch path.
"""

from __future__ import annotations

import threading
from typing import Any

from emulation.config import Config
from emulation.runner import DEFAULT_STREAM_BATCH, EmulationOptions, EmulationReport, emulate

__all__ = ["DEFAULT_STREAM_BATCH", "EmulationOptions", "StreamReport", "run_stream"]

StreamReport = EmulationReport


def run_stream(
    config: Config,
    options: EmulationOptions | None = None,
    *,
    stop: threading.Event | None = None,
    **changes: Any,
) -> StreamReport:
    """Put the source tables into the streams of `config.user_id`; options as `emulation.batch.run_batch`
    (`batch_size` at most 500, default 100)."""
    return emulate(config, "stream", options, stop=stop, **changes)
