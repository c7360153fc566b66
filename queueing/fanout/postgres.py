"""PostgreSQL: a fan-out chunk in one statement, on the server.

INSERT … SELECT over the audience query: no recipient row travels to Python and back, which
is what makes a million recipients a matter of a minute (see docs/CAMPAIGNS.md). Values every
message shares are taken from the prototype Message, field by field, so a column added to
Message later cannot be forgotten here. A plain INSERT in a savepoint, redone with ON
CONFLICT DO NOTHING if a row exists already, keeps re-runs harmless.
"""

from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from queueing.models import Message

# Per-row values, computed from the chunk's recipient (r.id, r.email).
PER_ROW = {
    "uuid": "gen_random_uuid()",
    "idempotency_key": "%(key_prefix)s || r.id",
    "to": "jsonb_build_array(r.email)",
    # Recipients' addresses are canonical (lower-case, no name), the search form already.
    "to_address": "r.email",
    "recipient_id": "r.id",
}


def insert_chunk(
    prototype: Message, recipients: QuerySet, size: int, key_prefix: str
) -> tuple[int, int | None, int]:
    now = timezone.now()
    prototype.queued_at = now
    columns, values, params = [], [], {"key_prefix": key_prefix}
    for field in Message._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(connection.ops.quote_name(field.column))
        if field.attname in PER_ROW:
            values.append(PER_ROW[field.attname])
            continue
        value = (
            now
            if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
            else getattr(prototype, field.attname)
        )
        params[field.attname] = field.get_db_prep_save(value, connection)
        values.append(f"%({field.attname})s")
    chunk_sql, chunk_params = recipients.values("id", "email")[:size].query.sql_with_params()
    # The chunk query uses positional placeholders; turn them into named ones.
    for i, value in enumerate(chunk_params):
        params[f"chunk{i}"] = value
    chunk_sql = chunk_sql % tuple(f"%(chunk{i})s" for i in range(len(chunk_params)))
    table = connection.ops.quote_name(Message._meta.db_table)

    def statement(on_conflict: str) -> str:
        return (
            f"WITH chunk AS MATERIALIZED ({chunk_sql}), "
            f"added AS (INSERT INTO {table} ({', '.join(columns)}) "
            f"SELECT {', '.join(values)} FROM chunk r ORDER BY r.id "
            f"{on_conflict} RETURNING 1) "
            "SELECT (SELECT count(*) FROM chunk), (SELECT max(id) FROM chunk), "
            "(SELECT count(*) FROM added)"
        )

    with connection.cursor() as cursor:
        try:
            # A plain INSERT first: a chunk's rows are almost never there already (the cursor
            # moves in the chunk's own transaction), and ON CONFLICT's speculative insertion
            # costs an extra index probe and WAL record per row. In a savepoint, so that a
            # re-run over rows that exist (a reset cursor, two runs racing) takes the slow way.
            with transaction.atomic():
                cursor.execute(statement(""), params)
        except IntegrityError:
            cursor.execute(statement("ON CONFLICT DO NOTHING"), params)
        seen, last_id, inserted = cursor.fetchone()
    return seen, last_id, inserted
