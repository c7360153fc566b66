"""A Message as the HTTP API shows it: Resend's email object, with Resend's words for status.

`last_event` maps mailhub's statuses to Resend's (docs/API.md has the table): a message
mailhub still holds is `scheduled` or `queued` (a worker sending it is still `queued` to
Resend's eyes: Resend has not accepted it yet); `cancelled` is spelt `canceled`; the rest
are the same words.
"""

from typing import Any

from queueing.models import Message, MessageStatus

S = MessageStatus
LAST_EVENT: dict[str, str] = {
    S.SCHEDULED: "scheduled",
    S.QUEUED: "queued",
    S.SENDING: "queued",
    S.CANCELLED: "canceled",
    S.FAILED: "failed",
    S.SUPPRESSED: "suppressed",
    S.SENT: "sent",
    S.DELIVERY_DELAYED: "delivery_delayed",
    S.DELIVERED: "delivered",
    S.OPENED: "opened",
    S.CLICKED: "clicked",
    S.BOUNCED: "bounced",
    S.COMPLAINED: "complained",
}


def email_object(message: Message) -> dict[str, Any]:
    return {
        "object": "email",
        "id": str(message.uuid),
        "to": list(message.to),
        "from": message.from_email,
        "created_at": message.created_at,
        "subject": message.subject,
        "html": message.html or None,
        "text": message.text or None,
        "cc": list(message.cc),
        "bcc": list(message.bcc),
        "reply_to": list(message.reply_to),
        "last_event": LAST_EVENT.get(message.status, message.status),
        "scheduled_at": message.scheduled_at,
        "tags": list(message.tags),
        "priority": message.priority,
    }
