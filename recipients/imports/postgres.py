"""PostgreSQL: write an import chunk set-based, on the server (one concern: this writer and
the SQL it runs; longer than most modules because the statements are spelled out).

The parsing thread turns each chunk of 10,000 valid rows into CSV text for COPY
(`PostgresWriter.prepare`: attributes as JSON, unsubscribe tokens from one `os.urandom` read
per chunk), so the writing thread only talks to the database. Per chunk, `write` copies the
rows into a temporary staging table, then a handful of statements do the rest without sending
rows back and forth. First the cheap way, proven by the database: one statement
(`insert_new`), inside a savepoint, inserts every staged row as a new person and subscribes
them, looking nobody up; the unique indexes on email and external_id let it succeed only if
none of them is stored yet. If it fails, the savepoint is rolled back and the chunk (and the
next ones, until a chunk's people are all new) goes the way that looks people up:

1. rows whose external_id belongs to another recipient are read back (to be rejected) and
   dropped from the stage;
2. one statement (`write_new_and_changed`) updates the changed recipients, inserts the new
   ones and subscribes them all: pending subscriptions become subscribed, missing ones are
   inserted, people who had unsubscribed are only counted. If another transaction added one
   of these rows meanwhile it fails with a unique violation, and the writer (in a savepoint)
   runs the ON CONFLICT versions instead: `upsert_recipients` (its RETURNING (xmax = 0) tells
   created from updated) and `subscribe`.

The rules are those of the SQLite writer (recipients.imports.sqlite): an empty cell never
overwrites a stored value, attributes are merged, the token and created_at of an existing
recipient never change, a file never re-subscribes someone who left.
"""

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from recipients.imports.rows import Reject, Row, new_person_values
from recipients.imports.summary import ImportCounts
from recipients.models import List, Recipient, Source, Subscription
from recipients.tokens import new_unsubscribe_tokens

IMPORT = Source.IMPORT.value


class PostgresWriter:
    """Writes chunks of valid rows into `target`, adding to `counts`; see the module."""

    # The server works set-based per chunk, so fewer, larger chunks cost less per row.
    chunk_size = 10_000
    # The next chunk is parsed (and `prepare`d) in a second thread while the server writes.
    read_ahead = True

    def __init__(self, target: List, counts: ImportCounts, reject: Reject) -> None:
        self.target, self.counts, self.reject = target, counts, reject
        self.staging = False  # the staging table exists
        self.all_new = True  # try the next chunk as new people only (see the module)

    @staticmethod
    def prepare(chunk: list[Row]) -> tuple[list[Row], str]:
        """`chunk` and its rows as COPY text for the staging table. Pure Python, run in the
        parsing thread: the writing thread is then left with nothing but the database's work."""
        tokens = new_unsubscribe_tokens(len(chunk))
        text = stage_text(
            (row.line, *new_person_values(row), token)
            for row, token in zip(chunk, tokens, strict=True)
        )
        return chunk, text

    def write(self, prepared: tuple[list[Row], str]) -> None:
        """Stage one chunk and write it (see the module)."""
        chunk, text = prepared
        if not self.staging:
            create_stage()
            check_subscriptions(immediately=True)
            self.staging = True
        stage(text)
        now = timezone.now()
        if self.all_new:
            try:
                with transaction.atomic():  # a savepoint
                    created, subscribed = insert_new(self.target, now, IMPORT)
            except IntegrityError:
                # One of these people (or external ids) is stored already: nothing of the
                # chunk was written; it is looked up instead, and so are the next ones.
                self.all_new = False
            else:
                self.counts.created += created
                self.counts.subscribed += subscribed
                return
        clashes = external_id_clashes()
        if clashes:
            by_line = {row.line: row for row in chunk}
            for line, external_id, owner in clashes:
                self.reject(
                    line, by_line[line].raw, f"external_id {external_id!r} belongs to {owner}"
                )
        try:
            with transaction.atomic():  # a savepoint
                counts = write_new_and_changed(self.target, now, IMPORT)
        except IntegrityError:
            # Someone else added one of these people or subscriptions meanwhile: the slower
            # statements with ON CONFLICT take them as they are now.
            created, updated, unchanged = upsert_recipients(now)
            subscribed, kept = subscribe(self.target, now, IMPORT)
        else:
            created, updated, unchanged, subscribed, kept = counts
        # A chunk whose people were all new lets the next one try the INSERT alone again.
        self.all_new = not updated and not unchanged
        self.counts.created += created
        self.counts.updated += updated
        self.counts.unchanged += unchanged
        self.counts.subscribed += subscribed
        self.counts.kept_unsubscribed += kept

    def finish(self) -> None:
        """The import has written its last chunk."""
        if self.staging:
            check_subscriptions(immediately=False)


STAGE = "recipients_import_stage"
STAGE_COLUMNS = ("line", "email", "first_name", "last_name", "external_id", "attributes", "token")


def _table(model: type) -> str:
    return connection.ops.quote_name(model._meta.db_table)


RECIPIENT = _table(Recipient)
SUBSCRIPTION = _table(Subscription)


def create_stage() -> None:
    """The staging table; it lives until the import's transaction ends."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {STAGE} ("
            "line integer NOT NULL, email text NOT NULL, first_name text NOT NULL, "
            "last_name text NOT NULL, external_id text, attributes jsonb NOT NULL, "
            "token text NOT NULL) ON COMMIT DROP"
        )


def check_subscriptions(*, immediately: bool) -> None:
    """Check the subscriptions' foreign keys (to the recipient, to the list) at the end of
    each statement while the import writes, or again when the transaction commits (Django's
    constraints are deferred).

    Checked at commit, the 2 checks per new subscription (2 x 89,000 in the benchmark,
    1.2-1.7 s of the server's time) were the last thing the import waited for, with nothing
    else to do; checked by each chunk's statement, the parsing thread reads ahead meanwhile.
    A failed import rolls back the change with the rest (a savepoint restores the mode)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT quote_ident(conname) FROM pg_constraint WHERE conrelid = %s::regclass "
            "AND contype = 'f' AND condeferrable ORDER BY conname",
            [Subscription._meta.db_table],
        )
        names = [name for (name,) in cursor.fetchall()]
        if names:
            mode = "IMMEDIATE" if immediately else "DEFERRED"
            cursor.execute(f"SET CONSTRAINTS {', '.join(names)} {mode}")


def stage_text(rows: Iterable[Sequence[object]]) -> str:
    """`rows` (STAGE_COLUMNS; external_id None when empty) as the CSV text `stage` sends.

    Written by the csv module (in C), which is several times faster than adapting every value
    in Python; the writer builds it in its parsing thread, off the writing thread's path.
    Only external_id can be NULL: it is the one column whose empty (unquoted) cells COPY
    reads as NULL."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows(rows)
    return buffer.getvalue()


def stage(text: str) -> None:
    """Replace the stage's content with `text` (from `stage_text`)."""
    names = ", ".join(STAGE_COLUMNS)
    not_null = ", ".join(c for c in STAGE_COLUMNS if c != "external_id")
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {STAGE}")
        with cursor.cursor.copy(
            f"COPY {STAGE} ({names}) FROM STDIN (FORMAT csv, FORCE_NOT_NULL ({not_null}))"
        ) as copy:
            copy.write(text)


def external_id_clashes() -> list[tuple[int, str, str]]:
    """(line, external_id, owner's email) for staged rows whose external_id another
    recipient already has; those rows are removed from the stage."""
    with connection.cursor() as cursor:
        cursor.execute(
            # One probe of the external_id index per staged row that has one (LATERAL …
            # LIMIT 1 keeps it a nested loop): cheaper than hashing the whole recipient
            # table for every chunk, which is what the planner picks for a join.
            f"WITH clash AS (SELECT s.line, s.external_id, o.email FROM {STAGE} s "
            f"CROSS JOIN LATERAL (SELECT r.email FROM {RECIPIENT} r "
            "WHERE r.external_id = s.external_id AND r.email <> s.email LIMIT 1) o "
            "WHERE s.external_id IS NOT NULL), "
            f"gone AS (DELETE FROM {STAGE} s USING clash c WHERE s.line = c.line) "
            "SELECT line, external_id, email FROM clash"
        )
        return sorted(cursor.fetchall())


def insert_new(target: List, now: datetime, source: str) -> tuple[int, int]:
    """Insert every staged row as a new person and subscribe them all to `target`, in one
    statement that looks nobody up: (created, newly subscribed).

    The unique indexes on email and external_id are the proof that they are all new: if one
    of the staged addresses or external ids is stored already this raises IntegrityError (a
    unique violation), and the writer, which runs it inside a savepoint, looks the chunk up
    instead. A new person has no subscription yet."""
    params = {
        "list": target.pk,
        "now": now,
        "confirmed": now if target.is_double_opt_in else None,
        "subscribed": Subscription.Status.SUBSCRIBED.value,
        "source": source,
    }
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH created AS (INSERT INTO {RECIPIENT} (email, first_name, last_name, "
            "external_id, attributes, unsubscribe_token, created_at, updated_at) "
            f"SELECT email, first_name, last_name, external_id, attributes, token, %(now)s, "
            f"%(now)s FROM {STAGE} RETURNING id), "
            f"added AS (INSERT INTO {SUBSCRIPTION} (recipient_id, list_id, status, source, "
            "subscribed_at, confirmed_at, created_at, updated_at) "
            "SELECT id, %(list)s, %(subscribed)s, %(source)s, %(now)s, %(confirmed)s, "
            "%(now)s, %(now)s FROM created RETURNING 1) "
            "SELECT (SELECT count(*) FROM created), (SELECT count(*) FROM added)",
            params,
        )
        return cursor.fetchone()


def upsert_recipients(now: datetime) -> tuple[int, int, int]:
    """Insert new recipients and update changed ones: (created, updated, unchanged)."""
    merged = {
        "first_name": "COALESCE(NULLIF(EXCLUDED.first_name, ''), r.first_name)",
        "last_name": "COALESCE(NULLIF(EXCLUDED.last_name, ''), r.last_name)",
        "external_id": "COALESCE(EXCLUDED.external_id, r.external_id)",
        "attributes": "r.attributes || EXCLUDED.attributes",
    }
    sets = ", ".join(f"{column} = {value}" for column, value in merged.items())
    new = "(" + ", ".join(merged.values()) + ")"
    old = "(" + ", ".join(f"r.{column}" for column in merged) + ")"
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH written AS ("
            f"INSERT INTO {RECIPIENT} AS r (email, first_name, last_name, external_id, "
            "attributes, unsubscribe_token, created_at, updated_at) "
            f"SELECT email, first_name, last_name, external_id, attributes, token, %s, %s "
            f"FROM {STAGE} "
            # The token and created_at of an existing row are not updated, so its unsubscribe
            # links never change; unchanged rows are not written at all.
            f"ON CONFLICT (email) DO UPDATE SET {sets}, updated_at = EXCLUDED.updated_at "
            f"WHERE {new} IS DISTINCT FROM {old} "
            "RETURNING xmax = 0 AS created) "
            "SELECT count(*) FILTER (WHERE created), count(*) FILTER (WHERE NOT created), "
            f"(SELECT count(*) FROM {STAGE}) FROM written",
            [now, now],
        )
        created, updated, staged = cursor.fetchone()
    return created, updated, staged - created - updated


def subscribe(target: List, now: datetime, source: str) -> tuple[int, int]:
    """Subscribe the staged people to `target`: (newly subscribed, kept unsubscribed).

    One statement: pending subscriptions (double opt-in, unconfirmed) become subscribed and
    confirmed by the import, people without a subscription get one, and people who had
    unsubscribed are only counted: leaving a list is the person's decision."""
    params = {
        "list": target.pk,
        "now": now,
        # An import vouches for consent, so on a double opt-in list its rows count as confirmed.
        "confirmed": now if target.is_double_opt_in else None,
        "subscribed": Subscription.Status.SUBSCRIBED.value,
        "pending": Subscription.Status.PENDING.value,
        "unsubscribed": Subscription.Status.UNSUBSCRIBED.value,
        "source": source,
    }
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH people AS MATERIALIZED ("
            f"SELECT r.id, sub.status FROM {STAGE} s JOIN {RECIPIENT} r ON r.email = s.email "
            f"LEFT JOIN {SUBSCRIPTION} sub ON sub.recipient_id = r.id "
            "AND sub.list_id = %(list)s), "
            f"confirmed AS (UPDATE {SUBSCRIPTION} sub SET status = %(subscribed)s, "
            "source = %(source)s, subscribed_at = %(now)s, confirmed_at = %(now)s, "
            "updated_at = %(now)s FROM people p WHERE p.status = %(pending)s "
            "AND sub.recipient_id = p.id AND sub.list_id = %(list)s RETURNING 1), "
            # Only people with no subscription at all: the UPDATE above and this INSERT never
            # touch the same row. ON CONFLICT covers a subscription made meanwhile.
            f"added AS (INSERT INTO {SUBSCRIPTION} (recipient_id, list_id, status, source, "
            "subscribed_at, confirmed_at, created_at, updated_at) "
            "SELECT p.id, %(list)s, %(subscribed)s, %(source)s, %(now)s, %(confirmed)s, "
            "%(now)s, %(now)s FROM people p WHERE p.status IS NULL "
            "ON CONFLICT (recipient_id, list_id) DO NOTHING RETURNING 1) "
            "SELECT (SELECT count(*) FROM confirmed) + (SELECT count(*) FROM added), "
            "(SELECT count(*) FROM people WHERE status = %(unsubscribed)s)",
            params,
        )
        return cursor.fetchone()


def write_new_and_changed(target: List, now: datetime, source: str) -> tuple[int, ...]:
    """`upsert_recipients` and `subscribe` in one statement, without ON CONFLICT:
    (created, updated, unchanged, newly subscribed, kept unsubscribed).

    Changed rows are UPDATEd, missing ones INSERTed plainly, and the people's ids come from
    the INSERT's RETURNING (new people) and the statement's snapshot (everyone else), so the
    staged emails are looked up once, not twice. A plain INSERT skips the speculative
    insertion of ON CONFLICT (an extra index probe and WAL record per row, ~30 % of the
    insert on this machine). If another transaction adds one of these people or
    subscriptions meanwhile, this raises IntegrityError (a unique violation): the writer
    runs it inside a savepoint and falls back to `upsert_recipients` and `subscribe`."""
    params = {
        "list": target.pk,
        "now": now,
        "confirmed": now if target.is_double_opt_in else None,
        "subscribed": Subscription.Status.SUBSCRIBED.value,
        "pending": Subscription.Status.PENDING.value,
        "unsubscribed": Subscription.Status.UNSUBSCRIBED.value,
        "source": source,
    }
    merged = {
        "first_name": "COALESCE(NULLIF(s.first_name, ''), r.first_name)",
        "last_name": "COALESCE(NULLIF(s.last_name, ''), r.last_name)",
        "external_id": "COALESCE(s.external_id, r.external_id)",
        "attributes": "r.attributes || s.attributes",
    }
    new = "(" + ", ".join(merged.values()) + ")"
    old = "(" + ", ".join(f"r.{column}" for column in merged) + ")"
    sets = ", ".join(f"{column} = f.{column}" for column in merged)
    with connection.cursor() as cursor:
        cursor.execute(
            # Every staged row with the id and the merged values of the person it names, if
            # any: the one lookup of the staged emails. Every CTE sees the snapshot taken
            # before the statement, so the UPDATE and the INSERT below never meet.
            "WITH found AS MATERIALIZED (SELECT s.email, s.first_name AS new_first_name, "
            "s.last_name AS new_last_name, s.external_id AS new_external_id, "
            "s.attributes AS new_attributes, s.token, r.id, "
            + ", ".join(f"{value} AS {column}" for column, value in merged.items())
            + f", {new} IS DISTINCT FROM {old} AS differs "
            # One probe of the email index per staged row (LATERAL … LIMIT 1 keeps it a
            # nested loop; email is unique): a join would hash the whole table for every
            # chunk, the more the larger the table.
            f"FROM {STAGE} s LEFT JOIN LATERAL (SELECT r.id, r.first_name, r.last_name, "
            f"r.external_id, r.attributes FROM {RECIPIENT} r WHERE r.email = s.email LIMIT 1) r "
            "ON true), "
            # Existing people whose row changes; unchanged rows are not written at all, and
            # the token and created_at of an existing row never change.
            f"changed AS (UPDATE {RECIPIENT} r SET {sets}, updated_at = %(now)s "
            "FROM found f WHERE f.id IS NOT NULL AND f.differs AND r.id = f.id RETURNING 1), "
            f"created AS (INSERT INTO {RECIPIENT} (email, first_name, last_name, external_id, "
            "attributes, unsubscribe_token, created_at, updated_at) "
            "SELECT email, new_first_name, new_last_name, new_external_id, new_attributes, "
            "token, %(now)s, %(now)s FROM found WHERE id IS NULL RETURNING id), "
            # A new person has no subscription yet.
            "people AS MATERIALIZED (SELECT id, NULL::varchar AS status FROM created "
            # Probed per person too, not a hash of the list's every subscription.
            "UNION ALL SELECT f.id, sub.status FROM found f LEFT JOIN LATERAL (SELECT "
            f"sub.status FROM {SUBSCRIPTION} sub WHERE sub.recipient_id = f.id "
            "AND sub.list_id = %(list)s LIMIT 1) sub ON true WHERE f.id IS NOT NULL), "
            f"confirmed AS (UPDATE {SUBSCRIPTION} sub SET status = %(subscribed)s, "
            "source = %(source)s, subscribed_at = %(now)s, confirmed_at = %(now)s, "
            "updated_at = %(now)s FROM people p WHERE p.status = %(pending)s "
            "AND sub.recipient_id = p.id AND sub.list_id = %(list)s RETURNING 1), "
            f"added AS (INSERT INTO {SUBSCRIPTION} (recipient_id, list_id, status, source, "
            "subscribed_at, confirmed_at, created_at, updated_at) "
            "SELECT p.id, %(list)s, %(subscribed)s, %(source)s, %(now)s, %(confirmed)s, "
            "%(now)s, %(now)s FROM people p WHERE p.status IS NULL RETURNING 1) "
            "SELECT (SELECT count(*) FROM created), (SELECT count(*) FROM changed), "
            "(SELECT count(*) FROM found), "
            "(SELECT count(*) FROM confirmed) + (SELECT count(*) FROM added), "
            "(SELECT count(*) FROM people WHERE status = %(unsubscribed)s)",
            params,
        )
        created, updated, staged, subscribed, kept = cursor.fetchone()
    return created, updated, staged - created - updated, subscribed, kept
