"""What a worker does with one message: claim, check, rate-limit, send, record.

Only one worker can hold a message: the claim is a conditional UPDATE queued → sending that
stores a fresh token and a lease, and every outcome is recorded with an UPDATE that requires
that token still to be there. A worker whose lease ran out (and whose message another worker
took) records nothing. Every attempt sends the same body under the same Idempotency-Key, so a
message sent twice by two claims still reaches the recipient once.
"""

import logging
import random
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from queueing import ratelimit, resend_client, sending_gate
from queueing.models import EventKind, FailureCode, Message, MessageEvent, MessageStatus, Priority
from queueing.outcomes import (
    IdempotencyConflict,
    QuotaExhausted,
    RateLimited,
    Rejected,
    SendingNotAllowed,
    SendOutcome,
    Sent,
    Transient,
)
from queueing.payload import build_payload
from recipients.selectors import suppressed_addresses

log = logging.getLogger(__name__)

# After a 401/403 every worker waits this long before one of them tries again.
NOT_ALLOWED_PAUSE_SECONDS = 60.0


@dataclass(frozen=True)
class Claim:
    message: Message
    token: uuid.UUID


def deliver(message_id: int, *, worker_name: str = "") -> str:
    """Run one delivery attempt; returns a word for the job's result (for logs and tests)."""
    pause = sending_gate.current_pause()
    if pause:
        _defer_unclaimed(message_id, pause.seconds_left)
        return "paused"
    claim = claim_message(message_id, worker_name=worker_name)
    if claim is None:
        return "not-claimable"
    message = claim.message

    window = timedelta(seconds=settings.MAILHUB_RETRY_WINDOW_SECONDS)
    if message.first_attempt_at and timezone.now() - message.first_attempt_at > window:
        record_failure(claim, FailureCode.EXPIRED, _expired_error())
        return "expired"

    blocked = suppressed_addresses(
        [*message.to, *message.cc, *message.bcc], marketing=_is_marketing(message)
    )
    if blocked:
        record_suppressed(claim, blocked)
        return "suppressed"

    # Wait for the shared budget only as long as the lease can spare; otherwise hand the
    # message back without spending an attempt.
    reservation = ratelimit.acquire(max_wait=settings.MAILHUB_LEASE_SECONDS / 3)
    if not reservation.granted:
        release_claim(
            claim,
            delay=reservation.wait,
            kind=EventKind.RATE_LIMITED,
            detail=f"waiting {reservation.wait:.1f} s for the shared rate limit",
        )
        return "rate-limited"

    outcome = resend_client.send_email(
        build_payload(message), idempotency_key=message.idempotency_key
    )
    return record_outcome(claim, outcome)


def claim_message(message_id: int, *, worker_name: str = "") -> Claim | None:
    now = timezone.now()
    token = uuid.uuid4()
    with transaction.atomic():
        claimed = (
            Message.objects.filter(pk=message_id, status=MessageStatus.QUEUED)
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            .update(
                status=MessageStatus.SENDING,
                claim_token=token,
                claimed_by=worker_name[:255],
                lease_expires_at=now + timedelta(seconds=settings.MAILHUB_LEASE_SECONDS),
                attempts=F("attempts") + 1,
                first_attempt_at=Coalesce(F("first_attempt_at"), Value(now)),
                updated_at=now,
            )
        )
        if not claimed:
            return None
        message = Message.objects.get(pk=message_id)
        MessageEvent.objects.create(
            message=message,
            kind=EventKind.ATTEMPT,
            detail=f"attempt {message.attempts} of {message.max_attempts}",
            data={"attempt": message.attempts, "worker": worker_name},
        )
    return Claim(message=message, token=token)


def record_outcome(claim: Claim, outcome: SendOutcome) -> str:
    match outcome:
        case Sent(provider_id=provider_id):
            return record_sent(claim, provider_id)
        case Transient(error=error):
            return record_transient(claim, error)
        case RateLimited(retry_after=retry_after, error=error):
            ratelimit.pause(retry_after)
            release_claim(claim, delay=retry_after, kind=EventKind.RATE_LIMITED, detail=error)
            return "rate-limited"
        case QuotaExhausted(retry_after=retry_after, error=error):
            sending_gate.pause_sending(f"Resend quota exhausted: {error}", retry_after)
            release_claim(claim, delay=retry_after, kind=EventKind.PAUSED, detail=error)
            return "quota-exhausted"
        case SendingNotAllowed(error=error):
            reason = f"Resend refused the API key or account: {error}. Check RESEND_API_KEY."
            sending_gate.pause_sending(reason, NOT_ALLOWED_PAUSE_SECONDS)
            release_claim(
                claim, delay=NOT_ALLOWED_PAUSE_SECONDS, kind=EventKind.PAUSED, detail=reason
            )
            return "not-allowed"
        case Rejected(error=error):
            record_failure(claim, FailureCode.REJECTED, error)
            return "rejected"
        case IdempotencyConflict(error=error):
            log.error(
                "Message %s: Resend reports an earlier, different request under key %s. "
                "Not sending it again; check it by hand.",
                claim.message.pk,
                claim.message.idempotency_key,
            )
            record_failure(
                claim,
                FailureCode.IDEMPOTENCY_CONFLICT,
                f"{error}. An earlier attempt under this idempotency key was accepted with "
                "another body; mailhub will not send this message again under another key. "
                "Check in Resend whether it was delivered.",
            )
            return "idempotency-conflict"
    raise TypeError(f"unknown outcome {outcome!r}")  # pragma: no cover


def _owned(claim: Claim):
    return Message.objects.filter(
        pk=claim.message.pk, status=MessageStatus.SENDING, claim_token=claim.token
    )


def _cleared_claim() -> dict:
    return {"claim_token": None, "lease_expires_at": None, "updated_at": timezone.now()}


def _event(claim: Claim, kind: str, detail: str, **data) -> None:
    MessageEvent.objects.create(message_id=claim.message.pk, kind=kind, detail=detail, data=data)


def _lost(claim: Claim) -> str:
    log.warning("Message %s: claim lost before the outcome was recorded", claim.message.pk)
    return "claim-lost"


def record_sent(claim: Claim, provider_id: str) -> str:
    with transaction.atomic():
        if not _owned(claim).update(
            status=MessageStatus.SENT,
            provider_id=provider_id,
            sent_at=timezone.now(),
            next_attempt_at=None,
            last_error="",
            failure_code="",
            **_cleared_claim(),
        ):
            return _lost(claim)
        _event(
            claim,
            EventKind.SENT,
            f"accepted by Resend as {provider_id}",
            provider_id=provider_id,
            attempt=claim.message.attempts,
        )
    return "sent"


def record_transient(claim: Claim, error: str) -> str:
    message = claim.message
    if message.attempts >= message.max_attempts:
        record_failure(
            claim,
            FailureCode.ATTEMPTS_EXHAUSTED,
            f"{error} (attempt {message.attempts} of {message.max_attempts})",
        )
        return "failed"
    delay = backoff_seconds(message.attempts)
    next_attempt_at = timezone.now() + timedelta(seconds=delay)
    window_end = message.first_attempt_at + timedelta(seconds=settings.MAILHUB_RETRY_WINDOW_SECONDS)
    if next_attempt_at > window_end:
        record_failure(claim, FailureCode.EXPIRED, f"{error}; {_expired_error()}")
        return "expired"
    with transaction.atomic():
        if not _owned(claim).update(
            status=MessageStatus.QUEUED,
            next_attempt_at=next_attempt_at,
            last_error=error,
            **_cleared_claim(),
        ):
            return _lost(claim)
        _event(
            claim,
            EventKind.RETRY,
            f"attempt {message.attempts} failed: {error}; next in {delay:.1f} s",
            attempt=message.attempts,
            error=error,
        )
    return "retry"


def release_claim(claim: Claim, *, delay: float, kind: str, detail: str) -> str:
    """Back to queued without spending the attempt: the provider was not (really) asked."""
    with transaction.atomic():
        if not _owned(claim).update(
            status=MessageStatus.QUEUED,
            attempts=F("attempts") - 1,
            next_attempt_at=timezone.now() + timedelta(seconds=max(delay, 0.0)),
            **_cleared_claim(),
        ):
            return _lost(claim)
        _event(claim, kind, detail, wait=delay)
    return "released"


def record_failure(claim: Claim, code: str, error: str) -> str:
    with transaction.atomic():
        if not _owned(claim).update(
            status=MessageStatus.FAILED,
            failure_code=code,
            last_error=error,
            next_attempt_at=None,
            **_cleared_claim(),
        ):
            return _lost(claim)
        _event(claim, EventKind.FAILED, error, failure_code=code, attempt=claim.message.attempts)
    return "failed"


def record_suppressed(claim: Claim, blocked: dict[str, str]) -> str:
    reasons = "; ".join(f"{address}: {reason}" for address, reason in sorted(blocked.items()))
    with transaction.atomic():
        # No provider call was made, so the claim's attempt is given back.
        if not _owned(claim).update(
            status=MessageStatus.SUPPRESSED,
            attempts=F("attempts") - 1,
            last_error=f"suppressed: {reasons}",
            next_attempt_at=None,
            **_cleared_claim(),
        ):
            return _lost(claim)
        _event(claim, EventKind.SUPPRESSED, reasons, addresses=sorted(blocked))
    return "suppressed"


def backoff_seconds(attempts: int) -> float:
    """Exponential backoff with jitter: base·2^(n-1), capped, times a factor in [0.5, 1.5)."""
    base = settings.MAILHUB_RETRY_BASE_SECONDS * (2 ** max(attempts - 1, 0))
    return min(base, settings.MAILHUB_RETRY_MAX_SECONDS) * (0.5 + random.random())


def _defer_unclaimed(message_id: int, seconds: float) -> None:
    """Sending is paused: push a waiting message past the pause so nothing spins on it."""
    Message.objects.filter(pk=message_id, status=MessageStatus.QUEUED).update(
        next_attempt_at=timezone.now() + timedelta(seconds=max(seconds, 1.0))
    )


def _is_marketing(message: Message) -> bool:
    return message.campaign_id is not None or message.priority == Priority.BULK


def _expired_error() -> str:
    hours = settings.MAILHUB_RETRY_WINDOW_SECONDS / 3600
    return (
        f"not sent within {hours:.0f} h of the first attempt; Resend forgets idempotency keys "
        "after 24 h, so mailhub stops rather than risk a second copy"
    )
