"""SQLite: write an import chunk from this process, in a few statements per chunk.

Per chunk of 5,000 valid rows, first the cheap way, proven by the database: the chunk's rows
are INSERTed as new people by one prepared statement (run per row by `executemany`), inside a
savepoint. The unique indexes on `email` and `external_id` make that succeed only if none of
the chunk's addresses and external ids is stored yet, so nothing needs looking up; one
INSERT … SELECT then subscribes the people whose ids are above the largest id before the chunk
(the import's transaction holds SQLite's write lock: every such row is this chunk's). If the
INSERT meets a stored address or external id, the savepoint is rolled back and the chunk goes
the other way, as it always did before: one SELECT of the people the chunk names (and one of
the owners of the external ids not already theirs), one prepared INSERT … ON CONFLICT (email)
DO UPDATE run for each new or changed recipient (unchanged ones are not written), then the
new people subscribed as above and the others' subscriptions to the list read, the pending ones
confirmed and the missing ones inserted. A chunk that found nobody stored lets the next one try
the cheap way again. The rules are those of the PostgreSQL writer
(recipients.imports.postgres), which does the same set-based on the server.

The statements run on the sqlite3 connection under Django's (inside the import's
transaction), with `?` placeholders; lists of addresses or ids go as one JSON parameter read
by `json_each`, so each statement's text never changes. Through Django's cursor, a multi-row
INSERT of 5,000 rows spent more time having its 40,000 `%s` rewritten and every value prepared
by its field than SQLite spent writing (docs/PERFORMANCE.md, import). Values are stored as the
fields would store them: attributes as JSON text (json.dumps's own output, rows.attributes_json),
timestamps through the backend's own adapter.
"""

import json
import sqlite3
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from recipients.imports.rows import Reject, Row, attributes_json, new_person_values
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
INSERT_RECIPIENT = (
    f"INSERT INTO {RECIPIENT_TABLE} ({', '.join(RECIPIENT_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(RECIPIENT_COLUMNS))})"
)
UPSERT_RECIPIENT = f"{INSERT_RECIPIENT} ON CONFLICT (email) DO UPDATE SET " + ", ".join(
    f"{c} = excluded.{c}" for c in RECIPIENT_UPDATES
)
LAST_ID = f"SELECT max(id) FROM {RECIPIENT_TABLE}"
# CROSS JOIN keeps json_each outside, one index probe per value: left to itself, SQLite may scan
# the list's subscriptions and the JSON list for each.
PEOPLE = (
    "SELECT r.id, r.email, r.first_name, r.last_name, r.external_id, r.attributes "
    f"FROM json_each(?) j CROSS JOIN {RECIPIENT_TABLE} r ON r.email = j.value"
)
OWNERS = (
    f"SELECT r.external_id, r.email FROM json_each(?) j CROSS JOIN {RECIPIENT_TABLE} r "
    "ON r.external_id = j.value"
)
STATUSES = (
    f"SELECT s.recipient_id, s.status FROM json_each(?) j CROSS JOIN {SUBSCRIPTION_TABLE} s "
    "ON s.recipient_id = j.value AND s.list_id = ?"
)
# The subscription's constant columns, then where its recipient ids come from.
_SUBSCRIBE = (
    f"INSERT INTO {SUBSCRIPTION_TABLE} ({', '.join(SUBSCRIPTION_COLUMNS)}) "
    "SELECT {id}, ?, ?, ?, ?, ?, ?, ? FROM {source} ON CONFLICT (recipient_id, list_id) DO NOTHING"
)
# People added since the largest id before the chunk (ids only grow: AUTOINCREMENT).
SUBSCRIBE_NEW = _SUBSCRIBE.format(id="id", source=f"{RECIPIENT_TABLE} WHERE id > ? ORDER BY id")
SUBSCRIBE_IDS = _SUBSCRIBE.format(id="j.value", source="json_each(?) j WHERE true")
SUBSCRIBED = Subscription.Status.SUBSCRIBED.value
PENDING = Subscription.Status.PENDING.value
UNSUBSCRIBED = Subscription.Status.UNSUBSCRIBED.value
IMPORT = Source.IMPORT.value


class SqliteWriter:
    """Writes chunks of valid rows into `target`, adding to `counts`; see the module."""

    chunk_size = 5000
    # SQLite works in this process, under the GIL: a parsing thread would only compete.
    read_ahead = False

    def __init__(self, target: List, counts: ImportCounts, reject: Reject) -> None:
        self.target, self.counts, self.reject = target, counts, reject
        self.all_new = True  # try the next chunk as new people only (see the module)

    def prepare(self, chunk: list[Row]) -> list[Row]:
        return chunk

    def finish(self) -> None:
        pass

    def write(self, chunk: list[Row]) -> None:
        """Insert or upsert one chunk of valid rows and subscribe them."""
        db = raw_connection()
        now = stored_time(timezone.now())
        last_id = db.execute(LAST_ID).fetchone()[0] or 0
        if self.all_new and self._insert_new(db, chunk, now):
            self.counts.created += len(chunk)
        else:
            existing = self._upsert(db, chunk, now)
            self.all_new = not existing
            self._subscribe_existing(db, existing)
        self.counts.subscribed += db.execute(
            SUBSCRIBE_NEW, (*self._subscription_values(now), last_id)
        ).rowcount

    def _insert_new(self, db: sqlite3.Connection, chunk: list[Row], now: str) -> bool:
        """Insert the whole chunk as new people; False (nothing stored) if one of its
        addresses or external ids is stored already."""
        tokens = new_unsubscribe_tokens(len(chunk))
        try:
            with transaction.atomic():  # a savepoint
                db.executemany(
                    INSERT_RECIPIENT,
                    [
                        (*new_person_values(row), token, now, now)
                        for row, token in zip(chunk, tokens, strict=True)
                    ],
                )
        except sqlite3.IntegrityError:
            return False
        return True

    def _upsert(self, db: sqlite3.Connection, chunk: list[Row], now: str) -> list[int]:
        """Insert new and update changed people; the ids of those already stored."""
        existing = {
            email: (pk, first, last, ext, attributes)
            for pk, email, first, last, ext, attributes in db.execute(
                PEOPLE, (json.dumps([row.email for row in chunk]),)
            )
        }
        # An external id stored on the row's own person is nobody else's (it is unique).
        unknown = [
            external_id
            for row in chunk
            if (external_id := row.fields.get("external_id"))
            and (row.email not in existing or existing[row.email][3] != external_id)
        ]
        owners = dict(db.execute(OWNERS, (json.dumps(unknown),))) if unknown else {}
        upserts: list[tuple] = []
        ids: list[int] = []
        counts = self.counts
        for row in chunk:
            fields = row.fields
            external_id = fields.get("external_id")
            owner = owners.get(external_id) if external_id else None
            if owner is not None and owner != row.email:
                self.reject(row.line, row.raw, f"external_id {external_id!r} belongs to {owner}")
                continue
            old = existing.get(row.email)
            if old is None:
                counts.created += 1
                upserts.append(
                    (
                        row.email,
                        fields.get("first_name", ""),
                        fields.get("last_name", ""),
                        external_id,
                        attributes_json(row.attributes),
                    )
                )
                continue
            pk, first, last, ext, stored = old
            ids.append(pk)
            attributes, changed = merged_attributes(stored, row.attributes)
            values = (fields.get("first_name", first), fields.get("last_name", last))
            values += (external_id or ext,)
            if not changed and values == (first, last, ext):
                counts.unchanged += 1
                continue
            counts.updated += 1
            upserts.append((row.email, *values, attributes))
        # One prepared statement for new and changed rows; the tokens from one read of the OS's
        # random source (an existing row keeps its own: the upsert does not update it).
        if upserts:
            tokens = new_unsubscribe_tokens(len(upserts))
            db.executemany(
                UPSERT_RECIPIENT,
                [(*row, token, now, now) for row, token in zip(upserts, tokens, strict=True)],
            )
        return ids

    def _subscribe_existing(self, db: sqlite3.Connection, ids: list[int]) -> None:
        """Subscribe these stored people; pending ones are confirmed, people who left are not."""
        if not ids:
            return
        target = self.target
        statuses = dict(db.execute(STATUSES, (json.dumps(ids), target.pk)))
        pending = [pk for pk, status in statuses.items() if status == PENDING]
        # Leaving a list is the person's decision; a file never overrides it.
        self.counts.kept_unsubscribed += sum(s == UNSUBSCRIBED for s in statuses.values())
        missing = [pk for pk in ids if pk not in statuses]
        if pending:
            now = timezone.now()
            Subscription.objects.filter(list=target, recipient_id__in=pending).update(
                status=SUBSCRIBED,
                source=Source.IMPORT,
                subscribed_at=now,
                confirmed_at=now,
                updated_at=now,
            )
        subscribed = len(pending)
        if missing:
            values = self._subscription_values(stored_time(timezone.now()))
            subscribed += db.execute(SUBSCRIBE_IDS, (*values, json.dumps(missing))).rowcount
        self.counts.subscribed += subscribed

    def _subscription_values(self, now: str) -> tuple:
        """A new subscription's columns after recipient_id."""
        # An import vouches for consent, so on a double opt-in list its rows count as confirmed.
        confirmed_at = now if self.target.is_double_opt_in else None
        return (self.target.pk, SUBSCRIBED, IMPORT, now, confirmed_at, now, now)


def merged_attributes(stored: Any, given: dict[str, str]) -> tuple[str, bool]:
    """The stored attributes (JSON text) with the row's merged in, as JSON text, and whether
    that changes them. The stored text is decoded only when it differs from the row's own."""
    if not given:
        return stored, False
    text = attributes_json(given)
    if text == stored:
        return stored, False
    attributes = json.loads(stored) if isinstance(stored, str | bytes) else stored
    merged = {**attributes, **given}
    if merged == attributes:
        return stored, False
    return json.dumps(merged), True


def raw_connection() -> Any:
    """The sqlite3 connection under Django's: the same connection, in the same transaction."""
    connection.ensure_connection()
    return connection.connection


def stored_time(value: Any) -> Any:
    """A datetime as the backend stores it (what DateTimeField would write)."""
    return connection.ops.adapt_datetimefield_value(value)
