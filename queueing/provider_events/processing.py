"""Processing stored webhooks in the workers, a bounded batch per transaction.

A batch is the oldest unprocessed rows, locked with SKIP LOCKED on PostgreSQL so that two
workers never take the same one (SQLite has one writer at a time). It is applied
(queueing.provider_events.apply), announced to every registered listener
(queueing.hooks.event_listeners) and marked processed, all in that one transaction: what a
listener writes commits or rolls back with the events. If anything raises, the batch is
applied again one event at a time (each in a savepoint), so one bad event cannot hold back
the others: the bad one keeps its error on its row and is tried again by later jobs until
MAILHUB_EVENTS_MAX_ATTEMPTS, then waits for `manage.py reprocess_webhook_events`.
"""

import logging
import time
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import F, QuerySet

from queueing import hooks
from queueing.enqueue import late_events_window_left, request_event_processing
from queueing.metrics import catalogue
from queueing.metrics import tally as metrics
from queueing.models import ProviderWebhookEvent
from queueing.provider_events.apply import apply_batch
from queueing.recording.announce import notifications_combined

log = logging.getLogger(__name__)

BUDGET_SECONDS = 10.0  # then the job asks for another one, as a drain does


@dataclass
class ProcessReport:
    processed: int = 0
    failed: int = 0
    errors: dict[int, str] = field(default_factory=dict)  # raw event id → error


def pending(only: Collection[int] | None = None) -> QuerySet[ProviderWebhookEvent]:
    rows = ProviderWebhookEvent.objects.filter(
        processed_at__isnull=True, attempts__lt=settings.MAILHUB_EVENTS_MAX_ATTEMPTS
    )
    return rows.filter(pk__in=list(only)) if only is not None else rows


def gather_events() -> None:
    """Wait a moment when less than half a batch is waiting. Every stored webhook asks for
    this job, so in a burst it would otherwise start on a handful of events, and a batch's
    fixed cost (its queries, the listeners) would be paid per handful; meanwhile the flag
    that asked for the job stays set, so the burst adds no further jobs. Mail is not held:
    the `events` queue is served after `transactional`, and the wait is short."""
    wait = settings.MAILHUB_EVENTS_GATHER_SECONDS
    if wait <= 0:
        return
    half = max(1, settings.MAILHUB_EVENTS_BATCH // 2)
    if len(pending().values_list("id", flat=True)[:half]) < half:
        time.sleep(wait)


def process_pending(
    *, only: Collection[int] | None = None, budget_seconds: float = BUDGET_SECONDS
) -> ProcessReport:
    """Process batches until none is left or the budget is spent (then ask for another job).
    `only`: these raw events and no others (reprocessing by hand). An event that fails is
    not taken again by the same call."""
    report = ProcessReport()
    deadline = time.monotonic() + budget_seconds
    size = max(1, settings.MAILHUB_EVENTS_BATCH)
    while True:
        taken = process_batch(size, only=only, skip=report.errors.keys(), report=report)
        if taken < size:
            return report
        if time.monotonic() > deadline:
            if only is None:
                request_event_processing()
            return report


def look_again(cleared: float, report: ProcessReport) -> bool:
    """The processing job's last look, ASK_WINDOW_SECONDS or more after it cleared its flag
    (at `cleared`): webhooks stored meanwhile may have relied on this job instead of asking
    (queueing.enqueue.request_event_processing_soon), so if any event is still waiting,
    besides the ones that failed here, another job is asked for. True if one was."""
    wait = late_events_window_left(cleared)
    if wait > 0:
        time.sleep(wait)
    waiting = pending().exclude(pk__in=list(report.errors)).exists()
    return waiting and request_event_processing()


def process_batch(
    size: int,
    *,
    only: Collection[int] | None = None,
    skip: Collection[int] = (),
    report: ProcessReport | None = None,
) -> int:
    """One batch in one transaction; returns how many raw events it took."""
    report = report if report is not None else ProcessReport()
    # The batch's figures (events by type, messages failed at the provider, the live rates)
    # reach Redis in one round trip, after the commit, as a provider request's do.
    with metrics.request_tally(), transaction.atomic():
        rows = list(
            pending(only)
            .exclude(pk__in=list(skip))
            .select_for_update(skip_locked=True)
            .order_by("pk")[:size]
        )
        if not rows:
            return 0
        try:
            with transaction.atomic():
                _apply_and_announce(rows)
            report.processed += len(rows)
        except Exception as exc:
            if len(rows) == 1:
                _failed(rows[0], exc, report)
            else:
                log.warning("A batch of %d webhook events failed (%s); one by one", len(rows), exc)
                for row in rows:
                    try:
                        with transaction.atomic():
                            _apply_and_announce([row])
                        report.processed += 1
                    except Exception as one:
                        _failed(row, one, report)
    return len(rows)


def _apply_and_announce(rows: list[ProviderWebhookEvent]) -> None:
    # The batch's counter changes (a provider failure leaving `sent`) go out as one.
    with notifications_combined():
        events = apply_batch(rows)
    # Counted when the batch commits (a rolled-back savepoint drops the count with it).
    metrics.count_on_commit(catalogue.WEBHOOK_EVENTS, Counter((e.kind or "other",) for e in events))
    for name, listener in hooks.event_listeners():
        try:
            listener(events)
        except Exception as exc:
            raise RuntimeError(f"event listener {name!r}: {exc}") from exc


def _failed(row: ProviderWebhookEvent, exc: BaseException, report: ProcessReport) -> None:
    """Kept unprocessed with its error (the savepoint undid its effects)."""
    error = f"{type(exc).__name__}: {exc}"[:2000]
    log.error("Webhook event %s (%s) failed: %s", row.pk, row.svix_id, error, exc_info=exc)
    ProviderWebhookEvent.objects.filter(pk=row.pk).update(error=error, attempts=F("attempts") + 1)
    metrics.count(catalogue.WEBHOOK_EVENTS_FAILED)
    report.failed += 1
    report.errors[row.pk] = error
