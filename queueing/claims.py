"""Taking work: conditional updates that only one worker can win.

A claim moves rows queued → sending with a fresh token and a lease. On PostgreSQL the rows are
picked with FOR UPDATE SKIP LOCKED, so concurrent workers take disjoint sets without waiting;
on SQLite the IMMEDIATE transaction serialises writers, which gives the same result.
"""

import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from queueing.bulk_sql import update_rows
from queueing.models import BatchStatus, Message, MessageStatus, SendBatch
from queueing.rendering import CONTENT_COLUMNS, content_values

MAX_BATCH = 100


@dataclass
class MessageClaim:
    """One message held for a single /emails call under its own key."""

    message: Message
    token: uuid.UUID


@dataclass
class BatchClaim:
    """A frozen batch held for one /emails/batch call; members in request order."""

    batch: SendBatch
    token: uuid.UUID
    members: list[Message] = field(default_factory=list)


def lease_end(now: datetime) -> datetime:
    return now + timedelta(seconds=settings.MAILHUB_LEASE_SECONDS)


def due(now: datetime) -> Q:
    return Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)


def claimable_messages(priority: str, now: datetime):
    """Queued, due, not frozen into a batch, and not held back by a campaign that is not
    sending (draft, scheduled, paused, cancelled)."""
    return (
        Message.objects.filter(status=MessageStatus.QUEUED, priority=priority, batch__isnull=True)
        .filter(due(now))
        # Test sends go whatever the campaign's state; real campaign mail only while it sends.
        .filter(Q(campaign__isnull=True) | Q(is_test=True) | Q(campaign__status="sending"))
    )


# Where this process's last claim of each kind (priority, alone) ended, and since when it
# walks on from there. Claimed rows leave the queued index only as dead entries until VACUUM
# removes them; during a long campaign a scan from the index's start would walk over every
# message already claimed. Starting after the last claimed id skips them. Rows behind the
# cursor (a release, a retry coming due) are found by a scan from the start, made whenever
# the cursor finds nothing and at least every CURSOR_RESTART_SECONDS.
CURSOR_RESTART_SECONDS = 5.0
_cursors: dict[tuple[str, bool], tuple[int, float]] = {}


def claim_messages(
    priority: str, *, alone: bool, limit: int, worker: str
) -> tuple[uuid.UUID, list[Message]]:
    """Claim up to `limit` due messages (only send-alone ones if `alone`), oldest first
    (from this process's cursor on, see above)."""
    key = (priority, alone)
    after, since = _cursors.get(key, (0, 0.0))
    if time.monotonic() - since > CURSOR_RESTART_SECONDS:
        after = 0
    token, claimed = _claim(priority, alone=alone, limit=limit, worker=worker, after=after)
    if not claimed and after:
        after = 0
        token, claimed = _claim(priority, alone=alone, limit=limit, worker=worker, after=0)
    since = time.monotonic() if after == 0 else since
    _cursors[key] = (claimed[-1].pk if claimed else 0, since)
    return token, claimed


def _claim(
    priority: str, *, alone: bool, limit: int, worker: str, after: int
) -> tuple[uuid.UUID, list[Message]]:
    """One statement: pick the due rows (SKIP LOCKED on PostgreSQL), UPDATE them, RETURNING
    the claimed rows, so a claim costs one round trip and no re-read."""
    now = timezone.now()
    token = uuid.uuid4()
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


def _claim_sql(picked, *, token: uuid.UUID, worker: str, now: datetime) -> tuple[str, list]:
    """The claim statement; compiled inside the transaction (the ORM refuses to compile a
    SELECT … FOR UPDATE outside one)."""
    quote = connection.ops.quote_name
    pick_sql, pick_params = picked.query.sql_with_params()
    assignments = {
        "status": MessageStatus.SENDING,
        "claim_token": token,
        "claimed_by": worker[:255],
        "lease_expires_at": lease_end(now),
        "updated_at": now,
    }
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


def freeze_batch(
    token: uuid.UUID, members: list[Message], *, worker: str, rendered: list[Message]
) -> BatchClaim:
    """Fix members, order and key of a batch before its first call, and store the content
    rendered for it in the same statement: from here on the request body is fixed."""
    now = timezone.now()
    with transaction.atomic():
        batch = SendBatch.objects.create(
            idempotency_key=f"mailhub-batch-{uuid.uuid4()}",
            priority=members[0].priority,
            status=BatchStatus.SENDING,
            member_ids=[m.pk for m in members],
            size=len(members),
            attempts=1,
            max_attempts=max(m.max_attempts for m in members),
            first_attempt_at=now,
            claim_token=token,
            claimed_by=worker[:255],
            lease_expires_at=lease_end(now),
        )
        owned = {"claim_token": token, "status": MessageStatus.SENDING}
        just_rendered = {m.pk for m in rendered}
        update_rows(
            Message,
            ("batch", *CONTENT_COLUMNS),
            {m.pk: (batch.pk, *content_values(m)) for m in members if m.pk in just_rendered},
            set_also={"lease_expires_at": None},
            where=owned,
        )
        Message.objects.filter(
            pk__in=[m.pk for m in members if m.pk not in just_rendered], **owned
        ).update(batch=batch, lease_expires_at=None)
    for m in members:
        m.batch = batch
    return BatchClaim(batch=batch, token=token, members=members)


def hold_alone(token: uuid.UUID, message: Message, *, rendered: bool) -> None:
    """This message goes out alone under its own key: mark it so for every later attempt
    (it must never join a batch after a call that may have been accepted), and store the
    content rendered for it."""
    owned = {"claim_token": token, "status": MessageStatus.SENDING}
    if rendered:
        update_rows(
            Message,
            CONTENT_COLUMNS,
            {message.pk: content_values(message)},
            set_also={"send_alone": True},
            where=owned,
        )
    elif not message.send_alone:
        Message.objects.filter(pk=message.pk, **owned).update(send_alone=True)
    message.send_alone = True


def claim_due_batch(priority: str, *, worker: str) -> BatchClaim | None:
    """Claim a frozen batch whose retry is due, with its members in request order."""
    now = timezone.now()
    token = uuid.uuid4()
    with transaction.atomic():
        batch = (
            SendBatch.objects.filter(status=BatchStatus.QUEUED, priority=priority)
            .filter(due(now))
            .order_by("next_attempt_at", "id")
            .select_for_update(skip_locked=True)
            .first()
        )
        if batch is None:
            return None
        SendBatch.objects.filter(pk=batch.pk, status=BatchStatus.QUEUED).update(
            status=BatchStatus.SENDING,
            claim_token=token,
            claimed_by=worker[:255],
            lease_expires_at=lease_end(now),
            attempts=F("attempts") + 1,
        )
        batch.refresh_from_db()
        members = Message.objects.filter(
            pk__in=batch.member_ids, batch=batch, status=MessageStatus.QUEUED
        )
        members.update(status=MessageStatus.SENDING, attempts=F("attempts") + 1, updated_at=now)
        by_id = {m.pk: m for m in Message.objects.filter(pk__in=batch.member_ids, batch=batch)}
        members = [by_id[pk] for pk in batch.member_ids]
    return BatchClaim(batch=batch, token=token, members=members)
