"""Taking work: conditional updates that only one worker can win.

A claim moves rows queued → sending with a fresh token and a lease. On PostgreSQL the rows are
picked with FOR UPDATE SKIP LOCKED, so concurrent workers take disjoint sets without waiting;
on SQLite the IMMEDIATE transaction serialises writers, which gives the same result.
"""

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from queueing.events import add_events
from queueing.models import BatchStatus, EventKind, Message, MessageStatus, SendBatch
from queueing.payload import build_payload

MAX_BATCH = 100


@dataclass
class MessageClaim:
    """One message held for a single /emails call under its own key."""

    message: Message
    token: uuid.UUID


@dataclass
class BatchClaim:
    """A frozen batch held for one /emails/batch call; members in request order."""

    batch: SendBatch
    token: uuid.UUID
    members: list[Message] = field(default_factory=list)


def lease_end(now: datetime) -> datetime:
    return now + timedelta(seconds=settings.MAILHUB_LEASE_SECONDS)


def due(now: datetime) -> Q:
    return Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)


def claimable_messages(priority: str, now: datetime):
    """Queued, due, not frozen into a batch, and not held back by a campaign that is not
    sending (draft, scheduled, paused, cancelled)."""
    return (
        Message.objects.filter(status=MessageStatus.QUEUED, priority=priority, batch__isnull=True)
        .filter(due(now))
        # Test sends go whatever the campaign's state; real campaign mail only while it sends.
        .filter(Q(campaign__isnull=True) | Q(is_test=True) | Q(campaign__status="sending"))
    )


def claim_messages(
    priority: str, *, alone: bool, limit: int, worker: str
) -> tuple[uuid.UUID, list[Message]]:
    """Claim up to `limit` due messages (only send-alone ones if `alone`), oldest first."""
    now = timezone.now()
    token = uuid.uuid4()
    with transaction.atomic():
        ids = list(
            claimable_messages(priority, now)
            .filter(send_alone=alone)
            .order_by("id")
            .select_for_update(skip_locked=True, of=("self",))
            .values_list("id", flat=True)[:limit]
        )
        if not ids:
            return token, []
        Message.objects.filter(pk__in=ids, status=MessageStatus.QUEUED).update(
            status=MessageStatus.SENDING,
            claim_token=token,
            claimed_by=worker[:255],
            lease_expires_at=lease_end(now),
            attempts=F("attempts") + 1,
            first_attempt_at=Coalesce(F("first_attempt_at"), Value(now)),
            # One message alone is sent under its own key: it must stay alone from now on.
            **({"send_alone": True} if len(ids) == 1 else {}),
            updated_at=now,
        )
        claimed = list(Message.objects.filter(pk__in=ids, claim_token=token).order_by("id"))
    return token, claimed


def freeze_batch(token: uuid.UUID, members: list[Message], *, worker: str) -> BatchClaim:
    """Fix members, order, body and key of a batch before its first call."""
    now = timezone.now()
    body = json.dumps([build_payload(m, include_attachments=False) for m in members])
    with transaction.atomic():
        batch = SendBatch.objects.create(
            idempotency_key=f"mailhub-batch-{uuid.uuid4()}",
            priority=members[0].priority,
            status=BatchStatus.SENDING,
            body=body,
            member_ids=[m.pk for m in members],
            size=len(members),
            attempts=1,
            max_attempts=max(m.max_attempts for m in members),
            first_attempt_at=now,
            claim_token=token,
            claimed_by=worker[:255],
            lease_expires_at=lease_end(now),
        )
        Message.objects.filter(pk__in=batch.member_ids, claim_token=token).update(
            batch=batch, lease_expires_at=None
        )
        add_events(
            (
                m.pk,
                EventKind.ATTEMPT,
                f"attempt {m.attempts} of {m.max_attempts}, in batch #{batch.pk} at position {i}",
                {"attempt": m.attempts, "batch": batch.pk, "index": i, "worker": worker},
            )
            for i, m in enumerate(members)
        )
    return BatchClaim(batch=batch, token=token, members=members)


def claim_due_batch(priority: str, *, worker: str) -> BatchClaim | None:
    """Claim a frozen batch whose retry is due, with its members in request order."""
    now = timezone.now()
    token = uuid.uuid4()
    with transaction.atomic():
        batch_id = (
            SendBatch.objects.filter(status=BatchStatus.QUEUED, priority=priority)
            .filter(due(now))
            .order_by("next_attempt_at", "id")
            .select_for_update(skip_locked=True)
            .values_list("id", flat=True)
            .first()
        )
        if batch_id is None:
            return None
        SendBatch.objects.filter(pk=batch_id, status=BatchStatus.QUEUED).update(
            status=BatchStatus.SENDING,
            claim_token=token,
            claimed_by=worker[:255],
            lease_expires_at=lease_end(now),
            attempts=F("attempts") + 1,
        )
        Message.objects.filter(batch_id=batch_id).update(
            status=MessageStatus.SENDING, attempts=F("attempts") + 1, updated_at=now
        )
        batch = SendBatch.objects.get(pk=batch_id)
        by_id = {m.pk: m for m in Message.objects.filter(batch_id=batch_id)}
        members = [by_id[pk] for pk in batch.member_ids]
        add_events(
            (
                m.pk,
                EventKind.ATTEMPT,
                f"batch #{batch.pk} attempt {batch.attempts} of {batch.max_attempts}",
                {"attempt": m.attempts, "batch": batch.pk, "worker": worker},
            )
            for m in members
        )
    return BatchClaim(batch=batch, token=token, members=members)
