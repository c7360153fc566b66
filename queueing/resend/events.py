"""Reading Resend's webhook events: their type as mailhub's word, and the facts in `data`.

Tolerant: Resend's payloads are read with every field optional (a partial or
unexpected payload gives empty values, never an exception), and a type mailhub does not know
is read as kind "" and passed on.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from queueing.addresses import bare_address
from queueing.resend.payload import MESSAGE_TAG

# Resend's email event types → mailhub's word for them (a MessageStatus where one exists).
KINDS = {
    "email.sent": "sent",
    "email.delivered": "delivered",
    "email.delivery_delayed": "delivery_delayed",
    "email.bounced": "bounced",
    "email.complained": "complained",
    "email.opened": "opened",
    "email.clicked": "clicked",
    "email.failed": "failed",
    "email.suppressed": "suppressed",
    "email.scheduled": "scheduled",
}


@dataclass(frozen=True)
class EmailEvent:
    type: str
    kind: str  # "" for a type mailhub does not know
    email_id: str  # Resend's id of the email ("" if absent)
    message_uuid: str  # the `mailhub_message` tag ("" if absent)
    occurred_at: datetime | None
    addresses: tuple[str, ...] = ()
    bounce_type: str = ""
    bounce_subtype: str = ""
    diagnostic: str = ""
    link: str = ""
    reason: str = ""  # failed: Resend's reason; suppressed: why
    data: dict[str, Any] = field(default_factory=dict)


def kind_of(event_type: str) -> str:
    return KINDS.get(event_type, "")


def read_event(body: Any) -> EmailEvent:
    body = body if isinstance(body, dict) else {}
    event_type = _text(body.get("type"))[:64]
    data = body.get("data") if isinstance(body.get("data"), dict) else {}
    bounce = _dict(data.get("bounce"))
    click = _dict(data.get("click"))
    failed = _dict(data.get("failed"))
    suppressed = _dict(data.get("suppressed"))
    diagnostics = bounce.get("diagnosticCode") or suppressed.get("diagnosticCode")
    diagnostic = "; ".join(_text(d) for d in diagnostics) if isinstance(diagnostics, list) else ""
    message = _text(bounce.get("message") or suppressed.get("message"))
    return EmailEvent(
        type=event_type,
        kind=kind_of(event_type),
        email_id=_text(data.get("email_id"))[:255],
        message_uuid=_message_tag(data.get("tags")),
        occurred_at=_time(body.get("created_at")),
        addresses=_addresses(data.get("to")),
        bounce_type=_text(bounce.get("type"))[:32],
        bounce_subtype=_text(bounce.get("subType"))[:32],
        diagnostic="; ".join(p for p in (message, diagnostic) if p)[:2000],
        link=_text(click.get("link"))[:2048],
        reason=_text(failed.get("reason") or suppressed.get("reason"))[:500],
        data=data,
    )


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _message_tag(tags: Any) -> str:
    """Resend sends tags as {"name": "value"}; a list of {"name", "value"} is read too."""
    if isinstance(tags, dict):
        return _text(tags.get(MESSAGE_TAG))
    if isinstance(tags, list):
        for tag in tags:
            if isinstance(tag, dict) and tag.get("name") == MESSAGE_TAG:
                return _text(tag.get("value"))
    return ""


def _addresses(to: Any) -> tuple[str, ...]:
    """Bare addresses as suppressions keep them (queueing.addresses.bare_address), once each."""
    values = [to] if isinstance(to, str) else to if isinstance(to, list) else []
    seen: dict[str, None] = {}
    for value in values:
        if isinstance(value, str):
            bare = bare_address(value[:1000])
            if bare:
                seen.setdefault(bare, None)
    return tuple(seen)


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None
