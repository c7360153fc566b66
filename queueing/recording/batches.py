"""Outcomes of a frozen batch (one /emails/batch call), recorded under the batch's claim.

The batch row moves first, guarded by its claim token; its members move with it, only while
they are still in flight in this batch. Members never leave their batch after an unclear
outcome: only the same batch (same members, body and key) may send them again.
"""

from datetime import timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from queueing import state_machine
from queueing.claims import BatchClaim
from queueing.events import add_events
from queueing.models import BatchStatus, EventKind, FailureCode, Message, MessageStatus, SendBatch
from queueing.outcomes import Rejected, Sent
from queueing.provider_events.ranking import reapply_after_sent
from queueing.recording.announce import notify_campaigns
from queueing.recording.common import cleared, events, lost, provider_name
from queueing.request_report import observe_latency
from queueing.retry_policy import backoff_seconds, expired_error, retry_window_passed

S = MessageStatus
B = BatchStatus
# The batch's claim ends with the call.
_BATCH_CLEARED = {"claim_token": None, "lease_expires_at": None}


def _batch_owned(claim: BatchClaim):
    return SendBatch.objects.filter(pk=claim.batch.pk, claim_token=claim.token)


def _members(claim: BatchClaim):
    return Message.objects.filter(pk__in=claim.batch.member_ids, batch_id=claim.batch.pk)


def answered(claim: BatchClaim, items: list[Sent | Rejected]) -> str:
    """The provider answered for every member: each is sent (with its id) or rejected."""
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
    final = {"next_attempt_at": None, "claim_token": None, "lease_expires_at": None}
    with transaction.atomic():
        if not state_machine.move_batch(
            _batch_owned(claim),
            B.DONE,
            from_=B.SENDING,
            sent_at=now,
            last_error="",
            **_BATCH_CLEARED,
        ):
            return lost(f"batch {batch.pk}")
        # One statement per outcome, each row getting its own provider id or error.
        state_machine.move_each(
            ("provider_id",),
            {pk: (provider_id,) for pk, provider_id in sent.items()},
            S.SENT,
            from_=S.SENDING,
            set_also={"sent_at": now, "last_error": "", "updated_at": now, **final},
            where={"batch": batch.pk},
        )
        state_machine.move_each(
            ("last_error",),
            {pk: (error,) for pk, error in rejected.items()},
            S.FAILED,
            from_=S.SENDING,
            set_also={"failure_code": FailureCode.REJECTED, "updated_at": now, **final},
            where={"batch": batch.pk},
        )
        where = f"batch #{batch.pk}, attempt {batch.attempts}"
        accepted_by = f"accepted by {provider_name()} as"
        add_events(
            (
                (
                    m.pk,
                    EventKind.SENT,
                    f"{accepted_by} {sent[m.pk]} ({where})",
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
        notify_campaigns([m for m in claim.members if m.pk in sent], S.SENT)
        observe_latency([m for m in claim.members if m.pk in sent], now)
        notify_campaigns([m for m in claim.members if m.pk in rejected], S.FAILED)
        # Webhooks that came while the batch was held (a lost answer) apply now.
        reapply_after_sent([m for m in claim.members if m.pk in sent])
    return "sent"


def transient(claim: BatchClaim, error: str) -> str:
    batch = claim.batch
    if batch.attempts >= batch.max_attempts:
        return failed(
            claim,
            FailureCode.ATTEMPTS_EXHAUSTED,
            f"{error} (batch attempt {batch.attempts} of {batch.max_attempts})",
        )
    delay = backoff_seconds(batch.attempts)
    next_attempt_at = timezone.now() + timedelta(seconds=delay)
    if retry_window_passed(batch.first_attempt_at, next_attempt_at):
        return failed(claim, FailureCode.EXPIRED, f"{error}; {expired_error()}")
    with transaction.atomic():
        if not state_machine.move_batch(
            _batch_owned(claim),
            B.QUEUED,
            from_=B.SENDING,
            next_attempt_at=next_attempt_at,
            last_error=error,
            **_BATCH_CLEARED,
        ):
            return lost(f"batch {batch.pk}")
        # Members wait with their batch: only the same batch may send them again.
        state_machine.move(
            _members(claim),
            S.QUEUED,
            from_=S.SENDING,
            next_attempt_at=next_attempt_at,
            last_error=error,
            **cleared(),
        )
        events(
            claim.members,
            EventKind.RETRY,
            f"batch #{batch.pk} attempt {batch.attempts} failed: {error}; "
            f"the same batch goes again in {delay:.1f} s",
            error=error,
        )
    return "retry"


def release(claim: BatchClaim, delay: float, kind: str, detail: str) -> str:
    """Back to queued without spending the attempt: the provider did not take it up."""
    next_attempt_at = timezone.now() + timedelta(seconds=max(delay, 0.0))
    with transaction.atomic():
        if not state_machine.move_batch(
            _batch_owned(claim),
            B.QUEUED,
            from_=B.SENDING,
            attempts=F("attempts") - 1,
            next_attempt_at=next_attempt_at,
            **_BATCH_CLEARED,
        ):
            return lost(f"batch {claim.batch.pk}")
        state_machine.move(
            _members(claim),
            S.QUEUED,
            from_=S.SENDING,
            attempts=F("attempts") - 1,
            next_attempt_at=next_attempt_at,
            **cleared(),
        )
        events(claim.members, kind, detail, wait=delay, batch=claim.batch.pk)
    return "released"


def failed(claim: BatchClaim, code: str, error: str) -> str:
    with transaction.atomic():
        if not state_machine.move_batch(
            _batch_owned(claim), B.FAILED, from_=B.SENDING, last_error=error, **_BATCH_CLEARED
        ):
            return lost(f"batch {claim.batch.pk}")
        state_machine.move(
            _members(claim),
            S.FAILED,
            from_=S.SENDING,
            failure_code=code,
            last_error=error,
            next_attempt_at=None,
            **cleared(),
        )
        events(claim.members, EventKind.FAILED, error, failure_code=code, batch=claim.batch.pk)
        notify_campaigns(claim.members, S.FAILED)
    return "failed"


def rejected(claim: BatchClaim, error: str) -> str:
    """The provider refused the whole batch (a definite 4xx, nothing accepted): send each
    member alone, so the one at fault fails by itself instead of taking 99 good ones with it."""
    with transaction.atomic():
        if not state_machine.move_batch(
            _batch_owned(claim), B.SPLIT, from_=B.SENDING, last_error=error, **_BATCH_CLEARED
        ):
            return lost(f"batch {claim.batch.pk}")
        state_machine.move(
            _members(claim),
            S.QUEUED,
            from_=S.SENDING,
            batch=None,
            send_alone=True,
            attempts=F("attempts") - 1,
            next_attempt_at=None,
            **cleared(),
        )
        events(
            claim.members,
            EventKind.SPLIT,
            f"batch #{claim.batch.pk} refused as a whole ({error}); each member goes alone",
        )
    return "split"


def conflict(claim: BatchClaim, error: str) -> str:
    return failed(claim, FailureCode.IDEMPOTENCY_CONFLICT, error)
