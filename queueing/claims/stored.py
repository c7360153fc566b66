"""The stored claim: one statement claims the rows, on every database.

Pick the due rows (FOR UPDATE SKIP LOCKED on PostgreSQL, so concurrent workers take disjoint
sets without waiting; on SQLite the IMMEDIATE transaction serialises writers, which gives the
same result), UPDATE them, RETURNING the claimed rows: one round trip and no re-read.
"""

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime

from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from queueing import state_machine
from queueing.claims.base import claim_fields, claimable_messages
from queueing.models import Message, MessageStatus

log = logging.getLogger("queueing.claims")

# Where this process's last claim of each kind (priority, alone) ended, and since when it
# walks on from there. Claimed rows leave the queued index only as dead entries until VACUUM
# removes them; during a long campaign a scan from the index's start would walk over every
# message already claimed. Starting after the last claimed id skips them. Rows behind the
# cursor (a release, a retry coming due) are found by a scan from the start, made whenever
# the cursor finds nothing and at least every CURSOR_RESTART_SECONDS.
CURSOR_RESTART_SECONDS = 5.0
_cursors: dict[tuple[str, bool], tuple[int, float]] = {}


def claim_messages(
    priority: str, *, alone: bool, limit: int, worker: str, token: uuid.UUID | None = None
) -> tuple[uuid.UUID, list[Message]]:
    """Claim up to `limit` due messages (only send-alone ones if `alone`), oldest first
    (from this process's cursor on, see above), under `token` (a new one if None)."""
    token = token or uuid.uuid4()
    return from_cursor(
        (priority, alone),
        lambda after: _claim(
            priority, alone=alone, limit=limit, worker=worker, after=after, token=token
        ),
    )


def from_cursor(
    key: tuple[str, bool], take: Callable[[int], tuple[uuid.UUID, list[Message]]]
) -> tuple[uuid.UUID, list[Message]]:
    after, since = _cursors.get(key, (0, 0.0))
    if time.monotonic() - since > CURSOR_RESTART_SECONDS:
        after = 0
    token, claimed = take(after)
    if not claimed and after:
        after = 0
        token, claimed = take(0)
    since = time.monotonic() if after == 0 else since
    _cursors[key] = (claimed[-1].pk if claimed else 0, since)
    return token, claimed


def _claim(
    priority: str, *, alone: bool, limit: int, worker: str, after: int, token: uuid.UUID
) -> tuple[uuid.UUID, list[Message]]:
    """One statement: pick the due rows (SKIP LOCKED on PostgreSQL), UPDATE them, RETURNING
    the claimed rows, so a claim costs one round trip and no re-read."""
    now = timezone.now()
    picked = (
        claimable_messages(priority, now)
        .filter(send_alone=alone, id__gt=after)
        .order_by("id")
        .select_for_update(skip_locked=True, of=("self",))
        .values("id")[:limit]
    )
    with transaction.atomic():
        sql, params = _claim_sql(picked, token=token, worker=worker, now=now)
        claimed = sorted(Message.objects.raw(sql, params), key=lambda m: m.pk)
    return token, claimed


def claim_after_failure(ids: list[int], *, worker: str) -> None:
    """Claim these still-queued messages with a lease, as a stored claim, after preparing
    them under a held claim failed. Never raises: the caller re-raises the failure itself."""
    if not ids:
        return
    picked = Message.objects.filter(pk__in=ids, status=MessageStatus.QUEUED).values("id")
    try:
        with transaction.atomic():
            sql, params = _claim_sql(picked, token=uuid.uuid4(), worker=worker, now=timezone.now())
            claimed = len(list(Message.objects.raw(sql, params)))
        log.warning("Preparing %d held messages failed; claimed them with a lease", claimed)
    except Exception:
        log.exception("Could not claim %d messages after a failed preparation", len(ids))


def _claim_sql(
    picked: QuerySet, *, token: uuid.UUID, worker: str, now: datetime
) -> tuple[str, list]:
    """The claim statement; compiled inside the transaction (the ORM refuses to compile a
    SELECT … FOR UPDATE outside one)."""
    quote = connection.ops.quote_name
    pick_sql, pick_params = picked.query.sql_with_params()
    state_machine.check(MessageStatus.QUEUED, MessageStatus.SENDING)
    assignments = claim_fields(token, worker, now)
    set_sql = ", ".join(f"{quote(name)} = %s" for name in assignments)
    # MATERIALIZED: the pick runs exactly once. As a plain IN (subquery), PostgreSQL may
    # run it again during the update, and with SKIP LOCKED a rerun picks other rows.
    sql = (
        f"WITH picked AS MATERIALIZED ({pick_sql}) "
        f"UPDATE {quote(Message._meta.db_table)} SET {set_sql}, "
        f"{quote('attempts')} = {quote('attempts')} + 1, "
        f"{quote('first_attempt_at')} = COALESCE({quote('first_attempt_at')}, %s) "
        f"WHERE {quote('id')} IN (SELECT id FROM picked) AND {quote('status')} = %s "
        "RETURNING *"
    )
    prep = {name: Message._meta.get_field(name).get_db_prep_save for name in assignments}
    params = [
        *pick_params,
        *(prep[name](value, connection) for name, value in assignments.items()),
        prep["updated_at"](now, connection),
        MessageStatus.QUEUED,
    ]
    return sql, params


def stored_group(
    priorities: Sequence[str], *, limit: int, worker: str, prepare: Callable[..., object]
) -> object | None:
    """Claim up to `limit` messages that may join a batch, the due ones of each priority in
    turn (`priorities` in order: the first's go first), store the claim at once, and hand
    them to `prepare(token, group, stored=True)`; None when nothing is due."""
    token, group = uuid.uuid4(), []
    with transaction.atomic():  # the group's claim is stored whole, or not at all
        for priority in priorities:
            if len(group) < limit:
                group += claim_messages(
                    priority, alone=False, limit=limit - len(group), worker=worker, token=token
                )[1]
    return prepare(token, group, stored=True) if group else None
