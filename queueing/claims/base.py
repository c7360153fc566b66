"""What a claim is, and which messages may be claimed.

A claim moves rows queued → sending with a fresh token and a lease; only the holder of the
token may record the outcome (queueing.recording), and the reconciler takes back a claim whose
lease ran out.
"""

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q, QuerySet

from queueing.models import (
    BatchStatus,
    HeldCampaign,
    Message,
    MessageStatus,
    SendBatch,
    SenderDomainPause,
)


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


def claimable_messages(priority: str, now: datetime) -> QuerySet[Message]:
    """Queued, due, not frozen into a batch, not of a held campaign (queueing.holds), and not
    from a paused sending domain (queueing.sender_pauses)."""
    held = HeldCampaign.objects.values("campaign_id")
    paused = SenderDomainPause.objects.filter(lifted_at__isnull=True).values("domain")
    return (
        Message.objects.filter(status=MessageStatus.QUEUED, priority=priority, batch__isnull=True)
        .filter(due(now))
        # Test sends go whatever the campaign's state. `IN (subquery)`: the held campaigns
        # are read once per statement (a hashed subplan on PostgreSQL), not per row.
        .filter(Q(campaign__isnull=True) | Q(is_test=True) | ~Q(campaign_id__in=held))
        # The same for paused domains; a test send from one is refused like any other.
        .exclude(from_domain__in=paused)
    )


# The columns a claim sets (claim_fields, and the attempt); held rows carry them in memory
# until they are stored.
CLAIM_COLUMNS = (
    "status", "claim_token", "claimed_by", "lease_expires_at", "updated_at", "attempts",
    "first_attempt_at",
)  # fmt: skip


def claim_fields(token: uuid.UUID, worker: str, now: datetime) -> dict:
    """The values a claim sets outright (it also counts an attempt and sets the first
    attempt's time if unset); shared by the stored claim's statement and held claims."""
    return {
        "status": MessageStatus.SENDING,
        "claim_token": token,
        "claimed_by": worker[:255],
        "lease_expires_at": lease_end(now),
        "updated_at": now,
    }


def has_due_work(priority: str, now: datetime) -> bool:
    """Whether a drain of `priority` would find something to send now: a claimable message
    or a frozen batch whose retry is due."""
    return (
        claimable_messages(priority, now).exists()
        or SendBatch.objects.filter(status=BatchStatus.QUEUED, priority=priority)
        .filter(due(now))
        .exists()
    )
