"""The fan-out's floor: the same rows written by one INSERT … SELECT, nothing else.

Imported by campaign_fanout.py, which runs it in the same run as mailhub's fan-out and prints
the ratio. PostgreSQL only. It writes into the same `queueing_message` table (the same
columns, indexes, constraints and deferred foreign keys), the same values per row as a
campaign's messages (one per recipient, `to` a one-address JSON array, a fresh UUID, the
idempotency key), for everyone on either list (each person once) who is subscribed and not
suppressed, in recipient order, in one statement and one transaction: no chunks, no cursor,
no counters, no ORM, no RQ. What it does not do is what makes mailhub resumable and lets
sending start early; the ratio is the price of that.
"""

import time

from django.db import connection, transaction


def floor_fanout(*, campaign, lists) -> tuple[int, float]:
    """Write `campaign`'s messages the floor's way: (rows written, seconds)."""
    from campaigns.fanout import message_prototype  # the row's shared values, not its code path
    from queueing.addresses import sender_domain
    from queueing.models import Message

    prototype = message_prototype(campaign)
    prototype.status = "queued"
    prototype.from_domain = sender_domain(prototype.from_email)
    now_params = {}
    columns, values = [], []
    per_row = {
        "uuid": "gen_random_uuid()",
        "idempotency_key": f"'mailhub-campaign-{campaign.pk}-' || r.id",
        "to": "jsonb_build_array(r.email)",
        "recipient_id": "r.id",
    }
    for field in Message._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(f'"{field.column}"')
        if field.attname in per_row:
            values.append(per_row[field.attname])
        elif field.attname in ("created_at", "updated_at", "queued_at"):
            values.append("now()")
        else:
            now_params[field.attname] = field.get_db_prep_save(
                getattr(prototype, field.attname), connection
            )
            values.append(f"%({field.attname})s")
    now_params["lists"] = [lst.pk for lst in lists]
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO queueing_message ({', '.join(columns)}) "
            f"SELECT {', '.join(values)} FROM recipients_recipient r "
            "WHERE EXISTS (SELECT 1 FROM recipients_subscription s WHERE s.recipient_id = r.id "
            "AND s.list_id = ANY(%(lists)s) AND s.status = 'subscribed') "
            "AND NOT EXISTS (SELECT 1 FROM recipients_suppression x WHERE x.email = r.email) "
            "ORDER BY r.id",
            now_params,
        )
        rows = cursor.rowcount
    return rows, time.perf_counter() - started
