"""Resend's client turns every answer, even a strange one, into an outcome; it never raises."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from queueing.outcomes import (
    BatchAccepted,
    IdempotencyConflict,
    InProgress,
    QuotaExhausted,
    RateLimited,
    Rejected,
    SenderRefused,
    SendingNotAllowed,
    Sent,
    Transient,
)
from queueing.resend import client

PAYLOAD = {"from": "a@example.com", "to": ["b@example.com"], "subject": "x", "text": "y"}


class Scripted(BaseHTTPRequestHandler):
    """Answers with whatever the test put in `server.answer`: (status, headers, body bytes)."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        status, headers, body = self.server.answer
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def scripted(settings):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.RESEND_API_URL = f"http://127.0.0.1:{server.server_port}"

    def answer(status: int, body, headers=None):
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        content_type = "application/json" if not isinstance(body, bytes) else "text/html"
        server.answer = (status, {"Content-Type": content_type, **(headers or {})}, raw)

    yield answer
    server.shutdown()


def error(status: int, name: str, message: str = "m") -> dict:
    return {"statusCode": status, "name": name, "message": message}


@pytest.mark.parametrize(
    ("status", "body", "headers", "expected"),
    [
        (200, {"id": "abc"}, {}, Sent("abc")),
        (200, {"no": "id"}, {}, Transient),
        (200, b"<html>maintenance</html>", {}, Transient),
        (502, b"<html>bad gateway</html>", {}, Transient),
        (500, error(500, "internal_server_error"), {}, Transient),
        (409, error(409, "concurrent_idempotent_requests"), {}, InProgress),
        (409, error(409, "invalid_idempotent_request"), {}, IdempotencyConflict),
        (429, error(429, "rate_limit_exceeded"), {"retry-after": "3"}, RateLimited),
        (429, error(429, "daily_quota_exceeded"), {}, QuotaExhausted),
        (401, error(401, "missing_api_key"), {}, SendingNotAllowed),
        (403, error(403, "invalid_api_key"), {}, SendingNotAllowed),
        (401, error(401, "restricted_api_key"), {}, SendingNotAllowed),
        (401, error(401, "validation_error"), {}, SendingNotAllowed),
        # The same name at 403 is the sender, not the key (issue 11).
        (403, error(403, "validation_error", "domain is not verified"), {}, SenderRefused),
        (422, error(422, "invalid_from_address"), {}, SenderRefused),
        (451, error(451, "security_error"), {}, Rejected),
        (403, error(403, "something_new"), {}, Transient),
        (404, error(404, "not_found"), {}, SendingNotAllowed),
        (422, error(422, "validation_error", "Invalid `to` field."), {}, Rejected),
        (418, error(418, "teapot"), {}, Transient),
    ],
)
def test_every_answer_becomes_an_outcome(scripted, status, body, headers, expected):
    scripted(status, body, headers)
    outcome = client.send_email(PAYLOAD, idempotency_key="k-1")
    if isinstance(expected, type):
        assert isinstance(outcome, expected), outcome
    else:
        assert outcome == expected


def test_retry_after_and_quota_reset_are_read(scripted):
    scripted(429, error(429, "rate_limit_exceeded"), {"retry-after": "7"})
    assert client.send_email(PAYLOAD, idempotency_key="k").retry_after == 7
    scripted(429, error(429, "daily_quota_exceeded"))
    wait = client.send_email(PAYLOAD, idempotency_key="k").retry_after
    assert 0 < wait <= 24 * 3600  # until the next UTC midnight


def test_unreachable_provider_is_transient(settings):
    settings.RESEND_API_URL = "http://127.0.0.1:1"
    outcome = client.send_email(PAYLOAD, idempotency_key="k")
    assert isinstance(outcome, Transient) and "failed" in outcome.error


def test_batch_results_follow_the_error_indexes(scripted):
    scripted(
        200, {"data": [{"id": "a"}, {"id": "c"}], "errors": [{"index": 1, "message": "bad to"}]}
    )
    outcome = client.send_batch([PAYLOAD] * 3, idempotency_key="b")
    assert outcome == BatchAccepted([Sent("a"), Rejected("bad to"), Sent("c")])


@pytest.mark.parametrize(
    "body",
    [
        {"data": [{"id": "a"}]},  # fewer ids than accepted emails
        {"data": "nope"},
        {"data": [{"id": "a"}, {"id": "b"}, {"id": "c"}], "errors": [{"index": "x"}]},
        {"data": [{"id": ""}, {"id": "b"}, {"id": "c"}]},
    ],
)
def test_unreadable_batch_answers_are_transient(scripted, body):
    scripted(200, body)
    assert isinstance(client.send_batch([PAYLOAD] * 3, idempotency_key="b"), Transient)
