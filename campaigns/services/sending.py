"""Sending a campaign: check that it can be sent, freeze its content and start it now or at
its scheduled time, and start scheduled campaigns whose time has come.

Status changes are conditional updates on the expected status, so a second click, a second
command or a race between two of them changes nothing and gets a clear refusal.
"""

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from campaigns.enqueue import enqueue_fanout_on_commit, schedule_start_on_commit
from campaigns.models import Campaign, Template
from campaigns.selectors import audience_count, campaign_content
from campaigns.services.drafts import validate_attribute_filter
from campaigns.services.guard_rails import guard_hold_reason
from campaigns.services.templates import template_validate
from campaigns.services.users import acting_user
from campaigns.templating import has_unsubscribe_link
from queueing import validation
from queueing.services import SCHEDULE_PAST_TOLERANCE

Status = Campaign.Status
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SendPlan:
    audience: int
    scheduled_at: datetime | None


def campaign_check_sendable(
    campaign: Campaign, *, scheduled_at: datetime | None = None
) -> SendPlan:
    """Everything that makes a send impossible or wrong, as one ValidationError per field."""
    if campaign.status not in (Status.DRAFT, Status.SCHEDULED):
        raise ValidationError(
            f"Campaign {campaign.pk} is {campaign.status}; only a draft or scheduled campaign "
            "can be sent (it is never sent twice)."
        )
    if not settings.DEBUG and not settings.MAILHUB_POSTAL_ADDRESS.strip():
        # The law (CAN-SPAM, and its kin) wants a postal address in marketing mail; the
        # footer prints this setting, so without it nothing may go (development excepted).
        raise ValidationError(
            "MAILHUB_POSTAL_ADDRESS is not set: marketing mail must carry the sender's postal "
            "address, so no campaign can be sent. Set it (e.g. MAILHUB_POSTAL_ADDRESS="
            '"Example Ltd, 1 Main Street, Springfield") and restart mailhub.'
        )
    if campaign.template_id is None:
        raise ValidationError({"template": "The campaign has no template."})
    # Check (and then freeze) the template as it is now, not as this instance cached it.
    campaign.template = Template.objects.get(pk=campaign.template_id)
    content = campaign_content(campaign)
    if not content.body.strip():
        raise ValidationError({"template": f"The template {campaign.template.slug!r} is empty."})
    template_validate(content)
    if not has_unsubscribe_link(content):
        raise ValidationError(
            {
                "template": "Marketing mail must carry an unsubscribe link: add "
                "{{ unsubscribe_url }} to the template."
            }
        )
    validation.validate_sender(campaign.from_email or settings.MAILHUB_DEFAULT_FROM)
    if campaign.reply_to:
        validation.normalise_address(campaign.reply_to, "reply_to")
    validate_attribute_filter(campaign.attribute_filter)
    if scheduled_at is not None:
        if timezone.is_naive(scheduled_at):
            raise ValidationError(
                {"scheduled_at": "The scheduled time has no time zone: add one, e.g. +00:00."}
            )
        validation.check_time_in_range(scheduled_at, "scheduled_at")
        if scheduled_at < timezone.now() - SCHEDULE_PAST_TOLERANCE:
            raise ValidationError(
                {"scheduled_at": f"The scheduled time {scheduled_at.isoformat()} is in the past."}
            )
        if scheduled_at <= timezone.now():
            scheduled_at = None
    if scheduled_at is None:
        # An open guard-rail flag on its sending domain: it may be scheduled, not started.
        held = guard_hold_reason(campaign)
        if held:
            raise ValidationError(held)
    if not campaign.lists.exists():
        raise ValidationError({"lists": "The campaign has no audience: choose at least one list."})
    audience = audience_count(campaign)
    if audience == 0:
        raise ValidationError(
            {
                "lists": "The audience is empty: nobody on the chosen lists (with this filter) may receive it."
            }
        )
    return SendPlan(audience=audience, scheduled_at=scheduled_at)


def campaign_send(
    *,
    campaign: Campaign,
    user: AbstractBaseUser | None = None,
    scheduled_at: datetime | None = None,
) -> SendPlan:
    """Freeze the content and start sending now (fan-out as a job on the bulk queue), or
    schedule it. What is frozen is what was approved: later template edits change nothing.
    `user`: who sent it (the campaign's sent_by, and the audit log)."""
    plan = campaign_check_sendable(campaign, scheduled_at=scheduled_at)
    content = campaign_content(campaign)
    now = timezone.now()
    fields = {
        "frozen_subject": content.subject,
        "frozen_format": content.body_format,
        "frozen_body": content.body,
        "frozen_text": content.text_body,
        "frozen_strict": content.strict,
        "frozen_at": now,
        "sent_by": acting_user(user),
        "audience_size": plan.audience,
        "updated_at": now,
    }
    if plan.scheduled_at:
        fields.update(status=Status.SCHEDULED, scheduled_at=plan.scheduled_at)
    else:
        fields.update(status=Status.SENDING, started_at=now)
    with transaction.atomic():
        # Conditional on the status read above: of two concurrent sends, one wins.
        if not Campaign.objects.filter(pk=campaign.pk, status=campaign.status).update(**fields):
            raise ValidationError(
                f"Campaign {campaign.pk} was sent or changed meanwhile; nothing was done."
            )
        if plan.scheduled_at:
            schedule_start_on_commit(campaign.pk, plan.scheduled_at)
        else:
            enqueue_fanout_on_commit(campaign.pk)
        audit_record(
            actor=user,
            action="campaign.schedule" if plan.scheduled_at else "campaign.send",
            target=campaign,
            detail={
                "audience": plan.audience,
                "scheduled_at": plan.scheduled_at.isoformat() if plan.scheduled_at else None,
            },
        )
    campaign.refresh_from_db()
    return plan


def campaigns_start_due(*, campaign_id: int | None = None) -> int:
    """Scheduled campaigns whose time has come start sending (fan-out job enqueued)."""
    now = timezone.now()
    due = Campaign.objects.filter(status=Status.SCHEDULED, scheduled_at__lte=now)
    if campaign_id is not None:
        due = due.filter(pk=campaign_id)
    started = 0
    for campaign in due.only("pk", "name", "from_email").order_by("pk")[:100]:
        pk = campaign.pk
        held = guard_hold_reason(campaign)
        if held:  # stays scheduled, and starts on a reconciler pass after the acknowledgement
            log.warning("scheduled campaign %s held: %s", pk, held)
            continue
        with transaction.atomic():
            if Campaign.objects.filter(pk=pk, status=Status.SCHEDULED).update(
                status=Status.SENDING, started_at=now, updated_at=now
            ):
                enqueue_fanout_on_commit(pk)
                started += 1
    return started
