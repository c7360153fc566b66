"""SQLite: write an import chunk from this process, in a few statements per chunk.

Per chunk of 5,000 valid rows: one SELECT of the people the chunk names (and one of the owners
of its external ids), one INSERT … ON CONFLICT (email) DO UPDATE for the new and the changed
recipients (unchanged ones are not written), one SELECT of the new people's ids, one SELECT of
their subscriptions to the list, then one UPDATE of the pending ones and one INSERT of the
missing ones. The rules are those of the PostgreSQL writer (recipients.imports.postgres),
which does the same set-based on the server.
"""

import json
from typing import Any

from django.utils import timezone

from queueing.bulk_sql import insert_rows, select_in
from recipients.imports.rows import Reject, Row
from recipients.imports.summary import ImportCounts
from recipients.models import List, Recipient, Source, Subscription
from recipients.tokens import new_unsubscribe_token

RECIPIENT_COLUMNS = (
    "email",
    "first_name",
    "last_name",
    "external_id",
    "attributes",
    "unsubscribe_token",
    "created_at",
    "updated_at",
)
# The token and created_at of an existing row are not updated, so its unsubscribe links never
# change.
RECIPIENT_UPDATES = ("first_name", "last_name", "external_id", "attributes", "updated_at")
SUBSCRIPTION_COLUMNS = (
    "recipient",
    "list",
    "status",
    "source",
    "subscribed_at",
    "confirmed_at",
    "created_at",
    "updated_at",
)
SUBSCRIBED = Subscription.Status.SUBSCRIBED.value
IMPORT = Source.IMPORT.value


class SqliteWriter:
    """Writes chunks of valid rows into `target`, adding to `counts`; see the module."""

    chunk_size = 5000
    # SQLite works in this process, under the GIL: a parsing thread would only compete.
    read_ahead = False

    def __init__(self, target: List, counts: ImportCounts, reject: Reject) -> None:
        self.target, self.counts, self.reject = target, counts, reject

    def prepare(self, chunk: list[Row]) -> list[Row]:
        return chunk

    def write(self, chunk: list[Row]) -> None:
        """Upsert one chunk of valid rows and subscribe them."""
        existing = {
            email: (pk, first, last, ext, _from_db_json(attrs))
            for pk, email, first, last, ext, attrs in select_in(
                Recipient,
                ("id", "email", "first_name", "last_name", "external_id", "attributes"),
                "email",
                [r.email for r in chunk],
            )
        }
        external_ids = [r.fields["external_id"] for r in chunk if "external_id" in r.fields]
        owners = dict(select_in(Recipient, ("external_id", "email"), "external_id", external_ids))
        upserts: list[tuple] = []
        ids: dict[str, int | None] = {}
        now = timezone.now()
        counts = self.counts
        for row in chunk:
            external_id = row.fields.get("external_id")
            owner = owners.get(external_id) if external_id else None
            if owner is not None and owner != row.email:
                self.reject(row.line, row.raw, f"external_id {external_id!r} belongs to {owner}")
                continue
            old = existing.get(row.email)
            if old is None:
                counts.created += 1
                ids[row.email] = None
                values = (
                    row.fields.get("first_name", ""),
                    row.fields.get("last_name", ""),
                    external_id,
                    row.attributes,
                )
            else:
                pk, first, last, ext, attrs = old
                ids[row.email] = pk
                values = (
                    row.fields.get("first_name", first),
                    row.fields.get("last_name", last),
                    external_id or ext,
                    {**attrs, **row.attributes},
                )
                if values == (first, last, ext, attrs):
                    counts.unchanged += 1
                    continue
                counts.updated += 1
            upserts.append((row.email, *values, new_unsubscribe_token(), now, now))
        # One statement for new and changed rows.
        insert_rows(
            Recipient, RECIPIENT_COLUMNS, upserts, conflict=["email"], update=RECIPIENT_UPDATES
        )
        new_emails = [email for email, pk in ids.items() if pk is None]
        if new_emails:
            ids.update(select_in(Recipient, ("email", "id"), "email", new_emails))
        self._subscribe(list(ids.values()))

    def _subscribe(self, ids: list[int]) -> None:
        """Subscribe these people; pending ones are confirmed, people who left are not."""
        target = self.target
        statuses = dict(
            select_in(
                Subscription, ("recipient", "status"), "recipient", ids, where={"list": target.pk}
            )
        )
        now = timezone.now()
        # An import vouches for consent, so on a double opt-in list its rows count as confirmed.
        confirmed_at = now if target.is_double_opt_in else None
        new: list[tuple] = []
        pending: list[int] = []
        subscribed = 0
        for pk in ids:
            status = statuses.get(pk)
            if status == Subscription.Status.SUBSCRIBED:
                continue
            if status == Subscription.Status.UNSUBSCRIBED:
                # Leaving a list is the person's decision; a file never overrides it.
                self.counts.kept_unsubscribed += 1
                continue
            if status == Subscription.Status.PENDING:
                pending.append(pk)
            else:
                new.append((pk, target.pk, SUBSCRIBED, IMPORT, now, confirmed_at, now, now))
            subscribed += 1
        if pending:
            Subscription.objects.filter(list=target, recipient_id__in=pending).update(
                status=SUBSCRIBED,
                source=Source.IMPORT,
                subscribed_at=now,
                confirmed_at=now,
                updated_at=now,
            )
        insert_rows(Subscription, SUBSCRIPTION_COLUMNS, new, conflict=["recipient", "list"])
        self.counts.subscribed += subscribed


def _from_db_json(value: Any) -> Any:
    """SQLite hands JSON columns back as text (the field decodes them only through the ORM)."""
    return json.loads(value) if isinstance(value, str | bytes) else value
