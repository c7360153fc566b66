"""What each outcome sends, and the body of each event, in the shape of Resend's webhooks.

The shapes follow Resend's published description (`EmailSentEvent`, `EmailBouncedEvent`, ...):
`{"type", "created_at", "data": {"email_id", "created_at", "from", "to", "subject", "tags"}}`,
where `tags` is an object (name -> value) although sends carry a list of {name, value};
`data.bounce` for bounces, `data.click` for clicks, `data.failed` and `data.suppressed`.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from html import unescape
from typing import Any

from sandbox.emails import StoredEmail, addresses

SENT = "email.sent"
DELIVERED = "email.delivered"
DELAYED = "email.delivery_delayed"
OPENED = "email.opened"
CLICKED = "email.clicked"
BOUNCED = "email.bounced"
COMPLAINED = "email.complained"
FAILED = "email.failed"
SUPPRESSED = "email.suppressed"
SCHEDULED = "email.scheduled"

# Each outcome, and the events it sends in order. Every email Resend sends gets `email.sent`
# first; `failed` and `suppressed` were never sent, so they have their one event alone.
CHAINS: dict[str, tuple[str, ...]] = {
    "sent": (SENT,),
    "delivered": (SENT, DELIVERED),
    "delivery_delayed": (SENT, DELAYED, DELIVERED),
    "opened": (SENT, DELIVERED, OPENED),
    "clicked": (SENT, DELIVERED, OPENED, CLICKED),
    "bounced_permanent": (SENT, BOUNCED),
    "bounced_transient": (SENT, BOUNCED),
    "bounced_undetermined": (SENT, BOUNCED),
    "complained": (SENT, DELIVERED, COMPLAINED),
    "failed": (FAILED,),
    "suppressed": (SUPPRESSED,),
}
OUTCOMES = tuple(CHAINS)

# type, subType, message, SMTP diagnostic: what a receiving server typically says.
_BOUNCES: dict[str, tuple[str, str, str, str]] = {
    "bounced_permanent": (
        "Permanent",
        "General",
        "The recipient's email provider sent a hard bounce: the address does not exist.",
        "smtp; 550 5.1.1 user unknown",
    ),
    "bounced_transient": (
        "Transient",
        "MailboxFull",
        "The recipient's mailbox is full; the email could not be delivered.",
        "smtp; 452 4.2.2 mailbox full",
    ),
    "bounced_undetermined": (
        "Undetermined",
        "Undetermined",
        "The recipient's email provider bounced the email without saying why.",
        "smtp; 554 5.0.0 undetermined",
    ),
}
# Outcomes whose events name the one address they happened to (the first recipient).
_ONE_ADDRESS = {"bounced_permanent", "bounced_transient", "bounced_undetermined", "complained"}

# The first link a reader could click: an anchor's http(s) href (not mailto:, not #anchors,
# and not a <link> in the head, such as the web fonts MJML adds).
_HREF = re.compile(r"""<a\b[^>]*?\shref\s*=\s*["'](https?://[^"'\s>]+)["']""", re.IGNORECASE)


def first_link(html: Any) -> str | None:
    match = _HREF.search(html) if isinstance(html, str) else None
    # As written in the HTML, `&amp;` stands for `&`: a click reports the URL itself.
    return unescape(match.group(1)) if match else None


def chain_for(outcome: str, email: StoredEmail) -> tuple[str, ...]:
    """The events of `outcome` for this email: a scheduled email only says it is scheduled;
    a click needs a link, so an email without one stops at `opened`."""
    if email.scheduled_at is not None:
        return (SCHEDULED,)
    chain = CHAINS[outcome]
    if outcome == "clicked" and first_link(email.request.get("html")) is None:
        return CHAINS["opened"]
    return chain


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def event_body(email: StoredEmail, event_type: str, outcome: str, created_at: str) -> bytes:
    """The JSON body of one event, as Resend would post it."""
    request = email.request
    to = addresses(request.get("to"))
    if outcome in _ONE_ADDRESS and event_type in (BOUNCED, COMPLAINED):
        to = to[:1]
    data: dict[str, Any] = {
        "email_id": email.id,
        "created_at": email.created_at,
        "from": request.get("from"),
        "to": to,
        "subject": request.get("subject"),
        "tags": _tags(request.get("tags")),
    }
    if event_type == BOUNCED:
        kind, sub_type, message, diagnostic = _BOUNCES.get(outcome, _BOUNCES["bounced_permanent"])
        data["bounce"] = {
            "type": kind,
            "subType": sub_type,
            "message": message,
            "diagnosticCode": [diagnostic],
        }
    elif event_type == CLICKED:
        data["click"] = {
            "link": first_link(request.get("html")),
            "ipAddress": "192.0.2.10",  # TEST-NET-1: never a real reader
            "timestamp": created_at,
            "userAgent": "Mozilla/5.0 (Resend sandbox)",
        }
    elif event_type == FAILED:
        data["failed"] = {"reason": "reached_daily_quota"}
    elif event_type == SUPPRESSED:
        data["suppressed"] = {
            "type": "OnAccountSuppressionList",
            "reason": "previous_bounce",
            "message": "The recipient is on the account's suppression list.",
            "diagnosticCode": [],
        }
    payload = {"type": event_type, "created_at": created_at, "data": data}
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def _tags(value: Any) -> dict[str, str]:
    """A send's tags (a list of {name, value}) as webhooks carry them: an object."""
    if not isinstance(value, list):
        return {}
    return {
        tag["name"]: tag.get("value", "")
        for tag in value
        if isinstance(tag, dict) and isinstance(tag.get("name"), str)
    }
