"""The Resend request body for a message.

Built only from the stored row, with a fixed key order and nothing that changes between
attempts (no timestamps, no tokens, sorted headers), so every attempt sends the same bytes
under the same Idempotency-Key. Empty fields are left out rather than sent as null.
"""

import base64
from typing import Any

from queueing.addresses import sendable_address
from queueing.models import Message

MESSAGE_TAG = "mailhub_message"
CAMPAIGN_TAG = "mailhub_campaign"


def message_tags(message: Message) -> list[dict[str, str]]:
    tags = [{"name": MESSAGE_TAG, "value": str(message.uuid)}]
    if message.campaign_id:
        tags.append({"name": CAMPAIGN_TAG, "value": str(message.campaign_id)})
    return tags + [dict(name=t["name"], value=t["value"]) for t in message.tags]


def build_payload(message: Message, *, include_attachments: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "from": sendable_address(message.from_email),
        "to": [sendable_address(a) for a in message.to],
        "subject": message.subject,
    }
    optional: list[tuple[str, Any]] = [
        ("cc", [sendable_address(a) for a in message.cc]),
        ("bcc", [sendable_address(a) for a in message.bcc]),
        ("reply_to", [sendable_address(a) for a in message.reply_to]),
        ("html", message.html),
        ("text", message.text),
        # JSON columns may come back in another key order (PostgreSQL's jsonb sorts keys).
        ("headers", {k: message.headers[k] for k in sorted(message.headers)}),
        ("tags", message_tags(message)),
    ]
    for key, value in optional:
        if value:
            body[key] = value
    if include_attachments:
        attachments = [
            {
                "filename": a.filename,
                "content": base64.b64encode(bytes(a.content)).decode("ascii"),
                **({"content_type": a.content_type} if a.content_type else {}),
            }
            for a in message.attachments.all()
        ]
        if attachments:
            body["attachments"] = attachments
    return body
