"""The sliding-window rate limit, its headers, the busiest-second figure and the daily quota."""

import time

import pytest
import requests
import resend
from resend.exceptions import RateLimitError

from sandbox.sliding_window import UNLIMITED, SlidingWindow
from sandbox.testing import TEST_API_KEY, resend_pointed_at, running_sandbox, sample_email

AUTH = {"Authorization": f"Bearer {TEST_API_KEY}"}


def test_requests_over_the_limit_get_429_with_retry_after() -> None:
    with running_sandbox(rate_limit=2) as server, requests.Session() as http:
        http.headers.update(AUTH)
        answers = [http.post(f"{server.url}/emails", json=sample_email()) for _ in range(5)]

        assert [a.status_code for a in answers] == [200, 200, 429, 429, 429]
        assert answers[0].headers["ratelimit-limit"] == "2"
        assert answers[0].headers["ratelimit-remaining"] == "1"
        assert answers[1].headers["ratelimit-remaining"] == "0"
        limited = answers[2]
        assert limited.json()["name"] == "rate_limit_exceeded"
        assert int(limited.headers["retry-after"]) >= 1
        assert limited.headers["ratelimit-remaining"] == "0"
        assert int(limited.headers["ratelimit-reset"]) >= 1

        stats = server.state.stats()
        assert stats["accepted_emails"] == 2
        assert stats["rate_limited"] == 3
        assert stats["by_outcome"]["rate_limited"] == 3
        # Every request counts here, refused or not: it is what the provider saw.
        assert stats["max_requests_in_any_1s_window"] == 5

        time.sleep(1.05)
        assert http.post(f"{server.url}/emails", json=sample_email()).status_code == 200
        assert server.state.stats()["max_requests_in_any_1s_window"] == 5


def test_a_paced_client_stays_within_the_limit() -> None:
    with running_sandbox(rate_limit=4) as server, requests.Session() as http:
        http.headers.update(AUTH)
        statuses = []
        for _ in range(6):
            statuses.append(http.post(f"{server.url}/emails", json=sample_email()).status_code)
            time.sleep(0.26)
        assert statuses == [200] * 6
        assert server.state.stats()["max_requests_in_any_1s_window"] <= 4


def test_sdk_sees_rate_limit_error_with_headers() -> None:
    with running_sandbox(rate_limit=1) as server, resend_pointed_at(server.url):
        resend.Emails.send(sample_email())
        with pytest.raises(RateLimitError) as caught:
            resend.Emails.send(sample_email())
    assert caught.value.error_type == "rate_limit_exceeded"
    assert int(caught.value.headers["retry-after"]) >= 1


def test_daily_quota() -> None:
    with running_sandbox(daily_quota=3) as server, requests.Session() as http:
        http.headers.update(AUTH)
        assert http.post(f"{server.url}/emails", json=sample_email()).status_code == 200
        # A batch that would pass the quota is refused whole.
        over = http.post(f"{server.url}/emails/batch", json=[sample_email()] * 3)
        assert over.status_code == 429
        assert over.json() == {
            "statusCode": 429,
            "name": "daily_quota_exceeded",
            "message": "You have reached your daily email sending quota.",
        }
        assert http.post(f"{server.url}/emails/batch", json=[sample_email()] * 2).status_code == 200
        refused = http.post(
            f"{server.url}/emails", json=sample_email(), headers={"Idempotency-Key": "q"}
        )
        assert refused.json()["name"] == "daily_quota_exceeded"
        assert server.state.stats()["accepted_emails"] == 3
        assert server.state.stats()["by_outcome"]["quota_exceeded"] == 2
        # Not remembered: after the quota is raised, the same key succeeds.
        server.configure(daily_quota=None)
        again = http.post(
            f"{server.url}/emails", json=sample_email(), headers={"Idempotency-Key": "q"}
        )
        assert again.status_code == 200


def test_window_geometry() -> None:
    window = SlidingWindow()
    assert window.admit(0.0, 0).limit == UNLIMITED
    # 0.5 requests/s: one request in any two seconds.
    assert window.admit(10.0, 0.5).allowed
    refused = window.admit(11.0, 0.5)
    assert not refused.allowed
    assert refused.retry_after == 1
    assert window.admit(12.0, 0.5).allowed
    # peek never takes a slot.
    window.clear()
    for _ in range(3):
        assert window.peek(20.0, 1).allowed
    assert window.admit(20.0, 1).allowed
