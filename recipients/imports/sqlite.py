"""SQLite: write an import chunk from this process, in a few statements per chunk.

Per chunk of 5,000 valid rows: one SELECT of the people the chunk names (and one of the owners
of its external ids), one prepared INSERT … ON CONFLICT (email) DO UPDATE run for each new or
changed recipient (unchanged ones are not written), one SELECT of the new people's ids, one
SELECT of their subscriptions to the list, then one UPDATE of the pending ones and one
prepared INSERT run for each missing one. The rules are those of the PostgreSQL writer
(recipients.imports.postgres), which does the same set-based on the server.

The statements run on the sqlite3 connection under Django's (inside the import's
transaction), with `?` placeholders and `executemany`: SQLite prepares each statement once
and runs it per row in C. Through Django's cursor, a multi-row INSERT of 5,000 rows spent
more time having its 40,000 `%s` rewritten and every value prepared by its field than SQLite
spent writing (docs/PERFORMANCE.md, import). Values are stored as the fields would store them:
attributes as JSON text, timestamps through the backend's own adapter.
"""

import json
from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.utils import timezone

from recipients.imports.rows import Reject, Row
from recipients.imports.summary import ImportCounts
from recipients.models import List, Recipient, Source, Subscription
from recipients.tokens import new_unsubscribe_tokens

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
    "recipient_id",
    "list_id",
    "status",
    "source",
    "subscribed_at",
    "confirmed_at",
    "created_at",
    "updated_at",
)
RECIPIENT_TABLE = Recipient._meta.db_table
SUBSCRIPTION_TABLE = Subscription._meta.db_table
UPSERT_RECIPIENT = (
    f"INSERT INTO {RECIPIENT_TABLE} ({', '.join(RECIPIENT_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(RECIPIENT_COLUMNS))}) ON CONFLICT (email) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in RECIPIENT_UPDATES)
)
INSERT_SUBSCRIPTION = (
    f"INSERT INTO {SUBSCRIPTION_TABLE} ({', '.join(SUBSCRIPTION_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(SUBSCRIPTION_COLUMNS))}) "
    "ON CONFLICT (recipient_id, list_id) DO NOTHING"
)
# Well under SQLite's limit of 32,766 parameters per statement.
MAX_IN = 30_000
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
                RECIPIENT_TABLE,
                "id, email, first_name, last_name, external_id, attributes",
                "email",
                [r.email for r in chunk],
            )
        }
        external_ids = [r.fields["external_id"] for r in chunk if "external_id" in r.fields]
        owners = dict(select_in(RECIPIENT_TABLE, "external_id, email", "external_id", external_ids))
        upserts: list[tuple] = []
        ids: dict[str, int | None] = {}
        now = stored_time(timezone.now())
        dumps = json.dumps
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
            first, last, ext, attrs = values
            upserts.append((row.email, first, last, ext, dumps(attrs)))
        # One prepared statement for new and changed rows; the tokens from one read of the OS's
        # random source (an existing row keeps its own: the upsert does not update it).
        if upserts:
            tokens = new_unsubscribe_tokens(len(upserts))
            raw_connection().executemany(
                UPSERT_RECIPIENT,
                [(*row, token, now, now) for row, token in zip(upserts, tokens, strict=True)],
            )
        new_emails = [email for email, pk in ids.items() if pk is None]
        if new_emails:
            ids.update(select_in(RECIPIENT_TABLE, "email, id", "email", new_emails))
        self._subscribe(list(ids.values()))

    def _subscribe(self, ids: list[int]) -> None:
        """Subscribe these people; pending ones are confirmed, people who left are not."""
        target = self.target
        statuses = dict(
            select_in(
                SUBSCRIPTION_TABLE,
                "recipient_id, status",
                "recipient_id",
                ids,
                where=("list_id", target.pk),
            )
        )
        now = timezone.now()
        stored_now = stored_time(now)
        # An import vouches for consent, so on a double opt-in list its rows count as confirmed.
        confirmed_at = stored_now if target.is_double_opt_in else None
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
                new.append(
                    (
                        pk,
                        target.pk,
                        SUBSCRIBED,
                        IMPORT,
                        stored_now,
                        confirmed_at,
                        stored_now,
                        stored_now,
                    )
                )
            subscribed += 1
        if pending:
            Subscription.objects.filter(list=target, recipient_id__in=pending).update(
                status=SUBSCRIBED,
                source=Source.IMPORT,
                subscribed_at=now,
                confirmed_at=now,
                updated_at=now,
            )
        if new:
            raw_connection().executemany(INSERT_SUBSCRIPTION, new)
        self.counts.subscribed += subscribed


def raw_connection() -> Any:
    """The sqlite3 connection under Django's: the same connection, in the same transaction."""
    connection.ensure_connection()
    return connection.connection


def stored_time(value: Any) -> Any:
    """A datetime as the backend stores it (what DateTimeField would write)."""
    return connection.ops.adapt_datetimefield_value(value)


def select_in(
    table: str, columns: str, key: str, values: Sequence[Any], where: tuple[str, Any] | None = None
) -> list[tuple]:
    """Rows (`columns`) of `table` whose `key` is one of `values`, and `where` (column, value)."""
    extra, params = (f" AND {where[0]} = ?", [where[1]]) if where else ("", [])
    rows: list[tuple] = []
    for start in range(0, len(values), MAX_IN):
        part = list(values[start : start + MAX_IN])
        rows += (
            raw_connection()
            .execute(
                f"SELECT {columns} FROM {table} WHERE {key} IN ({', '.join('?' * len(part))}){extra}",
                [*part, *params],
            )
            .fetchall()
        )
    return rows


def _from_db_json(value: Any) -> Any:
    """SQLite hands JSON columns back as text (the field decodes them only through the ORM)."""
    return json.loads(value) if isinstance(value, str | bytes) else value
