"""The HTTP poster: what is retried (through the shared retry policy), what is dead-lettered, per-record results."""

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


def test_retry_after_header_values() -> None:
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


class CountingPolicy(RetryPolicy):
    """The shared policy, recording what the poster asks of it."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        object.__setattr__(self, "asked", [])

    def delay(self, retry: int, retry_after: float | None = None, rng: random.Random | None = None) -> float:
        self.asked.append((retry, retry_after))  # type: ignore[attr-defined]
        return super().delay(retry, retry_after, rng)


def test_every_wait_comes_from_the_shared_retry_policy(fake_api: FakeApi, tmp_path: Path) -> None:
    fake_api.script(503, times=2)
    fake_api.script(429, headers={"Retry-After": "2"})
    fake_api.fail_records(lambda v: v["index"] == 3, 50003, times=1)
    policy = CountingPolicy(attempts=None, base=0.5, cap=4.0)  # None: no limit on tries
    sleeps = Sleeps()
    poster = Poster(
        fake_api.url, API_KEY, dead_letters=DeadLetters(tmp_path / "dl.jsonl"), retry=policy, sleep=sleeps
    )
    result = poster.post_topic(TOPIC, VALUES)
    assert (result.accepted, result.retries) == (10, 4)
    assert policy.asked == [(0, None), (1, None), (2, 2.0), (3, None)]  # type: ignore[attr-defined]
    assert len(sleeps) == 4 and sleeps[2] == 2.0


def test_a_500_whose_every_record_failed_for_good_is_dead_lettered_not_retried(
    fake_api: FakeApi, tmp_path: Path
) -> None:
    """Issue 11 item 4: the REST Proxy answers 500 with the per-record `offsets` when every record failed."""
    fake_api.fail_records(lambda v: True, 50002)  # say, every record larger than the broker accepts
    poster, sleeps = _poster(fake_api, tmp_path)
    result = poster.post_topic(TOPIC, VALUES[:3])
    assert (result.accepted, result.dead_lettered, result.retries, sleeps) == (0, 3, 0, [])
    letters = _dead_letters(tmp_path)
    assert [d["value"] for d in letters] == VALUES[:3]
    assert {(d["status"], d["error_code"]) for d in letters} == {(500, 50002)}
    assert "error_code 50002: boom" in letters[0]["reason"]


def test_a_500_with_per_record_results_retries_only_the_transient_records(
    fake_api: FakeApi, tmp_path: Path
) -> None:
    fake_api.fail_records(lambda v: v["index"] < 2, 50002)  # final
    fake_api.fail_records(
        lambda v: v["index"] >= 2, 50003, times=3
    )  # transient, once each: all failed: a 500
    poster, sleeps = _poster(fake_api, tmp_path)
    result = poster.post_topic(TOPIC, VALUES[:5])
    assert (result.accepted, result.dead_lettered, result.retries, len(sleeps)) == (3, 2, 1, 1)
    assert [n for _m, _p, n in fake_api.requests] == [5, 3]
    assert [r["value"]["index"] for r in fake_api.bodies[1][1]["records"]] == [2, 3, 4]
    assert sorted(d["value"]["index"] for d in _dead_letters(tmp_path)) == [0, 1]


def test_a_500_without_per_record_results_is_still_retried_as_a_whole(
    fake_api: FakeApi, tmp_path: Path
) -> None:
    fake_api.script(500, {"error_code": 50003, "message": "broker unreachable"})  # no offsets
    fake_api.script(502, {"message": "Bad Gateway", "offsets": [{"error_code": None}]})  # not one per record
    poster, sleeps = _poster(fake_api, tmp_path)
    result = poster.post_topic(TOPIC, VALUES)
    assert (result.accepted, result.retries, len(sleeps)) == (10, 2, 2)


def test_putrecords_retries_exactly_the_entries_failed_record_count_names(
    fake_api: FakeApi, tmp_path: Path
) -> None:
    stream = "streaming-testuser-pin"
    rows = [{"index": i, "title": f"t{i}"} for i in range(20)]
    fake_api.fail_records(lambda v: v["index"] in (3, 11), "ProvisionedThroughputExceededException", times=2)
    fake_api.fail_records(lambda v: v["index"] == 7, "InternalFailure", times=1)
    fake_api.fail_records(lambda v: v["index"] == 4, "KMSAccessDeniedException")  # final
    poster, sleeps = _poster(fake_api, tmp_path)
    result = poster.put_stream(stream, rows, lambda r: f"k{r['index']}")
    assert (result.accepted, result.dead_lettered, result.retries) == (19, 1, 1)
    (first, body), (second, retried) = fake_api.bodies
    assert first == second == f"/streams/{stream}/records" and body["StreamName"] == stream
    assert len(body["Records"]) == 20
    assert retried["Records"] == [{"Data": rows[i], "PartitionKey": f"k{i}"} for i in (3, 7, 11)]
    assert sorted(v["index"] for v in fake_api.values[stream]) == [i for i in range(20) if i != 4]
    assert len(sleeps) == 1 and 0 <= sleeps[0] <= 0.5  # backed off before the throttled records went again


def test_kinesis_throttling_of_the_whole_call_backs_off_with_retry_after(
    fake_api: FakeApi, tmp_path: Path
) -> None:
    fake_api.script(400, {"__type": "ProvisionedThroughputExceededException", "message": "slow"})
    fake_api.script(400, {"__type": "LimitExceededException"}, headers={"Retry-After": "5"})
    fake_api.script(429, {"message": "Too Many Requests"})
    poster, sleeps = _poster(fake_api, tmp_path)
    result = poster.put_stream("streaming-testuser-geo", [{"ind": 1}], lambda r: "1")
    assert (result.accepted, result.retries) == (1, 3)
    assert sleeps[1] == 5.0 and 0 <= sleeps[0] <= 0.5 and 0 <= sleeps[2] <= 2.0


def test_put_record_sends_the_course_body_one_record_per_request(fake_api: FakeApi, tmp_path: Path) -> None:
    stream = "streaming-testuser-user"
    fake_api.fail_records(lambda v: v["ind"] == 2, "ProvisionedThroughputExceededException", times=1)
    fake_api.fail_records(lambda v: v["ind"] == 3, "ValidationException")
    poster, sleeps = _poster(fake_api, tmp_path)
    results = [poster.put_stream_record(stream, {"ind": i, "age": 20 + i}, str(i)) for i in range(5)]
    assert [(r.accepted, r.dead_lettered, r.retries) for r in results] == [
        (1, 0, 0),
        (1, 0, 0),
        (1, 0, 1),
        (0, 1, 0),
        (1, 0, 0),
    ]
    assert {p for p, _b in fake_api.bodies} == {f"/streams/{stream}/record"}
    assert fake_api.bodies[0][1] == {"StreamName": stream, "Data": {"ind": 0, "age": 20}, "PartitionKey": "0"}
    assert [v["ind"] for v in fake_api.values[stream]] == [0, 1, 2, 4] and len(sleeps) == 1
    (letter,) = _dead_letters(tmp_path)
    assert letter["value"] == {"ind": 3, "age": 23} and "ValidationException" in letter["reason"]


def test_one_record_failing_a_whole_putrecords_call_is_isolated_and_dead_lettered(
    fake_api: FakeApi, tmp_path: Path
) -> None:
    """Kinesis fails a whole PutRecords with InvalidArgumentException for one record over 1 MiB: the call is split
    in halves until that record is alone; the others are delivered, only it is dead-lettered."""
    stream = "streaming-testuser-pin"
    rows = [{"index": i} for i in range(10)]
    too_large = {"__type": "InvalidArgumentException", "message": "Data object is too large"}
    fake_api.reject_requests(lambda v: v["index"] == 6, 400, too_large)
    poster, sleeps = _poster(fake_api, tmp_path)
    result = poster.put_stream(stream, rows, lambda r: str(r["index"]))
    assert (result.accepted, result.dead_lettered, sleeps) == (9, 1, [])
    assert [n for _m, _p, n in fake_api.requests] == [10, 5, 5, 2, 1, 1, 3]  # halves, depth first
    assert sorted(v["index"] for v in fake_api.values[stream]) == [i for i in range(10) if i != 6]
    (letter,) = _dead_letters(tmp_path)
    assert letter["value"] == {"index": 6} and letter["status"] == 400 and "too large" in letter["reason"]


def test_a_missing_stream_is_not_split_record_by_record(fake_api: FakeApi, tmp_path: Path) -> None:
    poster, _ = _poster(fake_api, tmp_path)
    result = poster.put_stream("streaming-nobody-pin", VALUES, lambda r: "k")
    # ResourceNotFoundException is no record's fault: one request, not a split down to single records.
    assert result.dead_lettered == 10 and result.requests == len(fake_api.bodies) == 1
