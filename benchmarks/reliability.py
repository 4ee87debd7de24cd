"""Restarts mid-stream (issue 11): nothing acknowledged is lost when the REST Proxy, the broker or the sink restarts.

One case posts `records` uniquely keyed records (`{"run", "key", ...}`, spread over the three topics of a fresh user
id) through the API Gateway of a running stack, from `workers` threads in requests of `batch` records, with the
emulator's `Poster` (its retries and dead letters). A hook restarts the component with the project's own restart
command (`Stack.restart`) once a set share of the records was answered; posting goes on meanwhile, and the records
after a hold point wait until that restart finished, so every restart is provably mid-stream (records answered
before it, during it and after it are counted; nothing is synchronised by sleeping). `how="kill"` crashes the
component (SIGKILL) and starts it again instead.

The fresh user's topics live on the stack's broker; its own S3 sink (a process of its own state dir, started with
`Stack.ensure`) writes them to its own bucket, so the stack's demo data is untouched. `sink=False` runs without any
sink: what the broker holds after a restart is then all there is (issue 11 item 7b).

Afterwards the topics are read back with `assign()` (emulation/readback.py) and the lake from S3, each compared
with the keys the API acknowledged: `topic_missing` and `lake_missing` must be 0; duplicates are reported.

`python -m benchmarks --suite reliability` runs the long variants (`PIPELINE_BENCH_RESTART_RECORDS`, default 60,000
records, `PIPELINE_BENCH_RESTARTS`, default 3 restarts per run, each component restarted and crashed);
tests/local_stack/test_restarts.py runs one restart of each with 20,000 records in `make test`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from emulation.poster import DeadLetters, DeliveryError, Poster
from emulation.readback import Delivery, read_topic
from emulation.retry import RetryPolicy
from local_stack import config as cfg
from local_stack.lake_layout import read_lake_values
from local_stack.processes import is_alive, wait_for
from local_stack.supervisor import Stack, StackInfo

SUITE = "reliability"
COMPONENTS = (cfg.REST_PROXY, cfg.TANSU, cfg.S3_SINK)
#: The poster's retries must outlast a restart (the broker lingers about 5 s on SIGTERM, then starts again).
POST_RETRY = RetryPolicy(attempts=60, base=0.2, cap=2.0)


def _quiet(_: str) -> None:
    pass


@dataclasses.dataclass
class _Progress:
    """Shared by the posting threads and the restart hook."""

    answered: int = 0  # records the API answered for good (accepted or dead-lettered)
    accepted: int = 0
    errors: list[str] = dataclasses.field(default_factory=list)
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)


def restart_case(
    handle: Stack,
    info: StackInfo,
    component: str,
    *,
    records: int = 20_000,
    restarts: int = 1,
    how: str = "restart",
    sink: bool = True,
    batch: int = 250,
    workers: int = 3,
    work_dir: Path | None = None,
    lake_timeout: float = 120.0,
) -> dict[str, Any]:
    """Post `records` through the API while `component` restarts `restarts` times mid-stream; returns one row."""
    if component not in COMPONENTS:
        raise ValueError(f"component must be one of {COMPONENTS}, not {component!r}")
    if component == cfg.S3_SINK and not sink:
        raise ValueError("restarting the sink needs the sink")
    if how not in ("restart", "kill"):
        raise ValueError(f"how must be 'restart' or 'kill', not {how!r}")
    with tempfile.TemporaryDirectory(prefix="restarts-", dir=work_dir) as tmp:
        user = Stack(
            dataclasses.replace(
                handle.config,
                state_dir=Path(tmp) / "state",
                user_id=f"r{uuid.uuid4().hex[:10]}",
                rotate_interval_ms=1000,
            ),
            say=_quiet,
        )
        names = user.config.names
        topics = list(names.topics.values())
        user.ensure_topics()
        if sink:
            user.ensure_bucket(names.bucket)
            user.ensure(cfg.S3_SINK, names.bucket)
        target = user if component == cfg.S3_SINK else handle
        try:
            return _run(
                target, user, info, component, records, restarts, how, sink, batch, workers, tmp, lake_timeout
            )
        finally:
            if sink:
                user.down([cfg.S3_SINK])
            _delete_topics(info.bootstrap_servers, topics)


def _run(
    target: Stack,
    user: Stack,
    info: StackInfo,
    component: str,
    records: int,
    restarts: int,
    how: str,
    sink: bool,
    batch: int,
    workers: int,
    tmp: str,
    lake_timeout: float,
) -> dict[str, Any]:
    names = user.config.names
    topics = list(names.topics.values())
    run = uuid.uuid4().hex
    batches = [
        (
            topics[i % len(topics)],
            [{"run": run, "key": k, "n": k % 97} for k in range(s, min(s + batch, records))],
        )
        for i, s in enumerate(range(0, records, batch))
    ]
    # Restart i starts once (i + 1) / (restarts + 2) of the records were answered; the batches from
    # (i + 1.5) / (restarts + 2) on wait until it finished, so records are answered after every restart.
    triggers = [int(records * (i + 1) / (restarts + 2)) for i in range(restarts)]
    holds = [int(len(batches) * (i + 1.5) / (restarts + 2)) for i in range(restarts)]
    due = [threading.Event() for _ in range(restarts)]
    done = [threading.Event() for _ in range(restarts)]
    progress = _Progress()
    dead = DeadLetters(Path(tmp) / "deadletters.jsonl")
    queue = iter(range(len(batches)))
    queue_lock = threading.Lock()

    def post() -> None:
        poster = Poster(str(info.invoke_url), info.api_key, dead_letters=dead, retry=POST_RETRY)
        try:
            while True:
                with queue_lock:
                    index = next(queue, None)
                if index is None:
                    return
                for hold, finished in zip(holds, done, strict=True):
                    if index >= hold:
                        finished.wait()
                topic, values = batches[index]
                result = poster.post_topic(topic, values)
                with progress.lock:
                    progress.accepted += result.accepted
                    progress.answered += result.accepted + result.dead_lettered
                    for trigger, event in zip(triggers, due, strict=True):
                        if progress.answered >= trigger:
                            event.set()
        except DeliveryError as exc:
            with progress.lock:
                progress.errors.append(str(exc))
        finally:
            poster.close()
            for event in due:  # a failed poster must not leave the hook waiting
                event.set()

    threads = [threading.Thread(target=post, name=f"poster-{n}", daemon=True) for n in range(workers)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    windows = []
    for i in range(restarts):
        due[i].wait()
        with progress.lock:
            before = progress.accepted
        old_pid = target.pid(component)
        t0 = time.monotonic()
        _restart(target, component, how)
        seconds = time.monotonic() - t0
        new_pid = target.pid(component)
        with progress.lock:
            windows.append({"before": before, "after": progress.accepted, "seconds": seconds})
        done[i].set()
        if new_pid is None or new_pid == old_pid:
            raise AssertionError(f"{component} was not restarted (pid {old_pid} -> {new_pid})")
    for thread in threads:
        thread.join()
    post_seconds = time.monotonic() - started
    if progress.errors:
        raise DeliveryError("; ".join(progress.errors))

    dead_keys = _dead_letter_keys(dead.path)
    accepted_keys = [k for k in range(records) if k not in dead_keys]
    expected = {
        t: sum(v["key"] not in dead_keys for b_topic, vs in batches if b_topic == t for v in vs)
        for t in topics
    }
    topic_keys = [
        v.get("key")
        for topic in topics
        for v in read_topic(info.bootstrap_servers, topic, expected[topic])
        if isinstance(v, dict) and v.get("run") == run
    ]
    in_topics = Delivery.of(accepted_keys, topic_keys)
    row: dict[str, Any] = {
        "suite": SUITE,
        "case": f"{how} {component}" + ("" if sink else " (sink stopped)"),
        "records": records,
        "restarts": restarts,
        "accepted": progress.accepted,
        "dead_letters": dead.count,
        "accepted_before_restart": windows[0]["before"] if windows else 0,
        "accepted_after_restarts": progress.accepted - windows[-1]["after"] if windows else progress.accepted,
        "restart_s": round(max((w["seconds"] for w in windows), default=0.0), 1),
        "post_s": round(post_seconds, 1),
        "topic_held": in_topics.arrived,
        "topic_missing": in_topics.missing,
        "topic_duplicates": in_topics.duplicates,
    }
    if sink:
        lake = _wait_for_lake(user, run, set(accepted_keys), lake_timeout)
        in_lake = Delivery.of(accepted_keys, lake)
        row |= {
            "lake_distinct": len(set(lake)),
            "lake_missing": in_lake.missing,
            "lake_duplicates": in_lake.duplicates,
        }
    return row


def _restart(stack: Stack, component: str, how: str) -> None:
    """The project's restart command, or a crash (SIGKILL) followed by a start."""
    if how == "restart":
        stack.restart(component)
        return
    pid = stack.pid(component)
    if pid is not None:
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not is_alive(pid), timeout=10)
    stack.ensure(component)


def _dead_letter_keys(path: Path) -> set[int]:
    if not path.exists():
        return set()
    return {json.loads(line)["value"]["key"] for line in path.read_text().splitlines() if line.strip()}


def _wait_for_lake(user: Stack, run: str, expected: set[int], timeout: float) -> list[int]:
    """Keys of this run in the user's lake, once every expected key is there or `timeout` passed."""
    s3 = user.s3()
    bucket = user.config.names.bucket
    keys: list[int] = []

    def complete() -> bool:
        keys[:] = [
            v["key"]
            for topic in user.config.names.topics.values()
            for v in read_lake_values(s3, bucket, topic)
            if isinstance(v, dict) and v.get("run") == run
        ]
        return expected <= set(keys)

    wait_for(complete, timeout, policy=RetryPolicy(attempts=None, base=0.5, cap=2.0))
    return keys


def _delete_topics(bootstrap: str, topics: list[str]) -> None:
    """Best effort: a leftover test topic harms nothing."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.delete_topics(topics, operation_timeout=10).values():
        future.exception()


def run(
    handle: Stack,
    info: StackInfo,
    records: int | None = None,
    restarts: int | None = None,
    say: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    """The long variants: every component restarted and crashed `restarts` times, and the broker with no sink."""
    records = records or int(os.environ.get("PIPELINE_BENCH_RESTART_RECORDS", "60000"))
    restarts = restarts or int(os.environ.get("PIPELINE_BENCH_RESTARTS", "3"))
    cases = [(c, how, True) for how in ("restart", "kill") for c in COMPONENTS] + [
        (cfg.TANSU, "restart", False)
    ]
    rows = []
    for component, how, sink in cases:
        row = restart_case(handle, info, component, records=records, restarts=restarts, how=how, sink=sink)
        say(
            f"   {row['case']}: accepted {row['accepted']:,}, missing {row['topic_missing']}/{row.get('lake_missing', '-')}"
        )
        rows.append(row)
    rows.append(listener_row(handle))
    return rows


def listener_row(handle: Stack) -> dict[str, Any]:
    """How many sockets the stack's processes listen on, and how many of them are not on loopback (must be 0)."""
    found = handle.listeners()
    return {
        "suite": SUITE,
        "case": "listeners",
        "processes": len({li.pid for li in found}),
        "listeners": len(found),
        "not_loopback": sum(not li.loopback for li in found),
    }
