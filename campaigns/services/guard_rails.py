"""Guard rails for the sender's reputation: too many hard bounces or complaints stop a campaign.

Past settings.MAILHUB_GUARD_MIN_SENT sent messages, a campaign whose hard bounces or complaints
pass their share of its sent messages (MAILHUB_GUARD_HARD_BOUNCE_RATE, _COMPLAINT_RATE):
- while sending, pauses itself (campaigns.services.campaign_pause) with the reason in
  `pause_reason` (the admin shows it) and a warning in the log. Resuming is the existing,
  deliberate resume; it counts as overriding the guard for that campaign, which is then not
  paused or flagged again;
- once finished (bounces often arrive after a fast campaign is done), is flagged
  (`guard_flag`), and the next campaign from the same sending domain waits: refused at send,
  held at its scheduled start, until a manager acknowledges the flag
  (campaign_guard_acknowledge, permission campaigns.acknowledge_guard).
Only sending and sent campaigns are checked; a paused or cancelled one is already stopped.
Checked after each batch of provider events that raised a campaign's hard bounces or
complaints, on the campaign's counters: no counting over messages.
"""

import logging

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from campaigns.models import Campaign
from campaigns.services.lifecycle import campaign_pause
from campaigns.services.users import acting_user
from queueing.addresses import sender_domain

log = logging.getLogger(__name__)
Status = Campaign.Status


def guard_breach(campaign: Campaign) -> str:
    """Why this campaign passes a guard rail, for people; "" when it does not (yet)."""
    sent = campaign.sent
    if sent < max(settings.MAILHUB_GUARD_MIN_SENT, 1):
        return ""
    reasons = []
    for label, count, limit in (
        ("hard bounces", campaign.bounced_hard, settings.MAILHUB_GUARD_HARD_BOUNCE_RATE),
        ("complaints", campaign.complained, settings.MAILHUB_GUARD_COMPLAINT_RATE),
    ):
        if count / sent > limit:
            reasons.append(
                f"{label} {count:,} of {sent:,} sent ({count / sent:.2%}, over {limit:.2%})"
            )
    return "; ".join(reasons)


def guard_rails_check(*, campaign_ids: list[int]) -> None:
    """Pause or flag those of these campaigns that pass a guard rail (inside the caller's
    transaction: the events that made them pass)."""
    rows = Campaign.objects.filter(
        pk__in=campaign_ids,
        status__in=(Status.SENDING, Status.SENT),
        guard_acknowledged_at__isnull=True,  # overridden by a resume, or acknowledged
        guard_flagged_at__isnull=True,
    ).order_by("pk")
    for campaign in rows:
        reason = guard_breach(campaign)
        if not reason:
            continue
        if campaign.status == Status.SENDING:
            _pause(campaign, reason)
        else:
            _flag(campaign, reason)


def _pause(campaign: Campaign, reason: str) -> None:
    try:
        campaign_pause(campaign=campaign, reason=f"guard rail: {reason}")
    except ValidationError:  # paused, finished or cancelled meanwhile: nothing to stop
        return
    log.warning("campaign %s (%s) paused itself: %s", campaign.pk, campaign.name, reason)


def _flag(campaign: Campaign, reason: str) -> None:
    now = timezone.now()
    flagged = Campaign.objects.filter(pk=campaign.pk, guard_flagged_at__isnull=True).update(
        guard_flag=f"guard rail: {reason}"[:500], guard_flagged_at=now, updated_at=now
    )
    if flagged:
        log.warning(
            "campaign %s (%s) flagged after it finished: %s; the next campaign from %s waits "
            "until a manager acknowledges it",
            campaign.pk,
            campaign.name,
            reason,
            campaign_sending_domain(campaign) or "its sending domain",
        )


def campaign_sending_domain(campaign: Campaign) -> str:
    return sender_domain(campaign.from_email or settings.MAILHUB_DEFAULT_FROM)


def open_guard_flags(domain: str) -> list[Campaign]:
    """Unacknowledged flags on campaigns sending from `domain` (few: each waits for a person)."""
    flagged = Campaign.objects.filter(
        guard_flagged_at__isnull=False, guard_acknowledged_at__isnull=True
    ).order_by("guard_flagged_at")
    return [c for c in flagged if campaign_sending_domain(c) == domain]


def guard_hold_reason(campaign: Campaign) -> str:
    """Why this campaign may not start now (an open flag on its sending domain); "" if it may."""
    domain = campaign_sending_domain(campaign)
    blocking = [c for c in open_guard_flags(domain) if c.pk != campaign.pk]
    if not blocking:
        return ""
    first = blocking[0]
    return (
        f"Campaign {first.pk} ({first.name!r}) from {domain} passed a guard rail after it "
        f"finished ({first.guard_flag}); campaigns from {domain} wait until a manager "
        'acknowledges that flag (Campaigns admin, action "Acknowledge guard-rail flag").'
    )


def campaign_guard_acknowledge(*, campaign: Campaign, actor: AbstractBaseUser | None) -> None:
    """A manager has looked at the flag: the sending domain's next campaigns may go."""
    now = timezone.now()
    with transaction.atomic():
        if not Campaign.objects.filter(
            pk=campaign.pk, guard_flagged_at__isnull=False, guard_acknowledged_at__isnull=True
        ).update(
            guard_acknowledged_at=now, guard_acknowledged_by=acting_user(actor), updated_at=now
        ):
            raise ValidationError(
                f"Campaign {campaign.pk} has no guard-rail flag waiting to be acknowledged."
            )
        audit_record(
            actor=actor,
            action="campaign.guard_acknowledge",
            target=campaign,
            detail={"flag": campaign.guard_flag},
        )
    log.info("guard-rail flag of campaign %s acknowledged by %s", campaign.pk, actor)
    campaign.refresh_from_db()
