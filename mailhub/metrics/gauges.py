"""Figures computed at scrape time from the database and Redis: bounded, indexed reads only.

The backlog, workers, pauses, the rate limiter and campaigns in flight come from the system
status selector the dashboard and `mailhub_status` read (mailhub.status), so the three never
disagree and none of them counts the message table; the webhook backlog from queueing's own
bounded read; the quota from settings and the day's statistics row.
"""

from collections.abc import Iterator

from django.conf import settings
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from queueing.provider_events.backlog import webhook_backlog


class StatusGauges(Collector):
    def collect(self) -> Iterator[Metric]:
        yield from _webhooks()
        yield from _quota()


def _gauge(name: str, help_text: str, value: float | None = None, labels=()) -> GaugeMetricFamily:
    if labels:
        return GaugeMetricFamily(name, help_text, labels=labels)
    return GaugeMetricFamily(name, help_text, value=value if value is not None else 0)


def _webhooks() -> Iterator[Metric]:
    backlog = webhook_backlog()
    yield _gauge(
        "mailhub_webhook_events_pending",
        "Provider webhook events stored and not processed yet (stops at 100,000).",
        backlog.pending,
    )
    yield _gauge(
        "mailhub_webhook_events_given_up",
        "Unprocessed webhook events whose tries are used up (reprocess_webhook_events).",
        backlog.given_up,
    )
    age = (
        (timezone.now() - backlog.oldest_pending_at).total_seconds()
        if backlog.oldest_pending_at
        else 0
    )
    yield _gauge(
        "mailhub_webhook_oldest_pending_seconds",
        "Age of the oldest webhook event still to be processed (0 when none).",
        max(age, 0.0),
    )


def _quota() -> Iterator[Metric]:
    yield _gauge(
        "mailhub_provider_daily_quota",
        "The provider's daily quota in emails (MAILHUB_DAILY_QUOTA; 0 when none is set).",
        settings.MAILHUB_DAILY_QUOTA,
    )
