"""The webhook endpoint's one write: the raw event, once per svix-id."""

import functools
from typing import Any

from django.db import connection
from django.utils import timezone

from queueing.enqueue import request_event_processing_on_commit
from queueing.models import ProviderWebhookEvent

_COLUMNS = ("svix_id", "type", "body", "received_at", "attempts", "error")


def webhook_event_store(*, svix_id: str, event: dict[str, Any]) -> bool:
    """Store a verified webhook unless its svix-id is already stored; True if it was new.
    Resend retries an event under the same svix-id (for about 17 hours), so a duplicate is
    normal: it changes nothing (INSERT … ON CONFLICT DO NOTHING on the unique svix-id, one
    statement, which also says whether the row was ours). No transaction of its own: the one
    statement is atomic, and BEGIN and COMMIT would be two more round trips per webhook; the
    request for processing goes out once the row is committed (at once in autocommit)."""
    event_type = event.get("type")
    values = {
        "svix_id": svix_id[:255],
        "type": event_type[:64] if isinstance(event_type, str) else "",
        "body": event,
        "received_at": timezone.now(),
        "attempts": 0,
        "error": "",
    }
    params = [
        ProviderWebhookEvent._meta.get_field(name).get_db_prep_save(values[name], connection)
        for name in _COLUMNS
    ]
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(connection.vendor), params)
        new = cursor.fetchone() is not None
    if new:
        request_event_processing_on_commit()
    return new


@functools.cache
def _insert_sql(vendor: str) -> str:
    quote = connection.ops.quote_name
    meta = ProviderWebhookEvent._meta
    columns = ", ".join(quote(meta.get_field(name).column) for name in _COLUMNS)
    marks = ", ".join(["%s"] * len(_COLUMNS))
    return (
        f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({marks}) "
        f"ON CONFLICT ({quote(meta.get_field('svix_id').column)}) DO NOTHING "
        f"RETURNING {quote(meta.pk.column)}"
    )
