"""The purge's passes. Each walks its table in primary-key order, a few rows at a time
(MAILHUB_PURGE_BATCH_SIZE): the ids are picked by one short read (`… ORDER BY id LIMIT n`),
then changed in a transaction of their own that re-checks the condition, so no lock is held
for longer than one small batch and a row that changed meanwhile (a message retried) is left.

Never touched: messages still scheduled, queued or sending; suppressions (recipients' table,
not queueing's); raw webhook events not yet processed; campaign counters and daily figures
(they live on their own rows), and the message rows' status, addresses, subject, tags,
provider id, times and failure codes, which statistics, suppression causes and the timeline
need. Deleting (the `delete` pass) is the one exception, for rows past the longer age."""

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from queueing.api_idempotency import TTL as IDEMPOTENCY_TTL
from queueing.models import (
    PENDING_STATUSES,
    ApiIdempotencyKey,
    BatchStatus,
    DeliveryStatus,
    Message,
    MessageAttachment,
    MessageEvent,
    ProviderWebhookEvent,
    SendBatch,
    WebhookDelivery,
)
from queueing.retention.policy import PurgePolicy

FINAL_BATCH = (BatchStatus.DONE, BatchStatus.FAILED, BatchStatus.SPLIT)
FINAL_DELIVERY = (DeliveryStatus.DELIVERED, DeliveryStatus.FAILED)


@dataclass(frozen=True)
class Pass:
    name: str
    label: str  # what its count means, for the summary
    candidates: Callable[[PurgePolicy], QuerySet | None]  # None: the pass is off
    apply: Callable[[list[int], PurgePolicy], Counter]


@dataclass
class PassResult:
    name: str
    label: str
    rows: int = 0
    batches: int = 0
    also: Counter = field(default_factory=Counter)  # e.g. attachments deleted with them
    stopped: str = ""  # why it stopped before the end (time budget)


def _old_messages(before) -> QuerySet:
    return Message.objects.filter(created_at__lt=before).exclude(status__in=PENDING_STATUSES)


# --- messages past the longer age: deleted with their timeline and attachments ---


def _delete_candidates(policy: PurgePolicy) -> QuerySet | None:
    return None if policy.delete_before is None else _old_messages(policy.delete_before)


def _delete_apply(ids: list[int], policy: PurgePolicy) -> Counter:
    rows = _old_messages(policy.delete_before).filter(pk__in=ids)
    kept = list(rows.values_list("pk", flat=True))  # still final: locked by the deletes below
    events = MessageEvent.objects.filter(message_id__in=kept).delete()[0]
    attachments = MessageAttachment.objects.filter(message_id__in=kept).delete()[0]
    # Links to the messages from raw events and forwarded deliveries are cleared (SET_NULL).
    deleted = Message.objects.filter(pk__in=kept).delete()[1].get(Message._meta.label, 0)
    return Counter(rows=deleted, events=events, attachments=attachments)


# --- messages past the purge age: bodies, headers and attachments blanked ---


def _blank_candidates(policy: PurgePolicy) -> QuerySet:
    return _old_messages(policy.blank_before).filter(content_purged_at__isnull=True)


def _blank_apply(ids: list[int], policy: PurgePolicy) -> Counter:
    rows = _blank_candidates(policy).filter(pk__in=ids)
    kept = list(rows.select_for_update().values_list("pk", flat=True))
    attachments = MessageAttachment.objects.filter(message_id__in=kept).delete()[0]
    blanked = Message.objects.filter(pk__in=kept).update(
        html="", text="", headers={}, content_purged_at=timezone.now()
    )
    return Counter(rows=blanked, attachments=attachments)


# --- frozen batches that finished long ago ---


def _batch_candidates(policy: PurgePolicy) -> QuerySet:
    return SendBatch.objects.filter(created_at__lt=policy.blank_before, status__in=FINAL_BATCH)


def _batch_apply(ids: list[int], policy: PurgePolicy) -> Counter:
    """Members are found by the batch's own member_ids (primary-key lookups: Message.batch
    has no index outside flight) and let go of the batch; then the batch row goes, by plain
    SQL (Message.batch has no database constraint for this reason: checking one would scan
    the message table for every batch deleted)."""
    batches = dict(_batch_candidates(policy).filter(pk__in=ids).values_list("pk", "member_ids"))
    members = [m for member_ids in batches.values() for m in member_ids]
    # A batch member that failed stays refused for retry once detached: past the retry
    # window (its first attempt was months ago), message_retry refuses it.
    detached = (
        Message.objects.filter(pk__in=members, batch_id__in=list(batches))
        .exclude(status__in=PENDING_STATUSES)
        .update(batch=None)
    )
    held = set(
        Message.objects.filter(pk__in=members, batch_id__in=list(batches)).values_list(
            "batch_id", flat=True
        )
    )
    gone = [pk for pk in batches if pk not in held]
    if gone:
        table = connection.ops.quote_name(SendBatch._meta.db_table)
        with connection.cursor() as cursor:
            marks = ", ".join(["%s"] * len(gone))
            cursor.execute(f"DELETE FROM {table} WHERE id IN ({marks})", gone)
    return Counter(rows=len(gone), members_detached=detached)


# --- raw webhook events once processed, forwarded deliveries once finished ---


def _webhook_candidates(policy: PurgePolicy) -> QuerySet:
    return ProviderWebhookEvent.objects.filter(
        processed_at__isnull=False, received_at__lt=policy.webhook_events_before
    )


def _webhook_apply(ids: list[int], policy: PurgePolicy) -> Counter:
    return Counter(rows=_webhook_candidates(policy).filter(pk__in=ids).delete()[0])


def _delivery_candidates(policy: PurgePolicy) -> QuerySet:
    return WebhookDelivery.objects.filter(
        status__in=FINAL_DELIVERY, created_at__lt=policy.webhook_events_before
    )


def _delivery_apply(ids: list[int], policy: PurgePolicy) -> Counter:
    return Counter(rows=_delivery_candidates(policy).filter(pk__in=ids).delete()[0])


# --- the HTTP API's idempotency records past their 24 hours ---


def _idempotency_candidates(policy: PurgePolicy) -> QuerySet:
    return ApiIdempotencyKey.objects.filter(created_at__lt=timezone.now() - IDEMPOTENCY_TTL)


def _idempotency_apply(ids: list[int], policy: PurgePolicy) -> Counter:
    return Counter(rows=_idempotency_candidates(policy).filter(pk__in=ids).delete()[0])


# In this order: rows about to be deleted are not blanked first; batches go once their
# members are deleted or blanked.
PASSES = (
    Pass("delete", "messages deleted", _delete_candidates, _delete_apply),
    Pass("blank", "messages blanked", _blank_candidates, _blank_apply),
    Pass("batches", "send batches deleted", _batch_candidates, _batch_apply),
    Pass("webhook_events", "processed webhook events deleted", _webhook_candidates, _webhook_apply),
    Pass("webhook_deliveries", "finished webhook deliveries deleted", _delivery_candidates,
         _delivery_apply),
    Pass("idempotency_keys", "API idempotency records deleted", _idempotency_candidates,
         _idempotency_apply),
)  # fmt: skip


def count(p: Pass, policy: PurgePolicy) -> int:
    """How many rows the pass would take now (for --dry-run and the progress bar)."""
    rows = p.candidates(policy)
    return 0 if rows is None else rows.count()


def run_pass(
    p: Pass,
    policy: PurgePolicy,
    *,
    after_batch: Callable[[int], None] = lambda n: None,
    deadline: float | None = None,
) -> PassResult:
    """Walk the pass's rows in primary-key order, a batch per transaction. `after_batch` is
    called with each batch's size (progress, the lock's renewal); `deadline` (monotonic) stops
    it between batches."""
    result = PassResult(p.name, p.label)
    rows = p.candidates(policy)
    if rows is None:
        return result
    last = 0
    while True:
        if deadline is not None and time.monotonic() > deadline:
            result.stopped = "time budget used up; the next run goes on"
            return result
        ids = list(
            rows.filter(pk__gt=last)
            .order_by("pk")
            .values_list("pk", flat=True)[: policy.batch_size]
        )
        if not ids:
            return result
        with transaction.atomic():
            counts = p.apply(ids, policy)
        result.rows += counts.pop("rows", 0)
        result.also.update(counts)
        result.batches += 1
        last = ids[-1]
        after_batch(len(ids))
        if policy.pause_seconds:
            time.sleep(policy.pause_seconds)
