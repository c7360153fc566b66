"""What Resend's answers mean, as provider-neutral outcomes (`queueing.outcomes`).

An error is read by its HTTP status and its error name together (a 429 may be a rate limit or
a spent quota; a 409 may be a busy key or a changed body). Nothing here raises for an answer:
whatever is not understood becomes Transient and is logged with its body, so a strange answer
can never lose a message. The shared rate limiter also follows the limit Resend announces.
"""

import contextlib
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

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

QUOTA_ERRORS = ("daily_quota_exceeded", "monthly_quota_exceeded")


def email_outcome(response: Any) -> SendOutcome:
    """The outcome of a successful POST /emails: Sent with Resend's id, if it gave one."""
    _observe_rate_limit(response)
    provider_id = response.get("id") if isinstance(response, Mapping) else None
    if not isinstance(provider_id, str) or not provider_id:
        log.warning("Resend answered /emails without an id: %r", _without_headers(response))
        return Transient(f"Resend answered without an email id: {_without_headers(response)!r}")
    return Sent(provider_id)


def batch_outcome(response: Any, size: int) -> BatchOutcome:
    """The outcome of a successful POST /emails/batch of `size` emails."""
    _observe_rate_limit(response)
    try:
        return _batch_items(response, size)
    except Exception as exc:  # an answer we cannot read must not lose the batch
        log.exception("Could not read Resend's batch answer: %r", _without_headers(response))
        return Transient(f"unreadable batch answer: {exc!r}")


def error_outcome(exc: ResendError) -> SendOutcome:
    """The outcome of an error answer (or of the SDK's network error), by status and name."""
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
        if name in QUOTA_ERRORS:
            return QuotaExhausted(_quota_wait(name, headers), error)
        return RateLimited(_retry_after(headers), error)
    if code == 409:
        if name == "invalid_idempotent_request":
            return IdempotencyConflict(error)
        return Transient(error)  # concurrent_idempotent_requests: the first is still running
    if code in (401, 403):
        return SendingNotAllowed(f"{error.rstrip('.')} (check RESEND_API_KEY)")
    if code in (404, 405):
        return SendingNotAllowed(f"{error} (is RESEND_API_URL={settings.RESEND_API_URL} right?)")
    if code in (400, 413, 422):
        return Rejected(error)
    if code >= 500:
        return Transient(error)
    log.warning("Resend answered in a way mailhub does not understand: %s", error)
    return Transient(error)


def _retry_after(headers: Mapping[str, str], default: float = 1.0) -> float:
    """Seconds to wait, from `retry-after` or else `ratelimit-reset` (lower-cased names)."""
    for name in ("retry-after", "ratelimit-reset"):
        try:
            return max(float(headers[name]), 0.0)
        except (KeyError, ValueError):
            continue
    return default


def _quota_wait(name: str, headers: Mapping[str, str]) -> float:
    """Seconds until a spent quota resets: as Resend says, else the next UTC day or month."""
    if "retry-after" in headers:
        return _retry_after(headers)
    now = datetime.now(UTC)
    if name == "daily_quota_exceeded":
        reset = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    else:
        first_next = (now.replace(day=1) + timedelta(days=32)).replace(day=1)
        reset = first_next.replace(hour=0, minute=0, second=0, microsecond=0)
    return (reset - now).total_seconds()


def _observe_rate_limit(response: Any) -> None:
    """Let the shared limiter follow the limit Resend announces, if it is lower."""
    headers = response.get("http_headers") if isinstance(response, Mapping) else None
    if not isinstance(headers, Mapping):
        return
    for name, value in headers.items():
        if str(name).lower() == "ratelimit-limit":
            with contextlib.suppress(ValueError):
                ratelimit.observe_provider_limit(float(value))
            return


def _without_headers(response: Any) -> Any:
    """The answer's body, without the headers the SDK adds to it (for logs and errors)."""
    if isinstance(response, Mapping):
        return {k: v for k, v in response.items() if k != "http_headers"}
    return response


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
