"""Outcomes of one message sent alone (one /emails call), recorded under its claim.

Every write is a guarded move (queueing.state_machine) on the message's claim token: a worker
whose lease ran out, and whose work another worker took over, records nothing.
"""

import logging
from datetime import timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from queueing import state_machine
from queueing.addresses import sender_domain
from queueing.claims import MessageClaim
from queueing.models import EventKind, FailureCode, Message, MessageStatus
from queueing.provider_events.ranking import reapply_after_sent
from queueing.recording.announce import notify_campaigns
from queueing.recording.common import cleared, events, lost, provider_name
from queueing.request_report import observe_latency
from queueing.retry_policy import backoff_seconds, expired_error, retry_window_passed
from queueing.sender_pauses import sender_domain_pause

log = logging.getLogger(__name__)
S = MessageStatus


def _owned(claim: MessageClaim):
    return Message.objects.filter(pk=claim.message.pk, claim_token=claim.token)


def sent(claim: MessageClaim, provider_id: str) -> str:
    now = timezone.now()
    with transaction.atomic():
        if not state_machine.move(
            _owned(claim),
            S.SENT,
            from_=S.SENDING,
            provider_id=provider_id,
            sent_at=now,
            next_attempt_at=None,
            last_error="",
            failure_code="",
            **cleared(),
        ):
            return lost(f"message {claim.message.pk}")
        events(
            [claim.message],
            EventKind.SENT,
            f"accepted by {provider_name()} as {provider_id}",
            provider_id=provider_id,
            attempt=claim.message.attempts,
        )
        notify_campaigns([claim.message], S.SENT)
        observe_latency([claim.message], now)
        # A webhook that came while we held it (a lost answer): its status now applies.
        reapply_after_sent([claim.message])
    return "sent"


def transient(claim: MessageClaim, error: str) -> str:
    message = claim.message
    if message.attempts >= message.max_attempts:
        detail = f"{error} (attempt {message.attempts} of {message.max_attempts})"
        return failed(claim, FailureCode.ATTEMPTS_EXHAUSTED, detail)
    delay = backoff_seconds(message.attempts)
    next_attempt_at = timezone.now() + timedelta(seconds=delay)
    if retry_window_passed(message.first_attempt_at, next_attempt_at):
        return failed(claim, FailureCode.EXPIRED, f"{error}; {expired_error()}")
    with transaction.atomic():
        if not state_machine.move(
            _owned(claim),
            S.QUEUED,
            from_=S.SENDING,
            next_attempt_at=next_attempt_at,
            last_error=error,
            **cleared(),
        ):
            return lost(f"message {message.pk}")
        events(
            [message],
            EventKind.RETRY,
            f"attempt {message.attempts} failed: {error}; next in {delay:.1f} s",
            attempt=message.attempts,
            error=error,
        )
    return "retry"


def release(claim: MessageClaim, delay: float, kind: str, detail: str) -> str:
    """Back to queued without spending the attempt: the provider did not take it up."""
    with transaction.atomic():
        if not state_machine.move(
            _owned(claim),
            S.QUEUED,
            from_=S.SENDING,
            attempts=F("attempts") - 1,
            next_attempt_at=timezone.now() + timedelta(seconds=max(delay, 0.0)),
            **cleared(),
        ):
            return lost(f"message {claim.message.pk}")
        events([claim.message], kind, detail, wait=delay)
    return "released"


def failed(claim: MessageClaim, code: str, error: str) -> str:
    with transaction.atomic():
        if not state_machine.move(
            _owned(claim),
            S.FAILED,
            from_=S.SENDING,
            failure_code=code,
            last_error=error,
            next_attempt_at=None,
            **cleared(),
        ):
            return lost(f"message {claim.message.pk}")
        events(
            [claim.message],
            EventKind.FAILED,
            error,
            failure_code=code,
            attempt=claim.message.attempts,
        )
        notify_campaigns([claim.message], S.FAILED)
    return "failed"


def rejected(claim: MessageClaim, error: str) -> str:
    """The provider refused the email itself: never retried."""
    return failed(claim, FailureCode.REJECTED, error)


def sender_refused(claim: MessageClaim, error: str, *, whole_domain: bool) -> str:
    """The provider refused this message's sender: it fails with the provider's words, and
    with `whole_domain` the domain's later messages are held (queueing.sender_pauses) instead
    of each meeting the same refusal. Nothing pauses fleet-wide."""
    message = claim.message
    domain = message.from_domain or sender_domain(message.from_email)
    detail = error
    with transaction.atomic():
        if whole_domain and domain:
            # Paused even if our claim was lost: the refusal concerns the domain, not the row.
            sender_domain_pause(domain=domain, reason=error, message_id=message.pk)
            detail = f"{error} (messages from {domain} are held until staff lift its pause)"
        return failed(claim, FailureCode.SENDER_REFUSED, detail)


def conflict(claim: MessageClaim, error: str) -> str:
    log.error(
        "Message %s: the provider holds an earlier, different request under key %s; "
        "not sending it again",
        claim.message.pk,
        claim.message.idempotency_key,
    )
    return failed(claim, FailureCode.IDEMPOTENCY_CONFLICT, error)
