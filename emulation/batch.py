"""Batch path: post the source tables to the Kafka topics through the API Gateway (`make emulate-batch`).

`pinterest_data` -> `POST /topics/<user_id>.pin`, `geolocation_data` -> `.geo`, `user_data` -> `.user`, with the
REST Proxy v2 body and Content-Type (docs/data-contracts.md 3.3). Two modes:

- `batched` (default): `batch_size` records per request (2,000), one pooled session, `workers` requests in flight;
  datetimes as ISO-8601;
- `course`: the course's way, kept to compare: one record per request, a new connection per request, no sleep,
  event by event (pin, geo, user) from one thread, datetimes as the course sends them (`YYYY-MM-DD HH:MM:SS`).

Reading, options, checkpoint/resume, dead letters and the report are shared with the stream path
(`emulation.runner`).
"""

from __future__ import annotations

import threading
from typing import Any

from emulation.config import Config
from emulation.runner import MODES, EmulationOptions, EmulationReport, emulate

__all__ = ["MODES", "BatchReport", "EmulationOptions", "run_batch"]

#: The report of a batch run (per table: rows read, accepted, dead-lettered; elapsed, records/s).
BatchReport = EmulationReport


def run_batch(
    config: Config,
    options: EmulationOptions | None = None,
    *,
    stop: threading.Event | None = None,
    **changes: Any,
) -> BatchReport:
    """Post the source tables of `config.db_url` to the topics of `config.user_id`.

    `options`: how (`EmulationOptions`: rows, batch_size, rate, mode, workers, from_start, retry, ...), or its
    fields as keywords (`run_batch(config, rows=100, progress=False)`). `from_start=True` ignores and resets the
    checkpoint (what a demo that reseeds wants). `stop`: set it to stop cleanly (Ctrl-C does it when called from
    the main thread; then `report.interrupted` is true). Raises `ConfigError` (no API URL/key), `SourceDBError`
    (database missing or unseeded) or `DeliveryError` (API unreachable after retries; the checkpoint is saved
    first).
    """
    return emulate(config, "batch", options, stop=stop, **changes)
