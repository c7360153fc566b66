"""Many queued messages from one prototype: one per recipient row, in chunks (campaign fan-out).

The caller (campaigns) decides who and what; queueing writes the rows. Each database has its
own way, side by side with the same signature: `postgres.insert_chunk` (one INSERT … SELECT on
the server) and `sqlite.insert_chunk` (rows through Python), chosen here.
"""

from django.db import connection
from django.db.models import QuerySet

from queueing import state_machine
from queueing.addresses import sender_domain
from queueing.enqueue import request_drain_on_commit
from queueing.fanout import postgres, sqlite
from queueing.models import Message, MessageStatus


def messages_fan_out(
    *, prototype: Message, recipients: QuerySet, size: int, key_prefix: str
) -> tuple[int, int | None, int]:
    """Queue a message like `prototype` for each of the first `size` rows of `recipients`
    (a queryset ordered by id, with `id` and `email`): to = the row's email, recipient = the
    row, idempotency key = key_prefix + row id. A row that already has its message (same
    campaign and recipient) is skipped, so a re-run adds nothing. Call inside the caller's
    transaction; a bulk drain is asked for on commit. Returns (rows seen, last row id or None,
    messages added)."""
    state_machine.check_created(MessageStatus.QUEUED)
    prototype.status = MessageStatus.QUEUED
    prototype.from_domain = sender_domain(prototype.from_email)
    side = postgres if connection.vendor == "postgresql" else sqlite
    seen, last_id, inserted = side.insert_chunk(prototype, recipients, size, key_prefix)
    if inserted:
        request_drain_on_commit(prototype.priority)
    return seen, last_id, inserted
