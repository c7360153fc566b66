"""The webhook endpoint's one write: the raw event, once per svix-id."""

import functools
from typing import Any

import psycopg
from django.db import InterfaceError, OperationalError, connection
from django.utils import timezone

from queueing.enqueue import request_event_processing_on_commit
from queueing.models import ProviderWebhookEvent

_COLUMNS = ("svix_id", "type", "body", "received_at", "attempts", "error")  # params' order


def webhook_event_store(*, svix_id: str, event: dict[str, Any], text: str | None = None) -> bool:
    """Store a verified webhook unless its svix-id is already stored; True if it was new.
    `text`: the body as received, when it is known to be `event`'s JSON: stored as it is
    rather than encoded again.

    Resend retries an event under the same svix-id (for about 17 hours), so a duplicate is
    normal: it changes nothing (INSERT … ON CONFLICT DO NOTHING on the unique svix-id, one
    statement, which also says whether the row was ours). No transaction of its own: the one
    statement is atomic, and BEGIN and COMMIT would be two more round trips per webhook; the
    request for processing goes out once the row is committed (at once in autocommit)."""
    event_type = event.get("type")
    # The values Django's save would send; only the JSON and the timestamp need adapting.
    params = [
        svix_id[:255],
        event_type[:64] if isinstance(event_type, str) else "",
        text if text is not None else _field("body").get_db_prep_save(event, connection),
        _field("received_at").get_db_prep_save(timezone.now(), connection),
        0,
        "",
    ]
    try:
        new = asked = _insert(params)
    except (InterfaceError, OperationalError):
        if connection.in_atomic_block:
            raise
        # The connection kept from an earlier request was broken (the server restarted, an
        # idle timeout): no health check ran before this insert (the webhook door skips it,
        # mailhub/webhook_door.py, and on PostgreSQL the plain cursor below never runs it),
        # so the insert is tried once more on a new connection; it is idempotent. Whether
        # the first try committed is unknown: processing is asked for either way.
        connection.close()
        new, asked = _insert(params), True
    if asked:
        request_event_processing_on_commit()
    return new


def _field(name: str) -> Any:
    return ProviderWebhookEvent._meta.get_field(name)


def _insert(params: list[Any]) -> bool:
    sql = _insert_sql(connection.vendor)
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone() is not None
    # Django's PostgreSQL cursors bind parameters on the client: the body is quoted into the
    # SQL text in Python, a sixth of a webhook's CPU. A plain psycopg cursor on the same
    # connection sends them beside the statement instead (not prepared: no named statement
    # to break a transaction-pooling proxy). Errors are Django's, as from its own cursors.
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, prepare=False)
        return cursor.fetchone() is not None


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
