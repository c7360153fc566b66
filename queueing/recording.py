"""Recording what Resend answered, only while the claim that asked still stands.

Every write here is a conditional UPDATE on the claim token: a worker whose lease ran out (and
whose work another worker took over) records nothing. Status changes of campaign messages are
announced inside the same transaction, so campaign counters always match the rows.
"""

import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from queueing import ratelimit, sending_gate
from queueing.bulk_sql import update_rows
from queueing.claims import BatchClaim, MessageClaim
from queueing.events import add_events
from queueing.models import (
    BatchStatus,
    EventKind,
    FailureCode,
    Message,
    MessageStatus,
    SendBatch,
)
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
from queueing.signals import campaign_messages_changed

log = logging.getLogger(__name__)

# After a 401/403 every worker waits this long before one of them tries again.
NOT_ALLOWED_PAUSE_SECONDS = 60.0


def backoff_seconds(attempts: int) -> float:
    """Exponential backoff with jitter: base·2^(n-1), capped, times a factor in [0.5, 1.5)."""
    import random

    base = settings.MAILHUB_RETRY_BASE_SECONDS * (2 ** max(attempts - 1, 0))
    return min(base, settings.MAILHUB_RETRY_MAX_SECONDS) * (0.5 + random.random())


def expired_error() -> str:
    hours = settings.MAILHUB_RETRY_WINDOW_SECONDS / 3600
    return (
        f"not sent within {hours:.0f} h of the first attempt; Resend forgets idempotency keys "
        "after 24 h, so mailhub stops rather than risk a second copy"
    )


def retry_window_passed(first_attempt_at, at) -> bool:
    window = timedelta(seconds=settings.MAILHUB_RETRY_WINDOW_SECONDS)
    return first_attempt_at is not None and at > first_attempt_at + window


# Changes collected by notifications_combined() instead of being announced one call at a time.
_combined: ContextVar[Counter | None] = ContextVar("mailhub_combined_notifications", default=None)


def notify_campaigns(messages: Iterable[Message], status: str, *, count: int = 1) -> None:
    """Announce that these messages moved to `status` (or, with count=-1, left it)."""
    changes: Counter = Counter()
    for m in messages:
        if m.campaign_id and not m.is_test:
            changes[(m.campaign_id, status)] += count
    if not changes:
        return
    combined = _combined.get()
    if combined is not None:
        combined.update(changes)
    else:
        campaign_messages_changed.send(sender=Message, changes=changes)


@contextmanager
def notifications_combined() -> Iterator[None]:
    """Announce every status change recorded inside as one, at the end. The counters are
    updated campaign by campaign in one order; several announcements in one transaction
    would each lock campaigns in that order, but together not, and could deadlock with
    another worker's transaction."""
    changes: Counter = Counter()
    reset = _combined.set(changes)
    try:
        yield
    finally:
        _combined.reset(reset)
    if changes:
        campaign_messages_changed.send(sender=Message, changes=changes)


def _events(messages: Iterable[Message], kind: str, detail: str, **data) -> None:
    add_events((m.pk, kind, detail, data) for m in messages)


def _cleared() -> dict:
    return {"claim_token": None, "lease_expires_at": None, "updated_at": timezone.now()}


# --- one message, one /emails call ----------------------------------------------------------


def _owned(claim: MessageClaim):
    return Message.objects.filter(
        pk=claim.message.pk, status=MessageStatus.SENDING, claim_token=claim.token
    )


def _lost(what: str) -> str:
    log.warning("%s: claim lost before the outcome was recorded", what)
    return "claim-lost"


def record_message_outcome(claim: MessageClaim, outcome: SendOutcome) -> str:
    message = claim.message
    match outcome:
        case Sent(provider_id=provider_id):
            return message_sent(claim, provider_id)
        case Transient(error=error):
            return message_transient(claim, error)
        case RateLimited(retry_after=retry_after, error=error):
            ratelimit.pause(retry_after)
            return message_release(claim, retry_after, EventKind.RATE_LIMITED, error)
        case QuotaExhausted(retry_after=retry_after, error=error):
            sending_gate.pause_sending(f"Resend quota exhausted: {error}", retry_after)
            return message_release(claim, retry_after, EventKind.PAUSED, error)
        case SendingNotAllowed(error=error):
            reason = not_allowed_reason(error)
            sending_gate.pause_sending(reason, NOT_ALLOWED_PAUSE_SECONDS)
            return message_release(claim, NOT_ALLOWED_PAUSE_SECONDS, EventKind.PAUSED, reason)
        case Rejected(error=error):
            return message_failed(claim, FailureCode.REJECTED, error)
        case IdempotencyConflict(error=error):
            log.error(
                "Message %s: Resend holds an earlier, different request under key %s; "
                "not sending it again",
                message.pk,
                message.idempotency_key,
            )
            return message_failed(claim, FailureCode.IDEMPOTENCY_CONFLICT, conflict_error(error))
    raise TypeError(f"unknown outcome {outcome!r}")  # pragma: no cover


def not_allowed_reason(error: str) -> str:
    return f"Resend refused the API key or account: {error.rstrip('.')}. Check RESEND_API_KEY."


def conflict_error(error: str) -> str:
    return (
        f"{error}. An earlier attempt under this idempotency key was accepted with another "
        "body; mailhub will not send this message again under another key. Check in Resend "
        "whether it was delivered."
    )


def message_sent(claim: MessageClaim, provider_id: str) -> str:
    with transaction.atomic():
        if not _owned(claim).update(
            status=MessageStatus.SENT,
            provider_id=provider_id,
            sent_at=timezone.now(),
            next_attempt_at=None,
            last_error="",
            failure_code="",
            **_cleared(),
        ):
            return _lost(f"message {claim.message.pk}")
        _events(
            [claim.message],
            EventKind.SENT,
            f"accepted by Resend as {provider_id}",
            provider_id=provider_id,
            attempt=claim.message.attempts,
        )
        notify_campaigns([claim.message], MessageStatus.SENT)
    return "sent"


def message_transient(claim: MessageClaim, error: str) -> str:
    message = claim.message
    if message.attempts >= message.max_attempts:
        detail = f"{error} (attempt {message.attempts} of {message.max_attempts})"
        return message_failed(claim, FailureCode.ATTEMPTS_EXHAUSTED, detail)
    delay = backoff_seconds(message.attempts)
    next_attempt_at = timezone.now() + timedelta(seconds=delay)
    if retry_window_passed(message.first_attempt_at, next_attempt_at):
        return message_failed(claim, FailureCode.EXPIRED, f"{error}; {expired_error()}")
    with transaction.atomic():
        if not _owned(claim).update(
            status=MessageStatus.QUEUED,
            next_attempt_at=next_attempt_at,
            last_error=error,
            **_cleared(),
        ):
            return _lost(f"message {message.pk}")
        _events(
            [message],
            EventKind.RETRY,
            f"attempt {message.attempts} failed: {error}; next in {delay:.1f} s",
            attempt=message.attempts,
            error=error,
        )
    return "retry"


def message_release(claim: MessageClaim, delay: float, kind: str, detail: str) -> str:
    """Back to queued without spending the attempt: the provider did not take it up."""
    with transaction.atomic():
        if not _owned(claim).update(
            status=MessageStatus.QUEUED,
            attempts=F("attempts") - 1,
            next_attempt_at=timezone.now() + timedelta(seconds=max(delay, 0.0)),
            **_cleared(),
        ):
            return _lost(f"message {claim.message.pk}")
        _events([claim.message], kind, detail, wait=delay)
    return "released"


def message_failed(claim: MessageClaim, code: str, error: str) -> str:
    with transaction.atomic():
        if not _owned(claim).update(
            status=MessageStatus.FAILED,
            failure_code=code,
            last_error=error,
            next_attempt_at=None,
            **_cleared(),
        ):
            return _lost(f"message {claim.message.pk}")
        _events(
            [claim.message],
            EventKind.FAILED,
            error,
            failure_code=code,
            attempt=claim.message.attempts,
        )
        notify_campaigns([claim.message], MessageStatus.FAILED)
    return "failed"


# --- claimed messages dropped before any call ----------------------------------------------


def messages_suppressed(token, messages: list[Message], reasons: dict[int, str]) -> None:
    """No provider call was made, so each claim's attempt is given back."""
    with transaction.atomic():
        for message in messages:
            Message.objects.filter(
                pk=message.pk, claim_token=token, status=MessageStatus.SENDING
            ).update(
                status=MessageStatus.SUPPRESSED,
                attempts=F("attempts") - 1,
                last_error=f"suppressed: {reasons[message.pk]}",
                next_attempt_at=None,
                **_cleared(),
            )
            _events([message], EventKind.SUPPRESSED, reasons[message.pk])
        notify_campaigns(messages, MessageStatus.SUPPRESSED)


def messages_failed_before_send(token, messages: list[Message], code: str, errors: dict[int, str]):
    with transaction.atomic():
        for message in messages:
            Message.objects.filter(
                pk=message.pk, claim_token=token, status=MessageStatus.SENDING
            ).update(
                status=MessageStatus.FAILED,
                failure_code=code,
                last_error=errors[message.pk],
                next_attempt_at=None,
                **_cleared(),
            )
            _events([message], EventKind.FAILED, errors[message.pk], failure_code=code)
        notify_campaigns(messages, MessageStatus.FAILED)


def messages_release(token, messages: list[Message], delay: float, kind: str, detail: str) -> None:
    """Claimed but not sent (e.g. the rate limit is too far away): back to queued, no cost."""
    with transaction.atomic():
        Message.objects.filter(
            pk__in=[m.pk for m in messages], claim_token=token, status=MessageStatus.SENDING
        ).update(
            status=MessageStatus.QUEUED,
            attempts=F("attempts") - 1,
            next_attempt_at=timezone.now() + timedelta(seconds=max(delay, 0.0)),
            **_cleared(),
        )
        _events(messages, kind, detail, wait=delay)


# --- a frozen batch, one /emails/batch call -----------------------------------------------


def _batch_owned(claim: BatchClaim):
    return SendBatch.objects.filter(
        pk=claim.batch.pk, status=BatchStatus.SENDING, claim_token=claim.token
    )


def _members(claim: BatchClaim):
    return Message.objects.filter(
        pk__in=claim.batch.member_ids, batch_id=claim.batch.pk, status=MessageStatus.SENDING
    )


def record_batch_outcome(claim: BatchClaim, outcome: BatchOutcome) -> str:
    match outcome:
        case BatchAccepted(items=items):
            return batch_answered(claim, items)
        case Transient(error=error):
            return batch_transient(claim, error)
        case RateLimited(retry_after=retry_after, error=error):
            ratelimit.pause(retry_after)
            return batch_release(claim, retry_after, EventKind.RATE_LIMITED, error)
        case QuotaExhausted(retry_after=retry_after, error=error):
            sending_gate.pause_sending(f"Resend quota exhausted: {error}", retry_after)
            return batch_release(claim, retry_after, EventKind.PAUSED, error)
        case SendingNotAllowed(error=error):
            reason = not_allowed_reason(error)
            sending_gate.pause_sending(reason, NOT_ALLOWED_PAUSE_SECONDS)
            return batch_release(claim, NOT_ALLOWED_PAUSE_SECONDS, EventKind.PAUSED, reason)
        case Rejected(error=error):
            return batch_split(claim, error)
        case IdempotencyConflict(error=error):
            return batch_failed(claim, FailureCode.IDEMPOTENCY_CONFLICT, conflict_error(error))
    raise TypeError(f"unknown outcome {outcome!r}")  # pragma: no cover


def batch_answered(claim: BatchClaim, items: list[Sent | Rejected]) -> str:
    now = timezone.now()
    batch = claim.batch
    sent = {
        claim.members[i].pk: item.provider_id
        for i, item in enumerate(items)
        if isinstance(item, Sent)
    }
    rejected = {
        claim.members[i].pk: item.error
        for i, item in enumerate(items)
        if isinstance(item, Rejected)
    }
    owned = {"batch": batch.pk, "status": MessageStatus.SENDING}
    final = {"next_attempt_at": None, "claim_token": None, "lease_expires_at": None}
    with transaction.atomic():
        if not _batch_owned(claim).update(
            status=BatchStatus.DONE,
            sent_at=now,
            last_error="",
            claim_token=None,
            lease_expires_at=None,
        ):
            return _lost(f"batch {batch.pk}")
        # One statement per outcome, each row getting its own provider id or error.
        update_rows(
            Message,
            ("provider_id",),
            {pk: (provider_id,) for pk, provider_id in sent.items()},
            set_also={
                "status": MessageStatus.SENT,
                "sent_at": now,
                "last_error": "",
                "updated_at": now,
                **final,
            },
            where=owned,
        )
        update_rows(
            Message,
            ("last_error",),
            {pk: (error,) for pk, error in rejected.items()},
            set_also={
                "status": MessageStatus.FAILED,
                "failure_code": FailureCode.REJECTED,
                "updated_at": now,
                **final,
            },
            where=owned,
        )
        where = f"batch #{batch.pk}, attempt {batch.attempts}"
        add_events(
            (
                (
                    m.pk,
                    EventKind.SENT,
                    f"accepted by Resend as {sent[m.pk]} ({where})",
                    {"batch": batch.pk, "attempt": batch.attempts, "provider_id": sent[m.pk]},
                )
                if m.pk in sent
                else (
                    m.pk,
                    EventKind.FAILED,
                    f"{rejected[m.pk]} ({where})",
                    {"batch": batch.pk, "attempt": batch.attempts},
                )
            )
            for m in claim.members
        )
        notify_campaigns([m for m in claim.members if m.pk in sent], MessageStatus.SENT)
        notify_campaigns([m for m in claim.members if m.pk in rejected], MessageStatus.FAILED)
    return "sent"


def batch_transient(claim: BatchClaim, error: str) -> str:
    batch = claim.batch
    if batch.attempts >= batch.max_attempts:
        return batch_failed(
            claim,
            FailureCode.ATTEMPTS_EXHAUSTED,
            f"{error} (batch attempt {batch.attempts} of {batch.max_attempts})",
        )
    delay = backoff_seconds(batch.attempts)
    next_attempt_at = timezone.now() + timedelta(seconds=delay)
    if retry_window_passed(batch.first_attempt_at, next_attempt_at):
        return batch_failed(claim, FailureCode.EXPIRED, f"{error}; {expired_error()}")
    with transaction.atomic():
        if not _batch_owned(claim).update(
            status=BatchStatus.QUEUED,
            next_attempt_at=next_attempt_at,
            last_error=error,
            claim_token=None,
            lease_expires_at=None,
        ):
            return _lost(f"batch {batch.pk}")
        # Members wait with their batch: only the same batch may send them again.
        _members(claim).update(
            status=MessageStatus.QUEUED,
            next_attempt_at=next_attempt_at,
            last_error=error,
            **_cleared(),
        )
        _events(
            claim.members,
            EventKind.RETRY,
            f"batch #{batch.pk} attempt {batch.attempts} failed: {error}; "
            f"the same batch goes again in {delay:.1f} s",
            error=error,
        )
    return "retry"


def batch_release(claim: BatchClaim, delay: float, kind: str, detail: str) -> str:
    next_attempt_at = timezone.now() + timedelta(seconds=max(delay, 0.0))
    with transaction.atomic():
        if not _batch_owned(claim).update(
            status=BatchStatus.QUEUED,
            attempts=F("attempts") - 1,
            next_attempt_at=next_attempt_at,
            claim_token=None,
            lease_expires_at=None,
        ):
            return _lost(f"batch {claim.batch.pk}")
        _members(claim).update(
            status=MessageStatus.QUEUED,
            attempts=F("attempts") - 1,
            next_attempt_at=next_attempt_at,
            **_cleared(),
        )
        _events(claim.members, kind, detail, wait=delay, batch=claim.batch.pk)
    return "released"


def batch_failed(claim: BatchClaim, code: str, error: str) -> str:
    with transaction.atomic():
        if not _batch_owned(claim).update(
            status=BatchStatus.FAILED, last_error=error, claim_token=None, lease_expires_at=None
        ):
            return _lost(f"batch {claim.batch.pk}")
        _members(claim).update(
            status=MessageStatus.FAILED,
            failure_code=code,
            last_error=error,
            next_attempt_at=None,
            **_cleared(),
        )
        _events(claim.members, EventKind.FAILED, error, failure_code=code, batch=claim.batch.pk)
        notify_campaigns(claim.members, MessageStatus.FAILED)
    return "failed"


def batch_split(claim: BatchClaim, error: str) -> str:
    """Resend refused the whole batch (a definite 4xx, nothing accepted): send each member
    alone, so the one at fault fails by itself instead of taking 99 good ones with it."""
    with transaction.atomic():
        if not _batch_owned(claim).update(
            status=BatchStatus.SPLIT, last_error=error, claim_token=None, lease_expires_at=None
        ):
            return _lost(f"batch {claim.batch.pk}")
        _members(claim).update(
            status=MessageStatus.QUEUED,
            batch=None,
            send_alone=True,
            attempts=F("attempts") - 1,
            next_attempt_at=None,
            **_cleared(),
        )
        _events(
            claim.members,
            EventKind.SPLIT,
            f"batch #{claim.batch.pk} refused as a whole ({error}); each member goes alone",
        )
    return "split"
