"""The HTTP poster: backoff with full jitter, Retry-After, what is retried, what is dead-lettered."""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import random
import socket
import time
from pathlib import Path

import pytest

from emulation.poster import (
    DeadLetters,
    DeliveryError,
    Poster,
    RateLimiter,
    RetryPolicy,
    parse_retry_after,
)

from .conftest import API_KEY, FakeApi

TOPIC = "testuser.pin"
VALUES = [{"index": i, "title": f"t{i}"} for i in range(10)]


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def _poster(
    api: FakeApi, tmp_path: Path, attempts: int = 4, key: str | None = API_KEY
) -> tuple[Poster, Sleeps]:
    sleeps = Sleeps()
    poster = Poster(
        api.url,
        key,
        dead_letters=DeadLetters(tmp_path / "dl.jsonl"),
        retry=RetryPolicy(attempts=attempts, base=0.5, cap=4.0),
        sleep=sleeps,
        rng=random.Random(1),
    )
    return poster, sleeps


def _dead_letters(tmp_path: Path) -> list[dict]:
    path = tmp_path / "dl.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


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
    assert parse_retry_after("12") == 12.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    later = email.utils.formatdate(time.time() + 20, usegmt=True)
    assert 18 <= parse_retry_after(later) <= 21  # type: ignore[operator]


def test_records_go_in_one_request_with_key_and_content_type(fake_api: FakeApi, tmp_path: Path) -> None:
    poster, sleeps = _poster(fake_api, tmp_path)
    result = poster.post_topic(TOPIC, VALUES)
    assert (result.accepted, result.dead_lettered, result.requests) == (10, 0, 1)
    assert fake_api.values[TOPIC] == VALUES and sleeps == []
    assert fake_api.requests == [("POST", f"/topics/{TOPIC}", 10)]


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_throttling_and_server_errors_are_retried(fake_api: FakeApi, tmp_path: Path, status: int) -> None:
    fake_api.script(status, {"error_code": status * 100 + 3, "message": "busy"}, times=2)
    poster, sleeps = _poster(fake_api, tmp_path)
    result = poster.post_topic(TOPIC, VALUES)
    assert result.accepted == 10 and result.retries == 2 and fake_api.values[TOPIC] == VALUES
    assert len(sleeps) == 2 and 0 <= sleeps[0] <= 0.5 and 0 <= sleeps[1] <= 1.0


def test_retry_after_header_is_respected(fake_api: FakeApi, tmp_path: Path) -> None:
    fake_api.script(429, {"message": "Too Many Requests"}, headers={"Retry-After": "3"})
    poster, sleeps = _poster(fake_api, tmp_path)
    assert poster.post_topic(TOPIC, VALUES).accepted == 10
    assert sleeps == [3.0]


def test_retries_run_out_into_a_delivery_error(fake_api: FakeApi, tmp_path: Path) -> None:
    fake_api.script(503, {"message": "down"}, times=10)
    poster, sleeps = _poster(fake_api, tmp_path, attempts=3)
    with pytest.raises(
        DeliveryError, match=r"10 record\(s\) for testuser.pin not delivered after 3 attempts.*503"
    ):
        poster.post_topic(TOPIC, VALUES)
    assert len(sleeps) == 2 and _dead_letters(tmp_path) == []


def test_unreachable_api_is_retried_then_reported(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    sleeps = Sleeps()
    poster = Poster(
        f"http://127.0.0.1:{port}",
        API_KEY,
        dead_letters=DeadLetters(tmp_path / "dl.jsonl"),
        retry=RetryPolicy(attempts=3),
        sleep=sleeps,
    )
    with pytest.raises(DeliveryError, match="ConnectionError: cannot reach"):
        poster.post_topic(TOPIC, VALUES)
    assert len(sleeps) == 2


@pytest.mark.parametrize(("status", "code"), [(400, 400), (404, 40401), (422, 422)])
def test_client_errors_dead_letter_every_record_with_the_reason(
    fake_api: FakeApi, tmp_path: Path, status: int, code: int
) -> None:
    fake_api.script(status, {"error_code": code, "message": "rejected for good"})
    poster, sleeps = _poster(fake_api, tmp_path)
    result = poster.post_topic(TOPIC, VALUES)
    assert (result.accepted, result.dead_lettered, sleeps) == (0, 10, [])
    letters = _dead_letters(tmp_path)
    assert [d["value"] for d in letters] == VALUES
    assert {(d["destination"], d["status"], d["error_code"]) for d in letters} == {(TOPIC, status, code)}
    assert "rejected for good" in letters[0]["reason"]


def test_a_refused_api_key_stops_instead_of_dead_lettering(fake_api: FakeApi, tmp_path: Path) -> None:
    poster, sleeps = _poster(fake_api, tmp_path, key="wrong")
    with pytest.raises(DeliveryError, match=r"HTTP 403.*API key"):
        poster.post_topic(TOPIC, VALUES)
    assert sleeps == [] and _dead_letters(tmp_path) == []


def test_too_large_requests_are_split(fake_api: FakeApi, tmp_path: Path) -> None:
    fake_api.script(413, {"error_code": 413, "message": "too large"})
    poster, _ = _poster(fake_api, tmp_path)
    result = poster.post_topic(TOPIC, VALUES)
    assert result.accepted == 10 and fake_api.values[TOPIC] == VALUES
    assert [n for _m, _p, n in fake_api.requests] == [0, 5, 5]


def test_failed_records_in_a_200_are_retried_alone_or_dead_lettered(
    fake_api: FakeApi, tmp_path: Path
) -> None:
    fake_api.fail_records(lambda v: v["index"] in (2, 5), 50003, times=2)  # transient, once each
    fake_api.fail_records(lambda v: v["index"] == 7, 40403)  # final
    fake_api.fail_records(lambda v: v["index"] == 8, 50002)  # a Kafka error no retry fixes: final too
    poster, sleeps = _poster(fake_api, tmp_path)
    result = poster.post_topic(TOPIC, VALUES)
    assert (result.accepted, result.dead_lettered, result.retries) == (8, 2, 1)
    assert [n for _m, _p, n in fake_api.requests] == [10, 2]
    assert sorted(v["index"] for v in fake_api.values[TOPIC]) == [0, 1, 2, 3, 4, 5, 6, 9]
    letters = {letter["value"]["index"]: letter for letter in _dead_letters(tmp_path)}
    assert letters[7]["value"] == VALUES[7] and letters[7]["error_code"] == 40403
    assert letters[8]["error_code"] == 50002 and len(sleeps) == 1


def test_stream_records_with_failed_record_count(fake_api: FakeApi, tmp_path: Path) -> None:
    stream = "streaming-testuser-geo"
    rows = [{"ind": i, "country": "Peru"} for i in range(1200)]
    fake_api.fail_records(lambda v: v["ind"] == 3, "ProvisionedThroughputExceededException", times=1)
    fake_api.fail_records(lambda v: v["ind"] == 4, "KMSAccessDeniedException")
    poster, _ = _poster(fake_api, tmp_path)
    result = poster.put_stream(stream, rows, lambda r: str(r["ind"]))
    assert (result.accepted, result.dead_lettered) == (1199, 1)
    # At most 500 per PutRecords call; the throttled record went again on its own.
    assert [n for _m, _p, n in fake_api.requests] == [500, 1, 500, 200]
    assert sorted(v["ind"] for v in fake_api.values[stream]) == [i for i in range(1200) if i != 4]
    assert _dead_letters(tmp_path)[0]["error_code"] == "KMSAccessDeniedException"


def test_stream_throughput_error_for_the_whole_call_is_retried(fake_api: FakeApi, tmp_path: Path) -> None:
    fake_api.script(400, {"__type": "LimitExceededException", "message": "slow down"})
    fake_api.script(400, {"__type": "ResourceNotFoundException", "message": "no such stream"})
    poster, sleeps = _poster(fake_api, tmp_path)
    result = poster.put_stream("streaming-testuser-pin", [{"index": 1}], lambda r: "1")
    assert (result.accepted, result.dead_lettered, len(sleeps)) == (0, 1, 1)
    assert "ResourceNotFoundException" in _dead_letters(tmp_path)[0]["reason"]


def test_course_mode_opens_a_new_connection_per_request(fake_api: FakeApi, tmp_path: Path) -> None:
    poster = Poster(
        fake_api.url, API_KEY, dead_letters=DeadLetters(tmp_path / "dl.jsonl"), reuse_connections=False
    )
    for v in VALUES[:3]:
        assert poster.post_topic(TOPIC, [v]).accepted == 1
    assert fake_api.values[TOPIC] == VALUES[:3]
    assert len(fake_api.connections) == 3
    pooled, _ = _poster(fake_api, tmp_path)
    for v in VALUES[:3]:
        pooled.post_topic(TOPIC, [v])
    assert len(fake_api.connections) == 4


def test_rate_limiter_spaces_records_over_time() -> None:
    now = [100.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(1000, clock=lambda: now[0], sleep=sleep)
    for _ in range(4):
        limiter.acquire(500)
    assert waits == [0.5, 0.5, 0.5]
    assert now[0] == pytest.approx(101.5)
    assert RateLimiter(None).acquire(10**6) == 0.0


def test_dead_letters_keep_datetimes_as_iso_strings(tmp_path: Path) -> None:
    letters = DeadLetters(tmp_path / "dl.jsonl")
    letters.write_all(
        "t", [{"ind": 1, "date_joined": dt.datetime(2016, 5, 1, 2, 3, 4)}], "HTTP 400: bad", 400, 400
    )
    (line,) = _dead_letters(tmp_path)
    assert line["value"] == {"ind": 1, "date_joined": "2016-05-01T02:03:04"} and letters.count == 1
