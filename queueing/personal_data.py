"""One person's data in queueing's tables: found, exported and erased by address (for
recipients' forget_person and export_person, which own the person; queueing owns the rows).

Messages are found by their recipient id, by the indexed search addresses
(`Message.to_address`, `MessageAddress`: every to, cc and bcc), and by the address in
reply_to: a substring search of that JSON column picks candidates (a scan of the table,
acceptable for a rare request), and each candidate's addresses are then read properly
(`bare_address`), so `xann@example.com` is no match for `ann@example.com`. Raw webhook events and forwarded
deliveries are found by their message or by the address anywhere in their body."""

import json
from collections import Counter
from collections.abc import Iterable
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from queueing.addresses import bare_address
from queueing.models import (
    PENDING_STATUSES,
    Message,
    MessageAddress,
    MessageAttachment,
    MessageEvent,
    MessageStatus,
    ProviderWebhookEvent,
    WebhookDelivery,
)
from queueing.services import message_cancel

ADDRESS_FIELDS = ("to", "cc", "bcc", "reply_to")
ERASED = "[erased]"
CHUNK = 500


class StillSending(Exception):
    """Messages to the person are in a worker's hands (or frozen in a batch): erasing them
    now would change a request under way. Nothing was changed; try again shortly."""


def _needles(address: str) -> set[str]:
    """The address as it may appear in stored JSON text: plain, and escaped as json.dumps
    writes non-ASCII characters (SQLite keeps the escaped text)."""
    return {address, json.dumps(address)[1:-1]}


def _mentions(address: str, fields: Iterable[str]) -> Q:
    query = Q()
    for needle in _needles(address):
        for name in fields:
            query |= Q(**{f"{name}__icontains": needle})
    return query


def person_message_ids(address: str, recipient_ids: Iterable[int] = ()) -> list[int]:
    """Ids of the messages to `address` (canonical, lower-case) or to these recipients."""
    recipient_ids = list(recipient_ids)
    found = set(Message.objects.filter(recipient_id__in=recipient_ids).values_list("pk", flat=True))
    found.update(Message.objects.filter(to_address=address).values_list("pk", flat=True))
    found.update(
        MessageAddress.objects.filter(address=address).values_list("message_id", flat=True)
    )
    candidates = Message.objects.filter(_mentions(address, ["reply_to"])).values_list(
        "pk", *ADDRESS_FIELDS
    )
    for pk, *lists in candidates.iterator(chunk_size=CHUNK):
        if any(bare_address(a) == address for values in lists for a in values or ()):
            found.add(pk)
    return sorted(found)


def _scrub(value: Any, address: str) -> Any:
    """`value` (JSON-like) with every string that mentions the address replaced."""
    if isinstance(value, str):
        return ERASED if address in value.lower() else value
    if isinstance(value, list):
        return [_scrub(v, address) for v in value]
    if isinstance(value, dict):
        return {k: _scrub(v, address) for k, v in value.items()}
    return value


def _events(address: str, message_ids: list[int]) -> tuple[QuerySet, QuerySet]:
    raw = ProviderWebhookEvent.objects.filter(
        Q(message_id__in=message_ids) | _mentions(address, ["body"])
    )
    forwarded = WebhookDelivery.objects.filter(
        Q(message_id__in=message_ids) | _mentions(address, ["payload"])
    )
    return raw, forwarded


def messages_forget(address: str, message_ids: list[int]) -> Counter:
    """Erase the person from these messages and from the events about them: addresses,
    subject, bodies, headers, attachments, errors that name them, their timeline's details,
    and the raw webhooks and forwarded deliveries that mention them (strings scrubbed).
    Statuses, times, tags and counters stay. Unsent messages are cancelled first; raises
    StillSending, changing nothing, while any is being sent. Call inside a transaction."""
    counts: Counter = Counter()
    pending = Message.objects.filter(pk__in=message_ids, status__in=PENDING_STATUSES)
    if pending.filter(Q(status=MessageStatus.SENDING) | Q(batch__isnull=False)).exists():
        raise StillSending(
            "messages to this person are being sent right now; try again in a minute"
        )
    for message in pending:
        counts["cancelled"] += message_cancel(message=message, reason="the recipient was erased")
    now = timezone.now()
    for start in range(0, len(message_ids), CHUNK):
        chunk = message_ids[start : start + CHUNK]
        MessageAddress.objects.filter(message_id__in=chunk).delete()
        counts["attachments"] += MessageAttachment.objects.filter(message_id__in=chunk).delete()[0]
        counts["events"] += MessageEvent.objects.filter(message_id__in=chunk).update(
            detail="", data={}
        )
        for pk, error in Message.objects.filter(pk__in=chunk).values_list("pk", "last_error"):
            Message.objects.filter(pk=pk).update(last_error=_scrub(error, address))
        counts["messages"] += Message.objects.filter(pk__in=chunk).update(
            to=[], cc=[], bcc=[], reply_to=[], to_address="", subject="", html="", text="", headers={},
            content_purged_at=now,
        )  # fmt: skip
    raw, forwarded = _events(address, message_ids)
    for event in raw.only("pk", "body"):
        ProviderWebhookEvent.objects.filter(pk=event.pk).update(
            body=_scrub(event.body, address), error=""
        )
        counts["webhook_events"] += 1
    for delivery in forwarded.only("pk", "payload"):
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            payload=_scrub(delivery.payload, address), last_error=""
        )
        counts["webhook_deliveries"] += 1
    return counts


MESSAGE_EXPORT_FIELDS = (
    "id", "uuid", "status", "failure_code", "priority", "from_email", "to", "cc", "bcc",
    "reply_to", "subject", "tags", "campaign_id", "created_at", "sent_at", "provider_id",
)  # fmt: skip


def messages_export(address: str, message_ids: list[int], limit: int) -> dict[str, Any]:
    """The messages (bounded fields, no bodies or attachments: what was sent to whom, when
    and with what outcome) and their timelines, the newest `limit` of them; and the raw
    webhook events about them."""
    newest = sorted(message_ids, reverse=True)[:limit]
    messages = list(
        Message.objects.filter(pk__in=newest).order_by("-pk").values(*MESSAGE_EXPORT_FIELDS)
    )
    events: dict[int, list] = {}
    for event in (
        MessageEvent.objects.filter(message_id__in=newest)
        .order_by("message_id", "created_at", "id")
        .values("message_id", "kind", "provider_event", "detail", "created_at")
    ):
        events.setdefault(event.pop("message_id"), []).append(event)
    for message in messages:
        message["events"] = events.get(message["id"], [])
    raw, _ = _events(address, newest)
    return {
        "messages": messages,
        "messages_total": len(message_ids),
        "messages_truncated": len(message_ids) > len(newest),
        "webhook_events": list(
            raw.order_by("pk").values("svix_id", "type", "body", "received_at")[:limit]
        ),
    }
