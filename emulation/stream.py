"""Stream path: put the source tables into the Kinesis streams through the API Gateway (`python -m emulation stream`).

`pinterest_data` -> `PUT /streams/streaming-<user_id>-pin/records` (Kinesis PutRecords through the API's
service integration, DESIGN 3.5), 100 records per request by default (at most 500), partition key = the event's
index. Records a
`FailedRecordCount` answer marks as throttled or failed internally are retried alone with backoff; others go
to the dead-letter file. Reading, checkpoint/resume and the report are shared with the batch path.
"""

from __future__ import annotations

import threading

from emulation.config import Config
from emulation.poster import KINESIS_MAX_RECORDS, RetryPolicy
from emulation.runner import DEFAULT_WORKERS, EmulationReport, emulate

__all__ = ["StreamReport", "run_stream"]

StreamReport = EmulationReport
#: Records per PutRecords request by default. Kinesis takes up to 500, but LocalStack renders the API's mapping
#: template in time that grows faster than linearly with the records (measured: 25 -> 0.5 s, 200 -> 5 s), so a
#: 500-record request nears API Gateway's 29 s integration timeout locally.
DEFAULT_STREAM_BATCH = 100


def run_stream(
    config: Config,
    rows: int | None = None,
    *,
    batch_size: int = DEFAULT_STREAM_BATCH,
    rate: float | None = None,
    random_rows: bool = False,
    workers: int = DEFAULT_WORKERS,
    from_start: bool = False,
    seed: int | None = None,
    retry: RetryPolicy | None = None,
    progress: bool = True,
    stop: threading.Event | None = None,
) -> StreamReport:
    """Put the source tables into the streams of `config.user_id`; options as `emulation.batch.run_batch`."""
    if batch_size > KINESIS_MAX_RECORDS:
        raise ValueError(f"batch_size must be at most {KINESIS_MAX_RECORDS} for Kinesis, got {batch_size}")
    return emulate(
        config,
        "stream",
        rows,
        batch_size=batch_size,
        rate=rate,
        random_rows=random_rows,
        workers=workers,
        from_start=from_start,
        seed=seed,
        retry=retry,
        progress=progress,
        stop=stop,
    )
