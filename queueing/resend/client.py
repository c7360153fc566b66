"""The calls to Resend's API: send one email, or a batch of up to MAX_BATCH_SIZE.

Through the official `resend` SDK, configured here with mailhub's settings and an HTTP client
that keeps connections alive and always has a connect and a read timeout. Every call carries
an Idempotency-Key. Nothing here raises for a provider answer: `answers` turns each one (and
the SDK's own failures) into an outcome, so no answer can lose a message.
"""

import logging
import os
import threading
from collections.abc import Mapping
from typing import Any

import requests
import resend
from django.conf import settings
from resend.exceptions import ResendError

from queueing.metrics import tally as metrics
from queueing.outcomes import BatchOutcome, SendOutcome, Transient
from queueing.resend import answers
from queueing.resend.limits import MAX_BATCH_SIZE

log = logging.getLogger(__name__)


class _SessionClient(resend.HTTPClient):
    """Keeps connections alive between calls (one session per process and thread) and never
    makes a request without a connect and a read timeout."""

    def __init__(self) -> None:
        self._local = threading.local()

    def _session(self) -> requests.Session:
        # A session must not cross a fork: RQ runs each job in a child process.
        session = getattr(self._local, "session", None)
        if session is None or self._local.pid != os.getpid():
            session = requests.Session()
            self._local.session, self._local.pid = session, os.getpid()
        return session

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        json: Any = None,
        files: Any = None,
        data: Any = None,
    ) -> tuple[bytes, int, Mapping[str, str]]:
        timeout = (settings.RESEND_CONNECT_TIMEOUT, settings.RESEND_READ_TIMEOUT)
        try:
            resp = self._session().request(
                method=method, url=url, headers=headers, json=json, timeout=timeout
            )
        except requests.RequestException as exc:
            self._local.session = None  # a broken connection must not be reused
            raise RuntimeError(f"request to Resend failed: {exc}") from exc
        return resp.content, resp.status_code, resp.headers


_client = _SessionClient()


def _configure() -> None:
    # Read at every call: settings may change (tests, the sandbox) after import.
    resend.api_key = settings.RESEND_API_KEY
    resend.api_url = settings.RESEND_API_URL
    resend.default_http_client = _client


def send_email(payload: dict[str, Any], *, idempotency_key: str) -> SendOutcome:
    """POST /emails with `payload` (see `payload.build_payload`) under `idempotency_key`."""
    _configure()
    try:
        response = resend.Emails.send(payload, {"idempotency_key": idempotency_key})
    except ResendError as exc:
        return answers.error_outcome(exc)
    except Exception as exc:  # the SDK's own bugs must not lose a message either
        log.exception("Unexpected error from the resend SDK")
        metrics.note_answer("resend", 0, "sdk_error")
        return Transient(f"unexpected error from the resend SDK: {exc!r}")
    return answers.email_outcome(response)


def send_batch(
    payloads: list[dict[str, Any]], *, idempotency_key: str, permissive: bool | None = None
) -> BatchOutcome:
    """POST /emails/batch with up to MAX_BATCH_SIZE payloads; per-item results follow request
    order. `permissive` defaults to the RESEND_BATCH_VALIDATION setting."""
    if not 1 <= len(payloads) <= MAX_BATCH_SIZE:
        raise ValueError(f"a batch holds 1 to {MAX_BATCH_SIZE} emails, not {len(payloads)}")
    _configure()
    options: dict[str, Any] = {"idempotency_key": idempotency_key}
    if permissive is None:
        permissive = settings.RESEND_BATCH_VALIDATION != "strict"
    if permissive:
        options["batch_validation"] = "permissive"
    try:
        response = resend.Batch.send(payloads, options)
    except ResendError as exc:
        return answers.error_outcome(exc)
    except Exception as exc:
        log.exception("Unexpected error from the resend SDK")
        metrics.note_answer("resend", 0, "sdk_error")
        return Transient(f"unexpected error from the resend SDK: {exc!r}")
    return answers.batch_outcome(response, len(payloads))
