"""SQLite: a fan-out chunk read into Python and inserted in bulk (no INSERT … SELECT with
per-row JSON and UUIDs there). The same signature as queueing.fanout.postgres.insert_chunk."""

import copy
import uuid

from django.db.models import QuerySet
from django.utils import timezone

from queueing.models import Message


def insert_chunk(
    prototype: Message, recipients: QuerySet, size: int, key_prefix: str
) -> tuple[int, int | None, int]:
    rows = list(recipients.values_list("pk", "email")[:size])
    if not rows:
        return 0, None, 0
    ids = [pk for pk, _ in rows]
    existing = set(
        Message.objects.filter(
            campaign_id=prototype.campaign_id, recipient_id__in=ids, is_test=False
        ).values_list("recipient_id", flat=True)
    )
    now = timezone.now()
    fresh = []
    for pk, email in rows:
        if pk in existing:
            continue
        message = copy.copy(prototype)
        message.to, message.recipient_id = [email], pk
        message.to_address = email  # canonical already: the search form
        message.uuid = uuid.uuid4()
        message.idempotency_key = f"{key_prefix}{pk}"
        message.queued_at = now
        fresh.append(message)
    Message.objects.bulk_create(fresh, ignore_conflicts=True)
    return len(rows), ids[-1], len(fresh)
