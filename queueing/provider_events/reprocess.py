"""Processing stored webhooks again by hand: those kept with an error, or chosen ones.

Only unprocessed events are taken: a processed event has had its effect (timeline, status,
listeners' counters), and applying it twice would count it twice.
"""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from audit.services import audit_record
from queueing.models import ProviderWebhookEvent
from queueing.provider_events.processing import ProcessReport, process_pending


@dataclass
class ReprocessReport(ProcessReport):
    already_processed: int = 0  # chosen by id but processed before: left alone


def webhook_events_reprocess(
    *,
    ids: Collection[int] | None = None,
    failed: bool = False,
    since: datetime | None = None,
    actor: AbstractBaseUser | None = None,
) -> ReprocessReport:
    """Give the chosen unprocessed events fresh attempts and process them now, in this
    process. `failed`: only those kept with an error; `since`: received at or after;
    `ids`: these raw events. With no filter, every unprocessed event."""
    rows = ProviderWebhookEvent.objects.all()
    if ids is not None:
        rows = rows.filter(pk__in=list(ids))
    if failed:
        rows = rows.exclude(error="")
    if since is not None:
        rows = rows.filter(received_at__gte=since)
    report = ReprocessReport()
    if ids is not None:
        report.already_processed = rows.filter(processed_at__isnull=False).count()
    with transaction.atomic():
        chosen = list(rows.filter(processed_at__isnull=True).values_list("pk", flat=True))
        ProviderWebhookEvent.objects.filter(pk__in=chosen).update(attempts=0, error="")
        if chosen and actor is not None:
            audit_record(
                actor=actor,
                action="webhook_events.reprocess",
                target_label=f"{len(chosen)} webhook event(s)",
                detail={"events": chosen[:100], "count": len(chosen)},
            )
    if chosen:
        done = process_pending(only=chosen, budget_seconds=float("inf"))
        report.processed, report.failed, report.errors = done.processed, done.failed, done.errors
    return report
