"""One batch of stored webhooks applied to their messages: lookups, timeline, status by rank.

Returns what happened as ProviderEvent values (queueing.hooks) for the listeners. Runs inside
the batch's transaction (queueing.provider_events.processing): the batch's messages are
locked first, in id order, so two batches touching one message apply one after the other.
Every write is set-based, except storing Resend's id on a message whose answer was lost.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import F
from django.utils import timezone

from queueing.bulk_sql import update_rows
from queueing.events import add_provider_events
from queueing.hooks import ProviderEvent
from queueing.models import EventKind, Message, MessageEvent, ProviderWebhookEvent
from queueing.provider_events.ranking import Move, apply_moves, target_status
from queueing.resend.events import EmailEvent, kind_of, read_event

# What the ranking and the listeners need of a message; its bodies are never loaded.
_FIELDS = ("id", "uuid", "status", "provider_id", "campaign_id", "recipient_id", "api_key_id")
_FIELDS += ("is_test",)


@dataclass
class _Found:
    message: Message
    status: str  # as this batch has moved it so far
    kinds: set[str]  # kinds of its provider events so far, this batch's included


class _Messages:
    """The batch's messages, by Resend's id and by the mailhub_message tag."""

    def __init__(self, events: Sequence[EmailEvent]) -> None:
        email_ids = {e.email_id for e in events if e.email_id}
        ids: set[int] = set()
        known: set[str] = set()
        if email_ids:
            # `<> ''` spelled out so PostgreSQL uses the partial index on provider_id.
            for pk, provider_id in (
                Message.objects.filter(provider_id__in=email_ids)
                .exclude(provider_id="")
                .values_list("pk", "provider_id")
            ):
                ids.add(pk)
                known.add(provider_id)
        uuids = {_uuid(e.message_uuid) for e in events if e.email_id not in known} - {None}
        if uuids:
            ids |= set(Message.objects.filter(uuid__in=uuids).values_list("pk", flat=True))
        locked = (
            Message.objects.select_for_update().filter(pk__in=ids).order_by("pk").only(*_FIELDS)
            if ids
            else []
        )
        self.by_id = {m.pk: _Found(m, m.status, set()) for m in locked}
        self.by_provider_id = {f.message.provider_id: f for f in self.by_id.values()}
        self.by_uuid = {str(f.message.uuid): f for f in self.by_id.values()}
        self.by_provider_id.pop("", None)
        if self.by_id:
            for message_id, provider_event in MessageEvent.objects.filter(
                message_id__in=list(self.by_id), kind=EventKind.PROVIDER
            ).values_list("message_id", "provider_event"):
                if kind := kind_of(provider_event):
                    self.by_id[message_id].kinds.add(kind)

    def match(self, event: EmailEvent) -> _Found | None:
        found = self.by_provider_id.get(event.email_id) if event.email_id else None
        if found is None and (wanted := _uuid(event.message_uuid)):
            found = self.by_uuid.get(str(wanted))
        return found


def apply_batch(rows: Sequence[ProviderWebhookEvent]) -> list[ProviderEvent]:
    now = timezone.now()
    events = [(row, read_event(row.body)) for row in rows]
    messages = _Messages([e for _, e in events])
    original = {pk: f.status for pk, f in messages.by_id.items()}
    reasons: dict[int, str] = {}
    provider_ids: dict[int, str] = {}
    timeline: list[tuple[int, str, str, dict[str, Any]]] = []
    announced: list[ProviderEvent] = []
    message_of: dict[int, tuple[int]] = {}
    for row, event in events:
        found = messages.match(event)
        if found is None:
            announced.append(_provider_event(row, event, now))
            continue
        message = found.message
        message_of[row.pk] = (message.pk,)
        kinds_before = frozenset(found.kinds)
        moved_to = target_status(found.status, event.kind)
        if moved_to:
            found.status = moved_to
            if moved_to == "failed":
                reasons[message.pk] = event.reason
        if event.kind:
            found.kinds.add(event.kind)
        if event.email_id and not message.provider_id:
            message.provider_id = provider_ids[message.pk] = event.email_id
        timeline.append(
            (
                message.pk,
                event.type[:64] or "(no type)",
                _detail(event, found.status, moved_to),
                _data(row, event, moved_to),
            )
        )
        announced.append(
            _provider_event(row, event, now, message, kinds_before, found.status, bool(moved_to))
        )
    apply_moves(
        Move(f.message, original[pk], f.status, reasons.get(pk, ""))
        for pk, f in messages.by_id.items()
        if f.status != original[pk]
    )
    for pk, provider_id in provider_ids.items():
        # The answer with Resend's id was lost (the worker stores it at `sent` too); stored
        # now, later events find the message by it. Never overwrites one.
        Message.objects.filter(pk=pk, provider_id="").update(provider_id=provider_id)
    add_provider_events(timeline)
    update_rows(ProviderWebhookEvent, ("message",), message_of)
    ProviderWebhookEvent.objects.filter(pk__in=[row.pk for row in rows]).update(
        processed_at=now, error="", attempts=F("attempts") + 1
    )
    return announced


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


def _provider_event(
    row: ProviderWebhookEvent,
    event: EmailEvent,
    now: datetime,
    message: Message | None = None,
    kinds_before: frozenset[str] = frozenset(),
    status: str = "",
    changed: bool = False,
) -> ProviderEvent:
    return ProviderEvent(
        raw_event_id=row.pk,
        type=event.type,
        kind=event.kind,
        occurred_at=event.occurred_at or row.received_at or now,
        message_id=message.pk if message else None,
        campaign_id=message.campaign_id if message else None,
        recipient_id=message.recipient_id if message else None,
        api_key_id=message.api_key_id if message else None,
        is_test=message.is_test if message else False,
        addresses=event.addresses,
        bounce_type=event.bounce_type,
        bounce_subtype=event.bounce_subtype,
        diagnostic=event.diagnostic,
        link=event.link,
        kinds_before=kinds_before,
        status=status,
        status_changed=changed,
        data=event.data,
    )


def _detail(event: EmailEvent, status: str, moved_to: str | None) -> str:
    """The timeline line, for people."""
    match event.kind:
        case "bounced":
            kind = " / ".join(p for p in (event.bounce_type, event.bounce_subtype) if p)
            what = f"bounced ({kind or 'type not given'})"
            what += f": {event.diagnostic}" if event.diagnostic else ""
        case "clicked":
            what = f"clicked {event.link}" if event.link else "clicked"
        case "failed":
            what = f"failed at Resend: {event.reason or 'no reason given'}"
        case "suppressed":
            what = f"suppressed by Resend: {event.reason or 'no reason given'}"
        case "":
            what = f"event of a type mailhub does not know: {event.type or '(none)'}"
        case kind:
            what = kind.replace("_", " ")
    if moved_to:
        return f"{what} (status {moved_to})"
    if status in ("queued", "sending", "scheduled"):
        return f"{what} (recorded; the message is not yet recorded as sent)"
    return f"{what} (recorded; status stays {status})"


def _data(row: ProviderWebhookEvent, event: EmailEvent, moved_to: str | None) -> dict[str, Any]:
    data: dict[str, Any] = {"raw_event": row.pk, "status_changed": bool(moved_to)}
    if event.occurred_at:
        data["occurred_at"] = event.occurred_at.isoformat()
    for name in ("bounce_type", "bounce_subtype", "diagnostic", "link", "reason"):
        if value := getattr(event, name):
            data[name] = value
    return data
