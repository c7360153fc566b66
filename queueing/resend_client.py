"""The one module that calls Resend's API.

It sends one email or a batch of up to 100 through the official `resend` SDK, always with an
Idempotency-Key and a timeout, and turns every answer into an outcome from `queueing.outcomes`.
It never raises for a provider answer: anything it does not understand is Transient (logged
with its body), so a strange answer can never lose a message.
"""

import contextlib
import logging
import os
import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
import resend
from django.conf import settings
from resend.exceptions import ResendError

from queueing import ratelimit
from queueing.outcomes import (
    BatchAccepted,
    BatchOutcome,
    IdempotencyConflict,
    QuotaExhausted,
    RateLimited,
    Rejected,
    SendingNotAllowed,
    SendOutcome,
    Sent,
    Transient,
)

log = logging.getLogger(__name__)

MAX_BATCH_SIZE = 100


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
    resend.api_key = settings.RESEND_API_KEY
    resend.api_url = settings.RESEND_API_URL
    resend.default_http_client = _client


def send_email(payload: dict[str, Any], *, idempotency_key: str) -> SendOutcome:
    """POST /emails with `payload` (see queueing.payload) under `idempotency_key`."""
    _configure()
    try:
        response = resend.Emails.send(payload, {"idempotency_key": idempotency_key})
    except ResendError as exc:
        return _classify_error(exc)
    except Exception as exc:  # the SDK's own bugs must not lose a message either
        log.exception("Unexpected error from the resend SDK")
        return Transient(f"unexpected error from the resend SDK: {exc!r}")
    _observe_headers(response)
    provider_id = response.get("id") if isinstance(response, Mapping) else None
    if not isinstance(provider_id, str) or not provider_id:
        log.warning("Resend answered /emails without an id: %r", _without_headers(response))
        return Transient(f"Resend answered without an email id: {_without_headers(response)!r}")
    return Sent(provider_id)


def send_batch(
    payloads: list[dict[str, Any]], *, idempotency_key: str, permissive: bool | None = None
) -> BatchOutcome:
    """POST /emails/batch with up to 100 payloads; per-item results follow request order."""
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
        return _classify_error(exc)
    except Exception as exc:
        log.exception("Unexpected error from the resend SDK")
        return Transient(f"unexpected error from the resend SDK: {exc!r}")
    _observe_headers(response)
    try:
        return _batch_items(response, len(payloads))
    except Exception as exc:  # an answer we cannot read must not lose the batch
        log.exception("Could not read Resend's batch answer: %r", _without_headers(response))
        return Transient(f"unreadable batch answer: {exc!r}")


def _observe_headers(response: Any) -> None:
    """Let the shared limiter follow the limit Resend announces, if it is lower."""
    headers = response.get("http_headers") if isinstance(response, Mapping) else None
    if not isinstance(headers, Mapping):
        return
    for name, value in headers.items():
        if str(name).lower() == "ratelimit-limit":
            with contextlib.suppress(ValueError):
                ratelimit.observe_provider_limit(float(value))
            return


def _batch_items(response: Any, size: int) -> BatchOutcome:
    body = _without_headers(response)
    data = body.get("data") if isinstance(body, Mapping) else None
    errors = (body.get("errors") or []) if isinstance(body, Mapping) else None
    if not isinstance(data, list) or not isinstance(errors, list):
        log.warning("Resend answered /emails/batch with an unexpected body: %r", body)
        return Transient(f"unexpected batch answer: {body!r}")
    # Permissive answers list ids only for accepted items: map by the indexes in `errors`.
    rejected = {}
    for error in errors:
        if not isinstance(error, Mapping) or not isinstance(error.get("index"), int):
            return Transient(f"unexpected batch error entry: {error!r}")
        rejected[error["index"]] = str(error.get("message", "rejected"))
    accepted_indexes = [i for i in range(size) if i not in rejected]
    if len(accepted_indexes) != len(data):
        log.warning(
            "Batch answer has %d ids for %d accepted items", len(data), len(accepted_indexes)
        )
        return Transient(f"batch answer has {len(data)} ids for {len(accepted_indexes)} emails")
    items: list[Sent | Rejected] = [Rejected(rejected.get(i, "")) for i in range(size)]
    for index, entry in zip(accepted_indexes, data, strict=True):
        provider_id = entry.get("id") if isinstance(entry, Mapping) else None
        if not isinstance(provider_id, str) or not provider_id:
            return Transient(f"batch answer entry without an id: {entry!r}")
        items[index] = Sent(provider_id)
    return BatchAccepted(items)


def _without_headers(response: Any) -> Any:
    if isinstance(response, Mapping):
        return {k: v for k, v in response.items() if k != "http_headers"}
    return response


def _classify_error(exc: ResendError) -> SendOutcome:
    try:
        code = int(exc.code)
    except (TypeError, ValueError):
        code = 0
    name = str(getattr(exc, "error_type", "") or "")
    headers = {str(k).lower(): str(v) for k, v in (getattr(exc, "headers", None) or {}).items()}
    error = f"{code} {name}: {exc.message}"

    if name == "HttpClientError":  # the SDK's name for a network error or a timeout
        return Transient(error)
    if code == 429:
        if name in ("daily_quota_exceeded", "monthly_quota_exceeded"):
            return QuotaExhausted(_quota_wait(name, headers), error)
        return RateLimited(_retry_after(headers), error)
    if code == 409:
        if name == "invalid_idempotent_request":
            return IdempotencyConflict(error)
        return Transient(error)  # concurrent_idempotent_requests: the first is still running
    if code in (401, 403):
        return SendingNotAllowed(error)
    if code in (404, 405):
        return SendingNotAllowed(f"{error} (is RESEND_API_URL={settings.RESEND_API_URL} right?)")
    if code in (400, 413, 422):
        return Rejected(error)
    if code >= 500:
        return Transient(error)
    log.warning("Resend answered in a way mailhub does not understand: %s", error)
    return Transient(error)


def _retry_after(headers: Mapping[str, str], default: float = 1.0) -> float:
    for name in ("retry-after", "ratelimit-reset"):
        try:
            return max(float(headers[name]), 0.0)
        except (KeyError, ValueError):
            continue
    return default


def _quota_wait(name: str, headers: Mapping[str, str]) -> float:
    if "retry-after" in headers:
        return _retry_after(headers)
    now = datetime.now(UTC)
    if name == "daily_quota_exceeded":
        reset = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    else:
        first_next = (now.replace(day=1) + timedelta(days=32)).replace(day=1)
        reset = first_next.replace(hour=0, minute=0, second=0, microsecond=0)
    return (reset - now).total_seconds()
