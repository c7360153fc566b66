"""Sending a finished message again, as a new message with a new key.

A message Resend failed after accepting it (provider_failed) cannot be retried: under its key
Resend would answer with its first answer. A copy is a new message (new uuid, new
Idempotency-Key) made through message_create, so it is validated and queued like any other;
both timelines name the other.
"""

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from audit.services import actor_name, audit_record
from queueing.events import add_events
from queueing.models import PENDING_STATUSES, EventKind, Message, Source
from queueing.services import AttachmentInput, message_create


def send_again_refusal(message: Message) -> str:
    """Why `message` may not be sent again as a new message ("" if it may)."""
    if message.campaign_id is not None:
        return (
            "it belongs to a campaign; a campaign's messages are sent by the campaign, "
            "never copied one by one"
        )
    if message.status in PENDING_STATUSES:
        return f"it is still {message.status}; only a finished message is sent again"
    if message.needs_render:
        return "its content was never rendered"
    if message.content_purged_at is not None:
        return "its content was purged (retention, or its recipient was erased)"
    return ""


def message_send_again(
    *, message: Message, actor: AbstractBaseUser | None = None, source: str | None = None
) -> Message:
    """Copy a finished transactional message (envelope, subject, bodies, headers, tags,
    attachments) into a new queued message with a new key; ValidationError (for people) when
    refused (send_again_refusal). `actor`: the person, named on both timelines and audited
    (a user, or a NamedActor such as a command's, which is no row to point created_by at);
    `source`: the door it came through (default: the admin when a person acts)."""
    if refusal := send_again_refusal(message):
        raise ValidationError(f"Message #{message.pk} cannot be sent again: {refusal}.")
    with transaction.atomic():
        copy = message_create(
            to=message.to,
            cc=message.cc,
            bcc=message.bcc,
            reply_to=message.reply_to,
            from_email=message.from_email,
            subject=message.subject,
            html=message.html,
            text=message.text,
            headers=dict(message.headers),
            tags=[dict(t) for t in message.tags],
            attachments=[
                AttachmentInput(a.filename, bytes(a.content), a.content_type)
                for a in message.attachments.all()
            ],
            priority=message.priority,
            source=source or (Source.ADMIN if actor is not None else Source.SERVICE),
            created_by=actor if isinstance(actor, AbstractBaseUser) else None,
            api_key=message.api_key,
            recipient_id=message.recipient_id,
        )
        name = actor_name(actor)
        by = f" by {name}" if name else ""
        data = {"actor": name} if name else {}
        add_events(
            [
                (message.pk, EventKind.SENT_AGAIN, f"sent again as message #{copy.pk}{by}",
                 {**data, "copy": copy.pk}),
                (copy.pk, EventKind.SENT_AGAIN, f"a copy of message #{message.pk}{by}",
                 {**data, "copy_of": message.pk}),
            ]
        )  # fmt: skip
        audit_record(
            actor=actor, action="message.send_again", target=message, detail={"copy": copy.pk}
        )
    return copy
