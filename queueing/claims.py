"""Taking work: conditional updates that only one worker can win.

A claim moves rows queued → sending with a fresh token and a lease. On PostgreSQL the rows are
picked with FOR UPDATE SKIP LOCKED, so concurrent workers take disjoint sets without waiting;
on SQLite the IMMEDIATE transaction serialises writers, which gives the same result.
"""

import logging
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

log = logging.getLogger(__name__)

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
    return _from_cursor(
        (priority, alone),
        lambda after: _claim(priority, alone=alone, limit=limit, worker=worker, after=after),
    )


# On PostgreSQL a group of new messages is claimed in the transaction that freezes it: the
# rows are locked (FOR UPDATE SKIP LOCKED: other workers pass over them), rendered, and then
# written once, claim, batch and content together. Each write of a row is a new row version
# with an entry in every index of the table; claiming this way saves one of the three per
# email. SQLite has no row locks, and a transaction held open while rendering would stop
# every other writer, so there the claim is written first (claim_messages).
def claims_at_freeze() -> bool:
    return connection.vendor == "postgresql"


# The columns a claim sets (_claim_fields, and the attempt); held rows carry them in memory
# until they are stored.
CLAIM_COLUMNS = (
    "status", "claim_token", "claimed_by", "lease_expires_at", "updated_at", "attempts",
    "first_attempt_at",
)  # fmt: skip


def hold_messages(priority: str, *, limit: int, worker: str) -> tuple[uuid.UUID, list[Message]]:
    """Lock up to `limit` due messages that may join a batch and give them a claim in memory
    only; call inside a transaction, and store the claim before it ends (store_claims,
    freeze_batch or hold_alone with stored=False)."""
    if not connection.in_atomic_block:
        raise RuntimeError("hold_messages locks rows: call it inside transaction.atomic()")
    return _from_cursor(
        (priority, False), lambda after: _hold(priority, limit=limit, worker=worker, after=after)
    )


def _from_cursor(key: tuple[str, bool], take) -> tuple[uuid.UUID, list[Message]]:
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


def _hold(priority: str, *, limit: int, worker: str, after: int) -> tuple[uuid.UUID, list]:
    now = timezone.now()
    token = uuid.uuid4()
    held = list(
        claimable_messages(priority, now)
        .filter(send_alone=False, id__gt=after)
        .order_by("id")
        .select_for_update(skip_locked=True, of=("self",))[:limit]
    )
    fields = _claim_fields(token, worker, now)
    for message in held:  # what _claim_sql's statement sets, in memory
        for name, value in fields.items():
            setattr(message, name, value)
        message.attempts += 1
        message.first_attempt_at = message.first_attempt_at or now
    return token, held


def _claim_fields(token: uuid.UUID, worker: str, now: datetime) -> dict:
    """The values a claim sets outright (it also counts an attempt and sets the first
    attempt's time if unset); shared by the stored claim's statement and held claims."""
    return {
        "status": MessageStatus.SENDING,
        "claim_token": token,
        "claimed_by": worker[:255],
        "lease_expires_at": lease_end(now),
        "updated_at": now,
    }


def _claim_values(message: Message) -> tuple:
    return tuple(getattr(message, column) for column in CLAIM_COLUMNS)


def _store_held(messages: list[Message], columns: tuple[str, ...], values) -> None:
    """Write held rows (claim columns first); they are locked by this transaction, so each
    is still queued."""
    changed = update_rows(
        Message,
        (*CLAIM_COLUMNS, *columns),
        {m.pk: (*_claim_values(m), *values(m)) for m in messages},
        where={"status": MessageStatus.QUEUED},
    )
    if changed != len(messages):  # pragma: no cover - the rows are locked
        raise RuntimeError(f"stored {changed} of {len(messages)} held claims")


def store_claims(messages: list[Message]) -> None:
    """Store the claim of held messages as they are (before recording why they do not go)."""
    _store_held(messages, (), lambda m: ())


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


def _claim_sql(picked, *, token: uuid.UUID, worker: str, now: datetime) -> tuple[str, list]:
    """The claim statement; compiled inside the transaction (the ORM refuses to compile a
    SELECT … FOR UPDATE outside one)."""
    quote = connection.ops.quote_name
    pick_sql, pick_params = picked.query.sql_with_params()
    assignments = _claim_fields(token, worker, now)
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
    token: uuid.UUID,
    members: list[Message],
    *,
    worker: str,
    rendered: list[Message],
    stored: bool = True,
) -> BatchClaim:
    """Fix members, order and key of a batch before its first call, and store the content
    rendered for it in the same statement: from here on the request body is fixed. Held
    members (`stored=False`) get their claim in that statement too."""
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
        if not stored:
            for m in members:
                m.lease_expires_at = None  # the batch holds the lease
                m.batch = batch
            _store_held(
                members, ("batch", *CONTENT_COLUMNS), lambda m: (batch.pk, *content_values(m))
            )
            return BatchClaim(batch=batch, token=token, members=members)
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


def hold_alone(token: uuid.UUID, message: Message, *, rendered: bool, stored: bool = True) -> None:
    """This message goes out alone under its own key: mark it so for every later attempt
    (it must never join a batch after a call that may have been accepted), and store the
    content rendered for it (and its claim, if it was held)."""
    if not stored:
        message.send_alone = True
        _store_held(
            [message], ("send_alone", *CONTENT_COLUMNS), lambda m: (True, *content_values(m))
        )
        return
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
