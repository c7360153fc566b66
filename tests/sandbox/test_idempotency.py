"""Idempotency-Key: replay, conflicts, concurrency, expiry, and what is (not) remembered."""

import json
import threading
import time

import pytest
import requests
import resend

from sandbox import SandboxServer
from sandbox.testing import TEST_API_KEY, resend_pointed_at, sample_email

AUTH = {"Authorization": f"Bearer {TEST_API_KEY}", "Content-Type": "application/json"}


def post(server: SandboxServer, body: bytes, key: str | None, path: str = "/emails", **kw):
    headers = dict(AUTH, **({"Idempotency-Key": key} if key is not None else {}))
    return requests.post(f"{server.url}{path}", data=body, headers=headers, **kw)


BODY = json.dumps(sample_email()).encode()


def test_same_key_and_body_replays_the_first_answer(server: SandboxServer) -> None:
    first = post(server, BODY, "order-1")
    second = post(server, BODY, "order-1")
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    assert len(server.state.emails()) == 1
    assert server.state.emails()[0]["idempotency_key"] == "order-1"
    stats = server.state.stats()
    assert stats["replayed"] == 1
    assert stats["accepted_emails"] == 1
    assert [r["outcome"] for r in server.state.requests()] == ["accepted", "replayed"]


def test_sdk_replay_gives_the_same_id(server: SandboxServer) -> None:
    with resend_pointed_at(server.url):
        first = resend.Emails.send(sample_email(), {"idempotency_key": "sdk-1"})
        second = resend.Emails.send(sample_email(), {"idempotency_key": "sdk-1"})
    assert first["id"] == second["id"]
    assert len(server.state.emails()) == 1


def test_same_key_other_body_is_409(server: SandboxServer) -> None:
    assert post(server, BODY, "k").status_code == 200
    other = json.dumps(sample_email(subject="Other")).encode()
    response = post(server, other, "k")
    assert response.status_code == 409
    assert response.json()["name"] == "invalid_idempotent_request"
    # Byte-for-byte: the same JSON with other whitespace is another body.
    reformatted = json.dumps(sample_email(), indent=1).encode()
    assert post(server, reformatted, "k").json()["name"] == "invalid_idempotent_request"
    # The same key on the other endpoint is another request too.
    batch = json.dumps([sample_email()]).encode()
    assert post(server, batch, "k", path="/emails/batch").status_code == 409
    assert len(server.state.emails()) == 1


def test_same_key_while_first_in_flight_is_409_concurrent(server: SandboxServer) -> None:
    server.configure(slow_rate=1, slow_seconds=0.6)
    results: dict[str, requests.Response] = {}
    first = threading.Thread(target=lambda: results.update(first=post(server, BODY, "slow-1")))
    first.start()
    time.sleep(0.2)
    second = post(server, BODY, "slow-1")
    first.join()

    assert second.status_code == 409
    assert second.json()["name"] == "concurrent_idempotent_requests"
    assert results["first"].status_code == 200
    server.configure(slow_rate=0)
    third = post(server, BODY, "slow-1")
    assert third.content == results["first"].content
    assert len(server.state.emails()) == 1


@pytest.mark.parametrize("key", ["", "k" * 257])
def test_key_length_is_checked(server: SandboxServer, key: str) -> None:
    response = post(server, BODY, key)
    assert response.status_code == 400
    assert response.json() == {
        "statusCode": 400,
        "name": "invalid_idempotency_key",
        "message": "The key must be between 1-256 chars.",
    }
    assert post(server, BODY, "k" * 256).status_code == 200


def test_error_answers_are_not_remembered(server: SandboxServer) -> None:
    bad = json.dumps(sample_email(to="nope")).encode()
    assert post(server, bad, "k").status_code == 422
    # The key is free again: a corrected body under the same key succeeds.
    assert post(server, BODY, "k").status_code == 200
    assert len(server.state.emails()) == 1


def test_fault_500_is_not_remembered_and_the_retry_succeeds(server: SandboxServer) -> None:
    server.configure(fail_rate=1)
    failed = post(server, BODY, "retry-me")
    assert failed.status_code == 500
    assert failed.json() == {
        "statusCode": 500,
        "name": "internal_server_error",
        "message": "An unexpected error occurred.",
    }
    assert server.state.emails() == []
    server.configure(fail_rate=0)
    assert post(server, BODY, "retry-me").status_code == 200
    assert len(server.state.emails()) == 1


def test_dropped_answer_is_remembered(server: SandboxServer) -> None:
    server.configure(drop_rate=1)
    with pytest.raises(requests.ConnectionError):
        post(server, BODY, "lost-answer", timeout=5)
    stored = server.state.emails()
    assert len(stored) == 1
    server.configure(drop_rate=0)
    retry = post(server, BODY, "lost-answer")
    assert retry.status_code == 200
    assert retry.json()["id"] == stored[0]["id"]
    assert len(server.state.emails()) == 1
    outcomes = [(r["status"], r["outcome"]) for r in server.state.requests()]
    assert outcomes == [(None, "dropped"), (200, "replayed")]
    assert server.state.stats()["faults"]["drop"] == 1


def test_dropped_answer_through_the_sdk(server: SandboxServer) -> None:
    server.configure(drop_rate=1)
    with resend_pointed_at(server.url), pytest.raises(resend.exceptions.ResendError) as caught:
        resend.Emails.send(sample_email(), {"idempotency_key": "sdk-drop"})
    assert caught.value.error_type == "HttpClientError"
    server.configure(drop_rate=0)
    with resend_pointed_at(server.url):
        again = resend.Emails.send(sample_email(), {"idempotency_key": "sdk-drop"})
    assert again["id"] == server.state.emails()[0]["id"]
    assert len(server.state.emails()) == 1


def test_keys_expire(server: SandboxServer) -> None:
    server.state.idempotency.ttl = 0.2
    first = post(server, BODY, "short-lived").json()["id"]
    time.sleep(0.3)
    second = post(server, BODY, "short-lived").json()["id"]
    assert first != second
    assert len(server.state.emails()) == 2


def test_requests_without_a_key_are_never_deduplicated(server: SandboxServer) -> None:
    ids = {post(server, BODY, None).json()["id"] for _ in range(3)}
    assert len(ids) == 3
