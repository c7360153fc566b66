"""Rebuilds the queue from the database, so that Redis is never the only copy.

One pass:
1. releases scheduled messages that are due (scheduled → queued), then runs the steps other
   apps registered (queueing.hooks.register_reconcile_step: campaigns start those whose time
   has come and resume fan-outs a crash interrupted);
2. returns single messages whose "sending" lease ran out (a worker died) to queued;
3. returns frozen batches whose lease ran out to queued, members and all (never alone);
4. asks for a drain of every queue that has due work, in case its signal was lost (Redis
   flushed or unreachable when the work was accepted, a retry whose time has come);
5. asks for webhook processing when stored webhooks have waited unprocessed longer than
   MAILHUB_EVENTS_STALE_SECONDS (their job lost with Redis, or a worker killed).

Every step is a bounded amount of work and safe to run from several workers at once.
"""

import logging
from dataclasses import dataclass, field
from datetime import timedelta

import redis
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from queueing import hooks, state_machine
from queueing.claims import has_due_work
from queueing.connection import get_redis
from queueing.enqueue import request_drain, request_event_processing
from queueing.events import add_events
from queueing.models import (
    BatchStatus,
    EventKind,
    FailureCode,
    Message,
    MessageStatus,
    Priority,
    ProviderWebhookEvent,
    SendBatch,
)
from queueing.recording.announce import notify_campaigns

log = logging.getLogger(__name__)

LOCK_KEY = "mailhub:reconciler:lock"
BATCH = 1000


@dataclass
class ReconcileReport:
    released: int = 0
    # Figures of the registered steps, by name (e.g. campaigns_started).
    steps: dict[str, int] = field(default_factory=dict)
    lease_expired: int = 0
    worker_lost: int = 0
    batches_recovered: int = 0
    drains_requested: int = 0
    events_requested: int = 0

    def __bool__(self) -> bool:
        return any(v for v in vars(self).values() if not isinstance(v, dict)) or any(
            self.steps.values()
        )


def try_reconcile(owner: str) -> ReconcileReport | None:
    """Run one pass unless another worker ran one within the interval (fleet-wide lock)."""
    interval_ms = int(settings.MAILHUB_RECONCILE_INTERVAL * 1000)
    try:
        if not get_redis().set(LOCK_KEY, owner, nx=True, px=max(interval_ms, 100)):
            return None
    except redis.RedisError:
        pass  # still fix the rows; nothing can be enqueued until Redis is back
    return reconcile()


def reconcile() -> ReconcileReport:
    report = ReconcileReport()
    report.released = release_due_scheduled()
    for name, step in hooks.reconcile_steps():
        try:
            report.steps.update(step())
        except Exception:
            # One app's step must not keep the queue's own recovery from running.
            log.exception("Reconciler step %r failed; the rest of the pass goes on", name)
    report.lease_expired, report.worker_lost = recover_expired_messages()
    report.batches_recovered = recover_expired_batches()
    report.drains_requested = request_drains_for_due_work()
    report.events_requested = request_processing_for_stale_events()
    if report:
        log.info("Reconciler: %s", report)
    return report


def release_due_scheduled() -> int:
    now = timezone.now()
    ids = list(
        Message.objects.filter(status=MessageStatus.SCHEDULED, scheduled_at__lte=now)
        .order_by("scheduled_at")
        .values_list("id", flat=True)[:BATCH]
    )
    if not ids:
        return 0
    with transaction.atomic():
        state_machine.move(
            Message.objects.filter(pk__in=ids),
            MessageStatus.QUEUED,
            from_=MessageStatus.SCHEDULED,
            queued_at=now,
            next_attempt_at=None,
            updated_at=now,
        )
        released = list(
            Message.objects.filter(
                pk__in=ids, status=MessageStatus.QUEUED, queued_at=now
            ).values_list("id", flat=True)
        )
        add_events((pk, EventKind.QUEUED, "scheduled time reached", {}) for pk in released)
    return len(released)


def recover_expired_messages() -> tuple[int, int]:
    now = timezone.now()
    rows = list(
        Message.objects.filter(
            status=MessageStatus.SENDING, batch__isnull=True, lease_expires_at__lt=now
        ).values_list("id", "attempts", "max_attempts", "claim_token")[:BATCH]
    )
    requeued = lost = 0
    for pk, attempts, max_attempts, token in rows:
        owned = Message.objects.filter(pk=pk, claim_token=token)
        cleared = {"claim_token": None, "lease_expires_at": None, "updated_at": now}
        with transaction.atomic():
            if attempts >= max_attempts:
                error = (
                    f"the worker holding attempt {attempts} of {max_attempts} stopped before "
                    "recording an outcome"
                )
                if state_machine.move(
                    owned,
                    MessageStatus.FAILED,
                    from_=MessageStatus.SENDING,
                    failure_code=FailureCode.WORKER_LOST,
                    last_error=error,
                    **cleared,
                ):
                    add_events([(pk, EventKind.FAILED, error, {})])
                    notify_campaigns(Message.objects.filter(pk=pk), MessageStatus.FAILED)
                    lost += 1
                continue
            if state_machine.move(
                owned,
                MessageStatus.QUEUED,
                from_=MessageStatus.SENDING,
                next_attempt_at=now,
                **cleared,
            ):
                detail = f"lease of attempt {attempts} ran out; queued again"
                add_events([(pk, EventKind.LEASE_EXPIRED, detail, {})])
                requeued += 1
    return requeued, lost


def recover_expired_batches() -> int:
    now = timezone.now()
    rows = list(
        SendBatch.objects.filter(status=BatchStatus.SENDING, lease_expires_at__lt=now).values_list(
            "id", "claim_token", "attempts"
        )[:BATCH]
    )
    recovered = 0
    for pk, token, attempts in rows:
        with transaction.atomic():
            if not state_machine.move_batch(
                SendBatch.objects.filter(pk=pk, claim_token=token),
                BatchStatus.QUEUED,
                from_=BatchStatus.SENDING,
                next_attempt_at=now,
                claim_token=None,
                lease_expires_at=None,
            ):
                continue
            members = Message.objects.filter(batch_id=pk, status=MessageStatus.SENDING)
            detail = f"lease of batch #{pk} attempt {attempts} ran out; the same batch goes again"
            add_events(
                (member_pk, EventKind.LEASE_EXPIRED, detail, {})
                for member_pk in members.values_list("id", flat=True)
            )
            state_machine.move(
                members,
                MessageStatus.QUEUED,
                from_=MessageStatus.SENDING,
                next_attempt_at=now,
                updated_at=now,
            )
            recovered += 1
    return recovered


def request_drains_for_due_work() -> int:
    now = timezone.now()
    requested = 0
    for priority in (Priority.TRANSACTIONAL, Priority.BULK):
        if has_due_work(priority, now) and request_drain(priority):
            requested += 1
    return requested


def request_processing_for_stale_events() -> int:
    """1 if unprocessed webhooks have waited too long and a processing job was enqueued."""
    waited = timezone.now() - timedelta(seconds=settings.MAILHUB_EVENTS_STALE_SECONDS)
    stale = ProviderWebhookEvent.objects.filter(
        processed_at__isnull=True,
        attempts__lt=settings.MAILHUB_EVENTS_MAX_ATTEMPTS,
        received_at__lte=waited,
    )
    return int(stale.exists() and request_event_processing())
