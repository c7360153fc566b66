"""Every write on templates and campaigns: create, send (or schedule), pause, resume, cancel,
test send, and the counters the worker's status changes feed.

Status changes are conditional updates on the expected status, so a second click, a second
command or a race between two of them changes nothing and gets a clear refusal.
"""

import dataclasses
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F, Value
from django.utils import timezone

from campaigns.enqueue import enqueue_fanout_on_commit, schedule_start_on_commit
from campaigns.models import BodyFormat, Campaign, Template
from campaigns.rendering import SampleRecipient, recipient_context, render_for, unsubscribe_list
from campaigns.selectors import audience_count, campaign_content, template_content
from campaigns.templating import (
    Content,
    compile_content,
    has_unsubscribe_link,
    validate_content,
)
from queueing import validation
from queueing.holds import campaign_hold, campaign_release
from queueing.models import Message, MessageStatus, Priority, Source
from queueing.services import SCHEDULE_PAST_TOLERANCE, campaign_messages_cancel, message_create
from recipients.models import List, Recipient

Status = Campaign.Status
ATTRIBUTE_KEY = re.compile(r"^[A-Za-z0-9_-]{1,100}$")


def _user(user: AbstractBaseUser | None) -> AbstractBaseUser | None:
    return user if user is not None and user.is_authenticated else None


# --- templates --------------------------------------------------------------------------------


def template_validate(content: Content) -> None:
    """Raise ValidationError (by field) for empty parts, template syntax errors and MJML that
    does not compile; nothing broken is ever saved."""
    errors = validate_content(content, recipient_context(SampleRecipient(), None, None)[0])
    if errors:
        raise ValidationError(errors)


def template_create(
    *,
    name: str,
    slug: str,
    subject: str,
    body: str,
    body_format: str = BodyFormat.MJML,
    text_body: str = "",
    strict_variables: bool = True,
    created_by: AbstractBaseUser | None = None,
) -> Template:
    template = Template(
        name=name,
        slug=slug,
        subject=subject,
        body=body,
        body_format=body_format,
        text_body=text_body,
        strict_variables=strict_variables,
        created_by=_user(created_by),
    )
    template.full_clean()
    template_validate(template_content(template))
    template.save()
    return template


# --- campaigns ------------------------------------------------------------------------------


def validate_attribute_filter(value: object) -> dict:
    if not value:
        return {}
    if not isinstance(value, dict):
        raise ValidationError(
            {"attribute_filter": 'The filter must be an object, e.g. {"plan": "pro"}.'}
        )
    for key, item in value.items():
        if not isinstance(key, str) or not ATTRIBUTE_KEY.match(key) or "__" in key:
            raise ValidationError(
                {"attribute_filter": f"Attribute name {key!r}: use letters, digits, _ and - only."}
            )
        if not isinstance(item, str | int | float | bool):
            raise ValidationError(
                {
                    "attribute_filter": f"Attribute {key!r}: the value must be a string, number or true/false."
                }
            )
    return value


def campaign_create(
    *,
    name: str,
    template: Template,
    lists: Sequence[List],
    subject: str = "",
    from_email: str = "",
    reply_to: str = "",
    attribute_filter: dict | None = None,
    created_by: AbstractBaseUser | None = None,
) -> Campaign:
    campaign = Campaign(
        name=name,
        template=template,
        subject=subject,
        from_email=validation.validate_sender(from_email) if from_email else "",
        reply_to=validation.normalise_address(reply_to, "reply_to") if reply_to else "",
        attribute_filter=validate_attribute_filter(attribute_filter),
        created_by=_user(created_by),
    )
    campaign.full_clean()
    with transaction.atomic():
        campaign.save()
        campaign.lists.set(lists)
    return campaign


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
        if scheduled_at < timezone.now() - SCHEDULE_PAST_TOLERANCE:
            raise ValidationError(
                {"scheduled_at": f"The scheduled time {scheduled_at.isoformat()} is in the past."}
            )
        if scheduled_at <= timezone.now():
            scheduled_at = None
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
    schedule it. What is frozen is what was approved: later template edits change nothing."""
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
        "sent_by": _user(user),
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
    campaign.refresh_from_db()
    return plan


def campaigns_start_due(*, campaign_id: int | None = None) -> int:
    """Scheduled campaigns whose time has come start sending (fan-out job enqueued)."""
    now = timezone.now()
    due = Campaign.objects.filter(status=Status.SCHEDULED, scheduled_at__lte=now)
    if campaign_id is not None:
        due = due.filter(pk=campaign_id)
    started = 0
    for pk in due.values_list("pk", flat=True)[:100]:
        with transaction.atomic():
            if Campaign.objects.filter(pk=pk, status=Status.SCHEDULED).update(
                status=Status.SENDING, started_at=now, updated_at=now
            ):
                enqueue_fanout_on_commit(pk)
                started += 1
    return started


def _refuse(campaign: Campaign, action: str, allowed: Sequence[str]) -> ValidationError:
    current = Campaign.objects.filter(pk=campaign.pk).values_list("status", flat=True).first()
    return ValidationError(
        f"Cannot {action} campaign {campaign.pk}: it is {current}; only a "
        f"{' or '.join(allowed)} campaign can be {action}d."
    )


def campaign_pause(*, campaign: Campaign) -> None:
    """Its messages are held (queueing.holds), so no new batch starts once this commits;
    queued messages wait, batches already frozen finish."""
    with transaction.atomic():
        if not Campaign.objects.filter(pk=campaign.pk, status=Status.SENDING).update(
            status=Status.PAUSED, updated_at=timezone.now()
        ):
            raise _refuse(campaign, "pause", [Status.SENDING])
        campaign_hold(campaign_id=campaign.pk, reason=Status.PAUSED)
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
        campaign_release(campaign_id=campaign.pk)  # asks for a bulk drain on commit
        campaign_finish_if_done(campaign_id=campaign.pk)
    campaign.refresh_from_db()


def campaign_cancel(*, campaign: Campaign) -> int:
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
    # queueing writes the messages and their events; the counters follow by its signal.
    total = campaign_messages_cancel(campaign_id=campaign.pk)
    campaign.refresh_from_db()
    return total


# Counters of messages that reached a final status: a campaign is sent when they cover queued.
FINAL_COUNTERS = ("sent", "failed", "suppressed", "cancelled")


def campaign_counters_apply(*, changes: dict[tuple[int, str], int]) -> None:
    """Add status changes to the counters; called inside the transaction that changed the
    messages (queueing.signals.campaign_messages_changed), so counters always match rows."""
    counters = {
        MessageStatus.SENT: "sent",
        MessageStatus.FAILED: "failed",
        MessageStatus.SUPPRESSED: "suppressed",
        MessageStatus.CANCELLED: "cancelled",
    }
    by_campaign: dict[int, dict[str, int]] = {}
    for (campaign_id, status), count in changes.items():
        field = counters.get(status)
        if field and count:
            added = by_campaign.setdefault(campaign_id, {})
            added[field] = added.get(field, 0) + count
    finished_at = Campaign._meta.get_field("finished_at").get_db_prep_save(
        timezone.now(), connection
    )
    with connection.cursor() as cursor:
        for campaign_id in sorted(by_campaign):  # one lock order for every worker
            added = by_campaign[campaign_id]
            counts = [added.get(f, 0) for f in FINAL_COUNTERS]
            finished = [Status.SENDING, sum(counts)]
            cursor.execute(
                _counters_sql(connection.vendor),
                [*counts, *finished, Status.SENT, *finished, finished_at, campaign_id],
            )


@functools.cache
def _counters_sql(vendor: str) -> str:
    """One statement: the counters, and sending → sent if these changes finish the campaign
    (every expression sees the row as it was before the statement, hence the added count).
    Written out once rather than as ORM expressions: compiling that Case/When/F expression
    for each batch took longer than running it."""
    quote = connection.ops.quote_name

    def column(name: str) -> str:
        return quote(Campaign._meta.get_field(name).column)

    done = " + ".join(column(f) for f in FINAL_COUNTERS)
    finished = (
        f"{column('status')} = %s AND {column('fanout_finished_at')} IS NOT NULL "
        f"AND {column('queued')} <= {done} + %s"
    )
    counters = ", ".join(f"{column(f)} = {column(f)} + %s" for f in FINAL_COUNTERS)
    return (
        f"UPDATE {quote(Campaign._meta.db_table)} SET {counters}, "
        f"{column('status')} = CASE WHEN {finished} THEN %s ELSE {column('status')} END, "
        f"{column('finished_at')} = CASE WHEN {finished} THEN %s "
        f"ELSE {column('finished_at')} END WHERE {column('id')} = %s"
    )


def campaign_finish_if_done(*, campaign_id: int) -> bool:
    """sending → sent once the fan-out has finished and every message is final. Evaluated on
    the (locked) row in one statement, so concurrent workers cannot both miss it."""
    done = sum((F(f) for f in FINAL_COUNTERS), Value(0))
    return bool(
        Campaign.objects.filter(
            pk=campaign_id,
            status=Status.SENDING,
            fanout_finished_at__isnull=False,
            queued__lte=done,
        ).update(status=Status.SENT, finished_at=timezone.now())
    )


# --- test sends -----------------------------------------------------------------------------


def campaign_test_send(
    *,
    campaign: Campaign,
    to: Sequence[str],
    recipient: Recipient | None = None,
    user: AbstractBaseUser | None = None,
) -> list[Message]:
    """Send the campaign as it would go out (for `recipient`'s data, or a sample person) to
    each address, subject prefixed "[TEST]", marked is_test: never counted, never deduplicated.
    Links point nowhere real, so a tester cannot unsubscribe the person whose data was used."""
    addresses = validation.normalise_addresses(to, "to", required=True)
    content = campaign_content(campaign)
    if not content.body.strip():
        raise ValidationError({"template": "The campaign has no template content to test."})
    template_validate(content)
    if recipient is None:
        content = dataclasses.replace(content, strict=False)
    compiled = compile_content(content)
    link_list = unsubscribe_list(campaign)
    messages = []
    with transaction.atomic():
        for address in addresses:
            person = recipient or SampleRecipient(email=address)
            try:
                rendered = render_for(compiled, person, campaign, link_list, real_links=False)
            except Exception as exc:
                raise ValidationError({"template": f"Render error: {exc}"}) from exc
            messages.append(
                message_create(
                    to=[address],
                    subject=f"[TEST] {rendered.subject}",
                    html=rendered.html,
                    text=rendered.text,
                    headers=rendered.headers,
                    from_email=campaign.from_email or None,
                    reply_to=campaign.reply_to or None,
                    priority=Priority.TRANSACTIONAL,
                    source=Source.CAMPAIGN,
                    created_by=user,
                    campaign_id=campaign.pk,
                    recipient_id=recipient.pk if recipient else None,
                    is_test=True,
                )
            )
    return messages
