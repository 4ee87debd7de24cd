"""Batch path: post the source tables to the Kafka topics through the API Gateway (`make emulate-batch`).

`pinterest_data` -> `POST /topics/<user_id>.pin`, `geolocation_data` -> `.geo`, `user_data` -> `.user`, with the
REST Proxy v2 body and Content-Type. Two modes:

- `batched` (default): `batch_size` records per request, one pooled session, `workers` requests in flight;
- `course`: the course's way, kept to compare: one record per request, a new connection per request, no sleep,
  event by event (pin, geo, user) from one thread.

Reading, checkpoint/resume, dead letters and the report are shared with the stream path (`emulation.runner`).
"""

from __future__ import annotations

import threading

from emulation.config import Config
from emulation.poster import RetryPolicy
from emulation.runner import DEFAULT_BATCH_SIZE, DEFAULT_WORKERS, MODES, EmulationReport, emulate

__all__ = ["MODES", "BatchReport", "run_batch"]

#: The report of a batch run (per table: rows read, accepted, dead-lettered; elapsed, records/s).
BatchReport = EmulationReport


def run_batch(
    config: Config,
    rows: int | None = None,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    rate: float | None = None,
    mode: str = "batched",
    random_rows: bool = False,
    workers: int = DEFAULT_WORKERS,
    from_start: bool = False,
    seed: int | None = None,
    retry: RetryPolicy | None = None,
    progress: bool = True,
    stop: threading.Event | None = None,
) -> BatchReport:
    """Post the source tables of `config.db_url` to the topics of `config.user_id`.

    `rows`: rows per table to deliver in all, counting what the checkpoint already holds (None = every row).
    `from_start=True` ignores and resets the checkpoint (what a demo that reseeds wants). `rate`: records/s over
    all threads. `stop`: set it to stop cleanly (Ctrl-C does it when called from the main thread; then
    `report.interrupted` is true). Raises `ConfigError` (no API URL/key), `SourceDBError` (database missing or
    unseeded) or `DeliveryError` (API unreachable after retries; the checkpoint is saved first).
    """
    return emulate(
        config,
        "batch",
        rows,
        batch_size=batch_size,
        rate=rate,
        mode=mode,
        random_rows=random_rows,
        workers=workers,
        from_start=from_start,
        seed=seed,
        retry=retry,
        progress=progress,
        stop=stop,
    )
