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

from mailhub.status import SystemStatus, system_status
from queueing.provider_events.backlog import webhook_backlog


class StatusGauges(Collector):
    def collect(self) -> Iterator[Metric]:
        status = system_status()
        yield from _backlog(status)
        yield from _workers(status)
        yield from _pauses(status)
        yield from _campaigns(status)
        yield from _webhooks()
        yield from _quota(status)


def _gauge(name: str, help_text: str, value: float | None = None, labels=()) -> GaugeMetricFamily:
    if labels:
        return GaugeMetricFamily(name, help_text, labels=labels)
    return GaugeMetricFamily(name, help_text, value=value if value is not None else 0)


def _backlog(status: SystemStatus) -> Iterator[Metric]:
    backlog = status.backlog
    queued = _gauge(
        "mailhub_queued_messages",
        "Messages queued outside a batch, by priority (each count stops at 100,000).",
        labels=("priority",),
    )
    for priority, counted in sorted(backlog.queued.items()):
        queued.add_metric([priority], counted.count)
    yield queued
    yield _gauge(
        "mailhub_scheduled_messages",
        "Messages scheduled for later (stops at 100,000).",
        backlog.scheduled.count,
    )
    yield _gauge(
        "mailhub_frozen_batches_waiting",
        "Frozen batches waiting for their (next) call (stops at 100,000).",
        backlog.frozen_batches_waiting.count,
    )
    capped = any(c.capped for c in (*backlog.queued.values(), backlog.scheduled))
    yield _gauge(
        "mailhub_backlog_count_capped",
        "1 when a backlog count reached its cap (the figure means 'at least').",
        int(capped or backlog.frozen_batches_waiting.capped),
    )
    yield _gauge(
        "mailhub_oldest_queued_message_age_seconds",
        "How long the first queued message in claim order has waited (0 when none).",
        backlog.oldest_queued_age_seconds or 0.0,
    )
    yield _gauge(
        "mailhub_sending_messages",
        "Messages held by workers right now, alone or in frozen batches.",
        sum(w.holding.messages + w.holding.batch_messages for w in status.workers),
    )


def _workers(status: SystemStatus) -> Iterator[Metric]:
    yield _gauge(
        "mailhub_workers_alive",
        "RQ workers with a recent heartbeat.",
        sum(1 for w in status.workers if w.alive),
    )
    beats = [w.last_heartbeat.timestamp() for w in status.workers if w.last_heartbeat]
    yield _gauge(
        "mailhub_worker_last_heartbeat_timestamp_seconds",
        "The newest heartbeat of any worker, Unix time (0 when no worker is registered).",
        max(beats, default=0.0),
    )


def _pauses(status: SystemStatus) -> Iterator[Metric]:
    paused = _gauge(
        "mailhub_sending_paused",
        "1 while all sending is paused, by source: operator (database) or provider (Redis).",
        labels=("source",),
    )
    sources = {p.source for p in status.pauses}
    for source in ("operator", "provider"):
        paused.add_metric([source], int(source in sources))
    yield paused
    yield _gauge(
        "mailhub_sender_domains_paused",
        "Sending domains paused after the provider refused them (at most 50 counted).",
        len(status.domain_pauses),
    )
    limiter = status.limiter
    yield _gauge(
        "mailhub_ratelimit_rate",
        "The shared rate limit in requests per second (0: none configured).",
        limiter.rate,
    )
    held = (
        (limiter.paused_until - status.generated_at).total_seconds() if limiter.paused_until else 0
    )
    yield _gauge(
        "mailhub_ratelimit_paused_seconds",
        "Seconds until the shared rate limiter's pause after a 429 ends (0: not paused).",
        max(held, 0.0),
    )


def _campaigns(status: SystemStatus) -> Iterator[Metric]:
    yield _gauge(
        "mailhub_campaigns_in_flight",
        "Campaigns sending or paused (at most 20 listed below).",
        len(status.campaigns),
    )
    messages = _gauge(
        "mailhub_campaign_messages",
        "Messages of a campaign in flight, from its counters: total, done, sent, failed.",
        labels=("campaign", "name", "figure"),
    )
    progress = _gauge(
        "mailhub_campaign_progress_ratio",
        "Share of a campaign in flight that is done (0 to 1), with its status.",
        labels=("campaign", "name", "status"),
    )
    for c in status.campaigns:
        for figure in ("total", "done", "sent", "failed"):
            messages.add_metric([str(c.id), c.name, figure], getattr(c, figure))
        progress.add_metric([str(c.id), c.name, c.status], c.percent / 100)
    yield messages
    yield progress


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


def _quota(status: SystemStatus) -> Iterator[Metric]:
    yield _gauge(
        "mailhub_provider_daily_quota",
        "The provider's daily quota in emails (MAILHUB_DAILY_QUOTA; 0 when none is set).",
        settings.MAILHUB_DAILY_QUOTA,
    )
    yield _gauge(
        "mailhub_messages_sent_today",
        "Messages sent today (settings.TIME_ZONE day; campaigns.DailyStats, test sends left out).",
        status.totals.sent_today,
    )
    yield _gauge(
        "mailhub_messages_failed_today",
        "Messages failed today (settings.TIME_ZONE day; campaigns.DailyStats).",
        status.totals.failed_today,
    )
