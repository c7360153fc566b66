"""What Resend's answers mean, as provider-neutral outcomes (`queueing.outcomes`).

An error is read by its HTTP status and its error name together (a 429 may be a rate limit or
a spent quota; a 409 a busy key or a changed body; `validation_error` a bad field at 400/422,
a key that does not exist at 401, a sender the account may not use at 403). Nothing here raises for an answer:
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
from queueing.metrics import tally as metrics
from queueing.outcomes import (
    BatchAccepted,
    BatchOutcome,
    IdempotencyConflict,
    InProgress,
    QuotaExhausted,
    RateLimited,
    Rejected,
    SenderRefused,
    SendingNotAllowed,
    SendOutcome,
    Sent,
    Transient,
)
from queueing.resend import errors

log = logging.getLogger(__name__)

QUOTA_ERRORS = (errors.DAILY_QUOTA_EXCEEDED, errors.MONTHLY_QUOTA_EXCEEDED)
# concurrent_idempotent_requests: the first request under the key is still being processed
# (usually well under a second); ask again after this long.
IN_PROGRESS_WAIT_SECONDS = 2.0


def email_outcome(response: Any) -> SendOutcome:
    """The outcome of a successful POST /emails: Sent with Resend's id, if it gave one."""
    _observe_rate_limit(response)
    _note(200, "")
    provider_id = response.get("id") if isinstance(response, Mapping) else None
    if not isinstance(provider_id, str) or not provider_id:
        log.warning("Resend answered /emails without an id: %r", _without_headers(response))
        return Transient(f"Resend answered without an email id: {_without_headers(response)!r}")
    return Sent(provider_id)


def batch_outcome(response: Any, size: int) -> BatchOutcome:
    """The outcome of a successful POST /emails/batch of `size` emails."""
    _observe_rate_limit(response)
    _note(200, "")
    try:
        return _batch_items(response, size)
    except Exception as exc:  # an answer we cannot read must not lose the batch
        log.exception("Could not read Resend's batch answer: %r", _without_headers(response))
        return Transient(f"unreadable batch answer: {exc!r}")


def error_outcome(exc: ResendError) -> SendOutcome:
    """The outcome of an error answer (or of the SDK's network error), by status and name
    together: `validation_error` alone is a field (400/422), a key (401) or a sender (403)."""
    try:
        code = int(exc.code)
    except (TypeError, ValueError):
        code = 0
    name = str(getattr(exc, "error_type", "") or "")
    headers = {str(k).lower(): str(v) for k, v in (getattr(exc, "headers", None) or {}).items()}
    error = f"{code} {name}: {exc.message}"

    if name == "HttpClientError":  # the SDK's name for a network error or a timeout
        _note(0, "network_error")
        return Transient(error)
    # A name outside Resend's reference is counted as "unknown": the label stays bounded.
    _note(code, name if (name, code) in errors.DEFAULT_MESSAGES else "unknown")
    if (name, code) not in errors.DEFAULT_MESSAGES and 400 <= code < 500:
        # Not in Resend's reference: decided by the status below, and said in the log.
        log.warning("Resend answered with an error mailhub does not know: %s", error)
    if code == 429:
        if name in QUOTA_ERRORS:
            return QuotaExhausted(_quota_wait(name, headers), error)
        return RateLimited(_retry_after(headers), error)
    if code == 409:
        if name == errors.INVALID_IDEMPOTENT_REQUEST:
            return IdempotencyConflict(error)
        if name == errors.CONCURRENT_IDEMPOTENT_REQUESTS:  # the first is still running
            return InProgress(IN_PROGRESS_WAIT_SECONDS, error)
        return Transient(error)
    # 401 is about the key whatever its name (validation_error on a sending endpoint: a key
    # that does not exist); of the 403s only invalid_api_key is.
    if code == 401 or (code == 403 and name == errors.INVALID_API_KEY):
        return SendingNotAllowed(f"{error.rstrip('.')} (check RESEND_API_KEY)")
    if code == 403 and name == errors.VALIDATION_ERROR:  # unverified domain, testing mode
        return SenderRefused(error, whole_domain=True)
    if code == 422 and name == errors.INVALID_FROM_ADDRESS:
        # The form of this message's `from`, not the domain: the next message may be right.
        return SenderRefused(error, whole_domain=False)
    if code == 451:  # security_error: Resend refuses this content; another try changes nothing
        return Rejected(error)
    if code in (404, 405):
        return SendingNotAllowed(f"{error} (is RESEND_API_URL={settings.RESEND_API_URL} right?)")
    if code in (400, 413, 422):
        return Rejected(error)
    if code >= 500:
        return Transient(error)
    log.warning("Resend answered in a way mailhub does not understand: %s", error)
    return Transient(error)


def _note(status: int, error: str) -> None:
    """Count the answer and keep it for the request's log line (provider-neutral there)."""
    metrics.note_answer("resend", status, error)


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
