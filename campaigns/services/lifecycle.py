"""A started campaign's status changes by hand: pause, resume, cancel.

Each is a conditional update on the expected status, so a second click, a second command or a
race between two of them changes nothing and gets a clear refusal naming the current status.
"""

from collections.abc import Sequence

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from campaigns.enqueue import enqueue_fanout_on_commit
from campaigns.models import Campaign
from campaigns.services.counters import campaign_finish_if_done
from campaigns.services.users import acting_user
from queueing.holds import campaign_hold, campaign_release
from queueing.services import campaign_messages_cancel

Status = Campaign.Status


def _refuse(campaign: Campaign, action: str, allowed: Sequence[str]) -> ValidationError:
    current = Campaign.objects.filter(pk=campaign.pk).values_list("status", flat=True).first()
    return ValidationError(
        f"Cannot {action} campaign {campaign.pk}: it is {current}; only a "
        f"{' or '.join(allowed)} campaign can be {action}d."
    )


def campaign_pause(
    *, campaign: Campaign, actor: AbstractBaseUser | None = None, reason: str = ""
) -> None:
    """Its messages are held (queueing.holds), so no new batch starts once this commits;
    queued messages wait, batches already frozen finish. `actor`: who did it (audit log);
    `reason`: why, when it pauses itself (the guard rails), shown in the admin."""
    with transaction.atomic():
        if not Campaign.objects.filter(pk=campaign.pk, status=Status.SENDING).update(
            status=Status.PAUSED, pause_reason=reason[:500], updated_at=timezone.now()
        ):
            raise _refuse(campaign, "pause", [Status.SENDING])
        campaign_hold(campaign_id=campaign.pk, reason=Status.PAUSED)
        audit_record(
            actor=actor,
            action="campaign.pause",
            target=campaign,
            detail={"reason": reason} if reason else None,
        )
    campaign.refresh_from_db()


def campaign_resume(*, campaign: Campaign, actor: AbstractBaseUser | None = None) -> None:
    """Resuming a campaign the guard rails paused is the deliberate act that overrides them:
    the reason is cleared and the guard neither pauses nor flags this campaign again."""
    now = timezone.now()
    with transaction.atomic():
        paused = Campaign.objects.filter(pk=campaign.pk, status=Status.PAUSED)
        by_guard = paused.exclude(pause_reason="").values_list("pause_reason", flat=True).first()
        overrides = {"guard_acknowledged_at": now, "guard_acknowledged_by": acting_user(actor)}
        if not paused.update(
            status=Status.SENDING,
            pause_reason="",
            updated_at=now,
            **(overrides if by_guard else {}),
        ):
            raise _refuse(campaign, "resume", [Status.PAUSED])
        audit_record(
            actor=actor,
            action="campaign.resume",
            target=campaign,
            detail={"overrides": by_guard} if by_guard else None,
        )
        campaign.refresh_from_db()
        if campaign.fanout_finished_at is None:
            enqueue_fanout_on_commit(campaign.pk)
        campaign_release(campaign_id=campaign.pk)  # asks for a bulk drain on commit
        campaign_finish_if_done(campaign_id=campaign.pk)
    campaign.refresh_from_db()


def campaign_cancel(*, campaign: Campaign, actor: AbstractBaseUser | None = None) -> int:
    """Stop the campaign and mark every unsent message (queued, not frozen into a batch)
    cancelled; returns how many. Frozen batches may already be at Resend: they finish."""
    cancellable = (Status.DRAFT, Status.SCHEDULED, Status.SENDING, Status.PAUSED)
    now = timezone.now()
    with transaction.atomic():
        if not Campaign.objects.filter(pk=campaign.pk, status__in=cancellable).update(
            status=Status.CANCELLED, finished_at=now, updated_at=now
        ):
            raise _refuse(campaign, "cancel", cancellable)
        campaign_hold(campaign_id=campaign.pk, reason=Status.CANCELLED)
        audit_record(actor=actor, action="campaign.cancel", target=campaign)
    # queueing writes the messages and their events; the counters follow by its signal.
    by = f" by {actor.get_username()}" if actor is not None and actor.is_authenticated else ""
    total = campaign_messages_cancel(campaign_id=campaign.pk, detail=f"campaign cancelled{by}")
    campaign.refresh_from_db()
    return total
