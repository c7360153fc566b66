"""One read of the whole system's status, for the dashboard, `mailhub_status` and the metrics.

Fast at any table size: no query counts the message table. Rates come from the stores kept
for them (queueing.live_rates' per-minute Redis counters; campaigns.DailyStats rows; the
campaigns' own counters); the backlog is counted on the partial indexes of the rows still to
send, and each count stops at a cap (CappedCount); everything else is a bounded (LIMIT),
indexed read. benchmarks/dashboard.py times it over a million messages.
"""

from datetime import UTC, datetime, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from campaigns.selectors import campaign_progress, campaigns_in_flight, daily_stats
from mailhub.status.figures import (
    Backlog,
    CampaignProgress,
    CappedCount,
    DomainPauseStatus,
    FailureStatus,
    LimiterStatus,
    PauseStatus,
    SystemStatus,
    Throughput,
    Totals,
)
from mailhub.status.workers import HOLDINGS_CAP, workers_status
from queueing import sending_gate
from queueing.live_rates import live_rates
from queueing.models import BatchStatus, Message, MessageStatus, Priority, SendBatch
from queueing.ratelimit import limiter_state
from queueing.sender_pauses import active_pauses
from queueing.services import retry_refusal

# Each backlog count stops here: enough to say "a lot", cheap enough for every refresh.
COUNT_CAP = 100_000
FAILURES = 10
CAMPAIGNS = 20
DOMAIN_PAUSES = 50
MINUTES = 60


def capped_count(rows: QuerySet, cap: int = COUNT_CAP) -> CappedCount:
    """`SELECT count(*) FROM (SELECT id … LIMIT cap + 1)`: the work stops at the cap."""
    found = rows.order_by().values("pk")[: cap + 1].count()
    return CappedCount(min(found, cap), found > cap)


def _queued(priority: str) -> QuerySet[Message]:
    # Exactly message_queued_idx's condition, so the count reads that index only.
    return Message.objects.filter(
        status=MessageStatus.QUEUED, batch__isnull=True, priority=priority
    )


def _oldest_queued(now: datetime) -> tuple[datetime | None, float | None]:
    """The first queued message in claim order (lowest id) of each priority and each
    `send_alone` (the index's leading columns), so each read is one index probe."""
    firsts = []
    for priority in Priority.values:
        for alone in (False, True):
            row = (
                _queued(priority)
                .filter(send_alone=alone)
                .order_by("id")
                .values_list("queued_at", "created_at")
                .first()
            )
            if row:
                firsts.append(row[0] or row[1])
    if not firsts:
        return None, None
    oldest = min(firsts)
    return oldest, max((now - oldest).total_seconds(), 0.0)


def backlog_status(now: datetime) -> Backlog:
    scheduled = Message.objects.filter(status=MessageStatus.SCHEDULED)
    oldest_at, oldest_age = _oldest_queued(now)
    return Backlog(
        queued={p: capped_count(_queued(p)) for p in Priority.values},
        scheduled=capped_count(scheduled),
        next_scheduled_at=scheduled.order_by("scheduled_at")
        .values_list("scheduled_at", flat=True)
        .first(),
        frozen_batches_waiting=capped_count(SendBatch.objects.filter(status=BatchStatus.QUEUED)),
        oldest_queued_at=oldest_at,
        oldest_queued_age_seconds=oldest_age,
    )


def throughput_status(now: datetime) -> Throughput:
    start = now.astimezone(UTC).replace(second=0, microsecond=0)
    return Throughput(
        minutes=[start - timedelta(minutes=back) for back in range(MINUTES - 1, -1, -1)],
        sent=live_rates("sent", minutes=MINUTES, now=now),
        failed=live_rates("failed", minutes=MINUTES, now=now),
    )


def totals_status(throughput: Throughput) -> Totals:
    today = timezone.localdate()
    row = daily_stats(today)
    return Totals(
        sent_last_hour=sum(throughput.sent),
        failed_last_hour=sum(throughput.failed),
        sent_today=row.sent if row else 0,
        failed_today=row.failed if row else 0,
        day=today,
    )


def limiter_status(now: datetime) -> LimiterStatus:
    state = limiter_state()
    return LimiterStatus(
        rate=state.rate,
        next_free_slot_at=now + timedelta(seconds=state.next_slot_in),
        paused_until=now + timedelta(seconds=state.paused_for) if state.paused_for else None,
        pause_reason=state.pause_reason,
    )


def pauses_status() -> list[PauseStatus]:
    """The pauses as they are now: the operator's read from the database (not the workers'
    one-second cache), the provider's from Redis."""
    found = []
    for pause in (sending_gate.operator_pause_now(), sending_gate.provider_pause()):
        if pause is None:
            continue
        until = datetime.fromtimestamp(pause.until, UTC) if pause.until is not None else None
        found.append(
            PauseStatus(source=pause.source, reason=pause.reason, until=until, by=pause.by)
        )
    return found


def domain_pauses_status() -> list[DomainPauseStatus]:
    rows = active_pauses().order_by("-created_at")[:DOMAIN_PAUSES]
    return [DomainPauseStatus(p.domain, p.reason, p.created_at) for p in rows]


def campaigns_status(limit: int = CAMPAIGNS) -> list[CampaignProgress]:
    found = []
    for campaign in campaigns_in_flight(limit):
        progress = campaign_progress(campaign)
        found.append(
            CampaignProgress(
                id=campaign.pk,
                name=campaign.name,
                status=campaign.status,
                total=progress.total,
                done=progress.done,
                sent=progress.sent,
                failed=campaign.failed,
                percent=round(progress.percent, 1),
                rate_per_second=round(progress.rate, 2),
                seconds_left=round(progress.eta.total_seconds()) if progress.eta else None,
                pause_reason=campaign.pause_reason,
                started_at=campaign.started_at,
            )
        )
    return found


def failures_status(limit: int = FAILURES) -> list[FailureStatus]:
    """The newest failed messages (by creation: the order of message_problem_idx)."""
    rows = (
        Message.objects.filter(status=MessageStatus.FAILED)
        .order_by("-created_at")
        .only(
            "uuid", "subject", "to", "failure_code", "last_error", "attempts", "created_at",
            "updated_at", "campaign_id", "batch_id",
        )[:limit]
    )  # fmt: skip
    return [
        FailureStatus(
            id=m.pk,
            uuid=str(m.uuid),
            subject=m.subject[:200],
            to=list(m.to)[:5],
            failure_code=m.failure_code,
            error=m.last_error[:500],
            attempts=m.attempts,
            created_at=m.created_at,
            updated_at=m.updated_at,
            campaign_id=m.campaign_id,
            retry_refusal=retry_refusal(m),
        )
        for m in rows
    ]


def system_status(*, now: datetime | None = None) -> SystemStatus:
    """Every figure of the dashboard, read now."""
    now = now or timezone.now()
    throughput = throughput_status(now)
    return SystemStatus(
        generated_at=now,
        backlog=backlog_status(now),
        totals=totals_status(throughput),
        throughput=throughput,
        workers=workers_status(now),
        limiter=limiter_status(now),
        pauses=pauses_status(),
        domain_pauses=domain_pauses_status(),
        campaigns=campaigns_status(),
        failures=failures_status(),
        limits={
            "count_cap": COUNT_CAP,
            "failures": FAILURES,
            "campaigns": CAMPAIGNS,
            "holdings": HOLDINGS_CAP,
        },
    )
