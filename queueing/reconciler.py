"""Rebuilds the queue from the Message table, so that Redis is never the only copy.

One pass:
1. releases scheduled messages that are due (scheduled → queued, enqueued);
2. returns "sending" messages whose lease ran out (a worker died) to queued;
3. enqueues due queued messages whose expected job is not alive in Redis (Redis flushed or
   unreachable at accept time, a retry whose time has come, a job killed before its claim).

Each step is a bounded amount of work; a cursor walks the queued rows across passes so a large
backlog is covered without reading it all every few seconds.
"""

import logging
import time
from dataclasses import dataclass
from datetime import UTC, timedelta

import redis
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from rq.utils import utcparse

from queueing.connection import get_redis
from queueing.enqueue import DeliveryRef, delivery_job_id, enqueue_deliveries
from queueing.models import EventKind, FailureCode, Message, MessageEvent, MessageStatus

log = logging.getLogger(__name__)

CURSOR_KEY = "mailhub:reconciler:queued_cursor"
LOCK_KEY = "mailhub:reconciler:lock"
BATCH = 2000
# A queued row younger than this may still be waiting for its on-commit enqueue.
FRESH_ROW_GRACE = timedelta(seconds=3)
ALIVE_STATUSES = {b"queued", b"scheduled", b"deferred"}


@dataclass
class ReconcileReport:
    released: int = 0
    lease_expired: int = 0
    worker_lost: int = 0
    requeued: int = 0

    def __bool__(self) -> bool:
        return any((self.released, self.lease_expired, self.worker_lost, self.requeued))


def try_reconcile(owner: str) -> ReconcileReport | None:
    """Run one pass unless another worker ran one within the interval (fleet-wide lock)."""
    interval_ms = int(settings.MAILHUB_RECONCILE_INTERVAL * 1000)
    try:
        if not get_redis().set(LOCK_KEY, owner, nx=True, px=max(interval_ms, 100)):
            return None
    except redis.RedisError:
        pass  # without Redis nothing can be enqueued anyway; still fix the rows
    return reconcile()


def reconcile() -> ReconcileReport:
    report = ReconcileReport()
    report.released = release_due_scheduled()
    report.lease_expired, report.worker_lost = recover_expired_leases()
    report.requeued = requeue_orphans()
    if report:
        log.info("Reconciler: %s", report)
    return report


def release_due_scheduled() -> int:
    now = timezone.now()
    rows = list(
        Message.objects.filter(status=MessageStatus.SCHEDULED, scheduled_at__lte=now)
        .order_by("scheduled_at")
        .values_list("id", "priority", "attempts")[:BATCH]
    )
    if not rows:
        return 0
    ids = [row[0] for row in rows]
    with transaction.atomic():
        Message.objects.filter(pk__in=ids, status=MessageStatus.SCHEDULED).update(
            status=MessageStatus.QUEUED, queued_at=now, next_attempt_at=None, updated_at=now
        )
        released = set(
            Message.objects.filter(
                pk__in=ids, status=MessageStatus.QUEUED, queued_at=now
            ).values_list("id", flat=True)
        )
        MessageEvent.objects.bulk_create(
            MessageEvent(message_id=pk, kind=EventKind.QUEUED, detail="scheduled time reached")
            for pk in released
        )
    enqueue_deliveries(DeliveryRef(pk, prio, att) for pk, prio, att in rows if pk in released)
    return len(released)


def recover_expired_leases() -> tuple[int, int]:
    now = timezone.now()
    rows = list(
        Message.objects.filter(status=MessageStatus.SENDING, lease_expires_at__lt=now).values_list(
            "id", "priority", "attempts", "max_attempts", "claim_token"
        )[:BATCH]
    )
    requeued: list[DeliveryRef] = []
    lost = 0
    for pk, priority, attempts, max_attempts, token in rows:
        owned = Message.objects.filter(pk=pk, status=MessageStatus.SENDING, claim_token=token)
        with transaction.atomic():
            if attempts >= max_attempts:
                error = (
                    f"the worker holding attempt {attempts} of {max_attempts} stopped before "
                    "recording an outcome"
                )
                if owned.update(
                    status=MessageStatus.FAILED,
                    failure_code=FailureCode.WORKER_LOST,
                    last_error=error,
                    claim_token=None,
                    lease_expires_at=None,
                    updated_at=now,
                ):
                    MessageEvent.objects.create(message_id=pk, kind=EventKind.FAILED, detail=error)
                    lost += 1
                continue
            if owned.update(
                status=MessageStatus.QUEUED,
                next_attempt_at=now,
                claim_token=None,
                lease_expires_at=None,
                updated_at=now,
            ):
                MessageEvent.objects.create(
                    message_id=pk,
                    kind=EventKind.LEASE_EXPIRED,
                    detail=f"lease of attempt {attempts} ran out; queued again",
                )
                requeued.append(DeliveryRef(pk, priority, attempts))
    enqueue_deliveries(requeued)
    return len(requeued), lost


def requeue_orphans() -> int:
    """Enqueue due queued rows whose expected job is missing or dead in Redis."""
    now = timezone.now()
    try:
        connection = get_redis()
        cursor = int(connection.get(CURSOR_KEY) or 0)
    except redis.RedisError as exc:
        log.warning("Reconciler cannot reach Redis, nothing enqueued this pass: %s", exc)
        return 0
    # Retries (next_attempt_at set) are enqueued by nobody else; fresh rows get a moment for
    # their on-commit enqueue.
    due = Message.objects.filter(status=MessageStatus.QUEUED).filter(
        Q(next_attempt_at__isnull=True, updated_at__lt=now - FRESH_ROW_GRACE)
        | Q(next_attempt_at__lte=now)
    )
    rows = list(
        due.filter(pk__gt=cursor).order_by("pk").values_list("id", "priority", "attempts")[:BATCH]
    )
    # Walk on next time; start again from the beginning once the end is reached.
    next_cursor = rows[-1][0] if len(rows) == BATCH else 0
    try:
        connection.set(CURSOR_KEY, next_cursor)
        missing = _rows_without_live_job(connection, rows)
    except redis.RedisError as exc:
        log.warning("Reconciler cannot reach Redis, nothing enqueued this pass: %s", exc)
        return 0
    return enqueue_deliveries(DeliveryRef(pk, prio, att) for pk, prio, att in missing)


def _rows_without_live_job(connection: redis.Redis, rows: list[tuple]) -> list[tuple]:
    if not rows:
        return []
    with connection.pipeline(transaction=False) as pipe:
        for pk, _priority, attempts in rows:
            pipe.hmget(f"rq:job:{delivery_job_id(pk, attempts)}", "status", "started_at")
        states = pipe.execute()
    stale_start = time.time() - settings.MAILHUB_LEASE_SECONDS / 2
    missing = []
    for row, (status, started_at) in zip(rows, states, strict=True):
        if status in ALIVE_STATUSES:
            continue
        # A job that started but never claimed its queued row died before its claim.
        if status == b"started" and _epoch(started_at) > stale_start:
            continue
        missing.append(row)
    return missing


def _epoch(raw: bytes | None) -> float:
    if not raw:
        return 0.0
    try:
        parsed = utcparse(raw.decode())
    except ValueError:
        return 0.0
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()
