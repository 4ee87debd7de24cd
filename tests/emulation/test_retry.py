"""The shared retry policy: bounds of the jittered waits, number of tries, deadline, what is retried."""

from __future__ import annotations

import random

import pytest

from emulation.retry import RetryPolicy


def test_delays_are_attempts_minus_one_full_jitter_waits() -> None:
    policy = RetryPolicy(attempts=5, base=0.5, cap=2.0)
    waits = list(policy.delays(random.Random(1)))
    assert len(waits) == 4
    assert all(0 <= w <= bound for w, bound in zip(waits, [0.5, 1.0, 2.0, 2.0], strict=True))


def test_unlimited_policy_keeps_yielding_capped_waits() -> None:
    delays = RetryPolicy(attempts=None, base=1.0, cap=3.0).delays(random.Random(2))
    waits = [next(delays) for _ in range(200)]
    assert max(waits) <= 3.0 and max(waits) > 2.5  # capped, and the cap is reached


def test_call_retries_the_accepted_errors_then_returns() -> None:
    calls, slept = [], []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("down")
        return "ok"

    seen = []
    result = RetryPolicy(attempts=4, base=0.01).call(
        flaky,
        retry_on=(ConnectionError,),
        sleep=slept.append,
        on_retry=lambda n, e, d: seen.append((n, str(e))),
    )
    assert result == "ok" and len(calls) == 3 and len(slept) == 2
    assert seen == [(0, "down"), (1, "down")]


def test_call_raises_the_last_error_when_attempts_run_out() -> None:
    calls = []

    def always() -> None:
        calls.append(1)
        raise TimeoutError(f"try {len(calls)}")

    with pytest.raises(TimeoutError, match="try 3"):
        RetryPolicy(attempts=3, base=0.0).call(always, retry_on=(TimeoutError,), sleep=lambda _: None)
    assert len(calls) == 3


def test_call_does_not_retry_other_errors_or_what_the_predicate_refuses() -> None:
    calls = []

    def bad() -> None:
        calls.append(1)
        raise ValueError("final")

    with pytest.raises(ValueError):
        RetryPolicy(attempts=5).call(bad, retry_on=(ConnectionError,), sleep=lambda _: None)
    with pytest.raises(ValueError):
        RetryPolicy(attempts=5).call(bad, retry_on=lambda e: "transient" in str(e), sleep=lambda _: None)
    assert len(calls) == 2


def test_deadline_stops_before_a_wait_that_would_pass_it() -> None:
    calls = []

    def down() -> None:
        calls.append(1)
        raise ConnectionError

    with pytest.raises(ConnectionError):
        RetryPolicy(attempts=None, base=10.0, cap=10.0).call(
            down, retry_on=(ConnectionError,), deadline=0.5, sleep=lambda _: None, rng=random.Random(0)
        )
    assert len(calls) <= 2


def test_invalid_policies_are_refused() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(base=-1)


def test_backoff_is_full_jitter_below_a_capped_exponential() -> None:
    policy = RetryPolicy(base=0.5, cap=4.0)
    rng = random.Random(3)
    for retry, bound in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (6, 4.0)]:
        delays = [policy.delay(retry, rng=rng) for _ in range(400)]
        assert all(0 <= d <= bound for d in delays)
        assert max(delays) > 0.9 * bound and min(delays) < 0.1 * bound  # spread over the whole range


def test_retry_after_wins_and_is_capped() -> None:
    policy = RetryPolicy(max_retry_after=30)
    assert policy.delay(0, retry_after=7) == 7
    assert policy.delay(5, retry_after=3600) == 30
    assert policy.delay(2, retry_after=-3) == 0.0
