"""The double opt-in confirmation email: queued like any other email, with a signed link."""

from django.contrib.auth.models import AbstractBaseUser
from django.template.loader import render_to_string

from queueing.models import Source as MessageSource
from queueing.services import message_create
from recipients.links import absolute_url
from recipients.models import Source, Subscription, SubscriptionEvent
from recipients.timeline import event_record
from recipients.tokens import CONFIRMATION_MAX_AGE, confirmation_token

# Which door of the queue a confirmation goes through, by who asked for the subscription.
MESSAGE_SOURCE = {Source.ADMIN: MessageSource.ADMIN, Source.API: MessageSource.API}


def confirmation_url(subscription: Subscription) -> str:
    return absolute_url("recipients:confirm", token=confirmation_token(subscription.pk))


def confirmation_send(
    *, subscription: Subscription, source: str, created_by: AbstractBaseUser | None = None
) -> None:
    """Queue the confirmation email (transactional: it must reach people who left other lists)
    and record it on the timeline. Call inside the transaction that made the subscription."""
    recipient, list = subscription.recipient, subscription.list
    context = {
        "recipient": recipient,
        "list": list,
        "confirm_url": confirmation_url(subscription),
        "valid_days": CONFIRMATION_MAX_AGE.days,
    }
    message = message_create(
        to=recipient.email,
        subject=f"Please confirm your subscription to {list.name}",
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
