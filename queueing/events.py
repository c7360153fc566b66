"""Writing timeline events in bulk.

A batch of 100 emails writes 100 events at each step; building model instances for them
costs more than sending the batch, so they go in with one multi-row INSERT instead.
"""

from collections.abc import Iterable
from typing import Any

from django.utils import timezone

from queueing.bulk_sql import insert_rows
from queueing.models import MessageEvent

EventRow = tuple[int, str, str, dict[str, Any]]  # message id, kind, detail, data

_COLUMNS = ("message", "kind", "provider_event", "detail", "data", "created_at")


def add_events(rows: Iterable[EventRow], *, provider_event: str = "") -> None:
    now = timezone.now()
    insert_rows(
        MessageEvent,
        _COLUMNS,
        [
            (message_id, kind, provider_event, detail, data, now)
            for message_id, kind, detail, data in rows
        ],
    )


def add_event(message_id: int, kind: str, detail: str, **data: Any) -> None:
    add_events([(message_id, kind, detail, data)])


# message id, Resend's event type, detail, data: provider events, each with its own type.
ProviderEventRow = tuple[int, str, str, dict[str, Any]]


def add_provider_events(rows: Iterable[ProviderEventRow]) -> None:
    now = timezone.now()
    insert_rows(
        MessageEvent,
        _COLUMNS,
        [
            (message_id, "provider", event_type, detail, data, now)
            for message_id, event_type, detail, data in rows
        ],
    )
