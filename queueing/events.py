"""Writing timeline events in bulk.

A batch of 100 emails writes a few hundred events; building model instances for them costs
more than sending the batch, so they go in with one parameterised INSERT instead.
"""

import json
from collections.abc import Iterable
from typing import Any

from django.db import connection
from django.utils import timezone

from queueing.models import MessageEvent

EventRow = tuple[int, str, str, dict[str, Any]]  # message id, kind, detail, data

_table = MessageEvent._meta.db_table


def add_events(rows: Iterable[EventRow], *, provider_event: str = "") -> None:
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    values = [
        (message_id, kind, provider_event, detail, json.dumps(data), now)
        for message_id, kind, detail, data in rows
    ]
    if not values:
        return
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {_table} (message_id, kind, provider_event, detail, data, created_at) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            values,
        )


def add_event(message_id: int, kind: str, detail: str, **data: Any) -> None:
    add_events([(message_id, kind, detail, data)])
