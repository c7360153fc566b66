"""A started campaign's status changes by hand: pause, resume, cancel.

Each is a conditional update on the expected status, so a second click, a second command or a
race between two of them changes nothing and gets a clear refusal naming the current status.
"""

from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from campaigns.enqueue import enqueue_fanout_on_commit
from campaigns.models import Campaign
from campaigns.services.counters import campaign_finish_if_done
from queueing.enqueue import request_drain
from queueing.models import EventKind, Message, MessageEvent, MessageStatus, Priority

Status = Campaign.Status
CANCEL_CHUNK = 5000
UNSENT = (MessageStatus.QUEUED, MessageStatus.SCHEDULED)


def _refuse(campaign: Campaign, action: str, allowed: Sequence[str]) -> ValidationError:
    current = Campaign.objects.filter(pk=campaign.pk).values_list("status", flat=True).first()
    return ValidationError(
        f"Cannot {action} campaign {campaign.pk}: it is {current}; only a "
        f"{' or '.join(allowed)} campaign can be {action}d."
    )


def campaign_pause(*, campaign: Campaign) -> None:
    """Workers claim only messages of sending campaigns, so no new batch starts once this
    commits; queued messages wait, batches already frozen finish."""
    if not Campaign.objects.filter(pk=campaign.pk, status=Status.SENDING).update(
        status=Status.PAUSED, updated_at=timezone.now()
    ):
        raise _refuse(campaign, "pause", [Status.SENDING])
    campaign.refresh_from_db()


def campaign_resume(*, campaign: Campaign) -> None:
    with transaction.atomic():
        if not Campaign.objects.filter(pk=campaign.pk, status=Status.PAUSED).update(
            status=Status.SENDING, updated_at=timezone.now()
        ):
            raise _refuse(campaign, "resume", [Status.PAUSED])
        campaign.refresh_from_db()
        if campaign.fanout_finished_at is None:
            enqueue_fanout_on_commit(campaign.pk)
        transaction.on_commit(lambda: request_drain(Priority.BULK))
        campaign_finish_if_done(campaign_id=campaign.pk)
    campaign.refresh_from_db()


def campaign_cancel(*, campaign: Campaign) -> int:
    """Stop the campaign and mark every unsent message (queued, not frozen into a batch)
    cancelled; returns how many. Frozen batches may already be at Resend: they finish."""
    cancellable = (Status.DRAFT, Status.SCHEDULED, Status.SENDING, Status.PAUSED)
    now = timezone.now()
    if not Campaign.objects.filter(pk=campaign.pk, status__in=cancellable).update(
        status=Status.CANCELLED, finished_at=now, updated_at=now
    ):
        raise _refuse(campaign, "cancel", cancellable)
    total = 0
    unsent = Message.objects.filter(
        campaign_id=campaign.pk, is_test=False, status__in=UNSENT, batch__isnull=True
    )
    while True:
        ids = list(unsent.order_by().values_list("pk", flat=True)[:CANCEL_CHUNK])
        if not ids:
            break
        with transaction.atomic():
            # Locked before they are read: a row a worker holds while preparing it (see
            # queueing.claims.hold_messages) is waited for and read as that worker left it,
            # so only what this statement cancels gets a "cancelled" event.
            cancelled = list(
                unsent.filter(pk__in=ids).select_for_update().values_list("pk", flat=True)
            )
            count = Message.objects.filter(pk__in=cancelled).update(
                status=MessageStatus.CANCELLED, next_attempt_at=None, updated_at=now
            )
            MessageEvent.objects.bulk_create(
                MessageEvent(message_id=pk, kind=EventKind.CANCELLED, detail="campaign cancelled")
                for pk in cancelled
            )
            Campaign.objects.filter(pk=campaign.pk).update(cancelled=F("cancelled") + count)
        total += count
    campaign.refresh_from_db()
    return total
