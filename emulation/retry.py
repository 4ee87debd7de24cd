"""The one retry policy of the project: exponential backoff with full jitter, used by every retry loop.

The emulator's poster, the S3 sink, the REST Proxy's topic creation and the local stack's process supervision all
wait between attempts with `RetryPolicy`; none has a backoff loop of its own.

    policy = RetryPolicy(attempts=5, base=0.2, cap=5.0)
    value = policy.call(lambda: flaky(), retry_on=(ConnectionError,))   # raises the last error after 5 tries
    for delay in policy.delays():                                        # or drive the loop yourself
        ...

Before try n+1 the wait is uniform(0, min(cap, base * 2**n)) seconds ("full jitter"), or the server's
`Retry-After` when one is given (capped at `max_retry_after`). `attempts=None` retries forever (a worker loop),
`deadline` (seconds) bounds the total time instead of, or as well as, the number of tries.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """`attempts` tries in all (None: no limit); before try n+1 wait uniform(0, min(cap, base * 2**n)) s."""

    attempts: int | None = 6
    base: float = 0.25
    cap: float = 10.0
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        if self.attempts is not None and self.attempts < 1:
            raise ValueError(f"attempts must be at least 1 (or None for no limit), got {self.attempts}")
        if self.base < 0 or self.cap < 0:
            raise ValueError("base and cap must be >= 0")

    def delay(self, retry: int, retry_after: float | None = None, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number `retry` (0-based); a server's Retry-After wins (capped)."""
        if retry_after is not None:
            return max(0.0, min(retry_after, self.max_retry_after))
        return (rng or random).uniform(0, min(self.cap, self.base * 2 ** min(retry, 62)))

    def may_retry(self, retry: int) -> bool:
        """True when retry number `retry` (0-based) is still allowed."""
        return self.attempts is None or retry + 1 < self.attempts

    def delays(self, rng: random.Random | None = None) -> Iterator[float]:
        """The waits between tries: `attempts - 1` of them, or endless when `attempts` is None."""
        retry = 0
        while self.may_retry(retry):
            yield self.delay(retry, rng=rng)
            retry += 1

    def call(
        self,
        function: Callable[[], T],
        *,
        retry_on: tuple[type[BaseException], ...] | Callable[[BaseException], bool] = (Exception,),
        deadline: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
        on_retry: Callable[[int, BaseException, float], None] | None = None,
        rng: random.Random | None = None,
    ) -> T:
        """`function()`, tried again after a backoff while it raises an error `retry_on` accepts.

        `retry_on` is a tuple of exception types or a predicate. `deadline`: give up once the next wait would end
        more than this many seconds after the first try. `on_retry(retry, error, delay)` is called before each
        wait (to log it). The last error is raised as it is when the policy or the deadline says stop.
        """
        accepts = retry_on if callable(retry_on) and not isinstance(retry_on, tuple) else None
        types = retry_on if isinstance(retry_on, tuple) else ()
        started = time.monotonic()
        retry = 0
        while True:
            try:
                return function()
            except BaseException as error:
                transient = accepts(error) if accepts is not None else isinstance(error, types)
                if not transient or not self.may_retry(retry):
                    raise
                wait = self.delay(retry, rng=rng)
                if deadline is not None and time.monotonic() - started + wait > deadline:
                    raise
                if on_retry is not None:
                    on_retry(retry, error, wait)
                sleep(wait)
                retry += 1
