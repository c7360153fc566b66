"""The double opt-in confirmation email: queued like any other email, with a signed link, and
at most once per subscription in MAILHUB_CONFIRMATION_RESEND_SECONDS."""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from queueing.models import Message
from queueing.models import Source as MessageSource
from queueing.services import message_create
from recipients.links import absolute_url
from recipients.models import Source, Subscription, SubscriptionEvent
from recipients.public_names import list_public_name
from recipients.timeline import event_record
from recipients.tokens import CONFIRMATION_MAX_AGE, confirmation_token

# Which door of the queue a confirmation goes through, by who asked for the subscription.
MESSAGE_SOURCE = {Source.ADMIN: MessageSource.ADMIN, Source.API: MessageSource.API}


def confirmation_url(subscription: Subscription) -> str:
    return absolute_url("recipients:confirm", token=confirmation_token(subscription.pk))


def _claim_send(subscription: Subscription) -> bool:
    """Stamp confirmation_sent_at if no confirmation went out within the window; False if one
    did. One conditional UPDATE, so two requests at once cannot both win (on either database,
    whatever the caller has read), and the stamp lives in the database: flushing Redis does not
    reopen the window."""
    now = timezone.now()
    # Never longer than a link lives: a re-tick after the last link expired must get a new one.
    window = min(
        timedelta(seconds=settings.MAILHUB_CONFIRMATION_RESEND_SECONDS), CONFIRMATION_MAX_AGE
    )
    claimed = (
        Subscription.objects.filter(pk=subscription.pk)
        .filter(Q(confirmation_sent_at__isnull=True) | Q(confirmation_sent_at__lte=now - window))
        .update(confirmation_sent_at=now)
    )
    if claimed:
        subscription.confirmation_sent_at = now
    return bool(claimed)


def confirmation_send(
    *, subscription: Subscription, source: str, created_by: AbstractBaseUser | None = None
) -> Message | None:
    """Queue the confirmation email (transactional: it must reach people who left other lists)
    and record it on the timeline; None, sending nothing, if one was queued for this
    subscription within the window (its link still confirms: the subscription is pending
    again). Call inside the transaction that made the subscription pending."""
    if not _claim_send(subscription):
        return None
    recipient, list = subscription.recipient, subscription.list
    list_name = list_public_name(list)
    context = {
        "recipient": recipient,
        "list_name": list_name,
        "confirm_url": confirmation_url(subscription),
        "valid_days": CONFIRMATION_MAX_AGE.days,
    }
    message = message_create(
        to=recipient.email,
        subject=f"Please confirm your subscription to {list_name}",
        html=render_to_string("recipients/email/confirm_subscription.html", context),
        text=render_to_string("recipients/email/confirm_subscription.txt", context),
        priority="transactional",
        source=MESSAGE_SOURCE.get(source, MessageSource.SERVICE),
        created_by=created_by,
        recipient_id=recipient.pk,
    )
    event_record(
        kind=SubscriptionEvent.Kind.CONFIRMATION_SENT,
        email=recipient.email,
        recipient=recipient,
        list=list,
        source=source,
        detail=f"confirmation email queued as message #{message.pk}",
        created_by=created_by,
    )
    return message
