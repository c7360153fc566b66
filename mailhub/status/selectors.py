"""One read of the whole system's status, for the dashboard, `mailhub_status` and the metrics.

Fast at any table size: no query counts the message table. Rates come from the stores kept
for them (queueing.live_rates' per-minute Redis counters; campaigns.DailyStats rows; the
campaigns' own counters); the backlog is counted on the partial indexes of the rows still to
send, and each count stops at a cap (CappedCount); everything else is a bounded (LIMIT),
indexed read. benchmarks/dashboard.py times it over a million messages.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.dateparse import parse_datetime

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


def _capped(rows: QuerySet, cap: int) -> QuerySet:
    return rows.order_by().values("pk")[: cap + 1]


def capped_count(rows: QuerySet, cap: int = COUNT_CAP) -> CappedCount:
    """`SELECT count(*) FROM (SELECT id … LIMIT cap + 1)`: the work stops at the cap."""
    return _as_capped(_capped(rows, cap).count(), cap)


def _as_capped(found: int, cap: int = COUNT_CAP) -> CappedCount:
    return CappedCount(min(found, cap), found > cap)


def _as_datetime(value: datetime | str | None) -> datetime | None:
    """A timestamp read by a raw cursor: PostgreSQL gives it aware, SQLite as text in UTC."""
    parsed = parse_datetime(value) if isinstance(value, str) else value
    if parsed is None or timezone.is_aware(parsed):
        return parsed
    return parsed.replace(tzinfo=UTC)


def _scalars(counts: dict[str, QuerySet], firsts: dict[str, QuerySet]) -> dict[str, Any]:
    """One statement, one round trip: `SELECT (SELECT count(*) FROM (…)), (SELECT …)`.
    `counts` are capped (each stops at COUNT_CAP); `firsts` are one-value reads (LIMIT 1).
    Each subquery is the queryset's own SQL, so it uses the same index it would alone."""
    parts, params = [], []
    for rows in counts.values():
        sql, more = _capped(rows, COUNT_CAP).query.sql_with_params()
        parts.append(f"(SELECT COUNT(*) FROM ({sql}) AS capped)")
        params += more
    for rows in firsts.values():
        sql, more = rows[:1].query.sql_with_params()
        parts.append(f"({sql})")
        params += more
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(parts), params)
        row = cursor.fetchone()
    return dict(zip([*counts, *firsts], row, strict=True))


def _queued(priority: str) -> QuerySet[Message]:
    # Exactly message_queued_idx's condition, so the count reads that index only.
    return Message.objects.filter(
        status=MessageStatus.QUEUED, batch__isnull=True, priority=priority
    )


def _first_queued(priority: str, alone: bool) -> QuerySet[Message]:
    """When the first queued message in claim order (lowest id) of one priority and one
    `send_alone` began waiting; in the index's own order (its columns fixed but the last), so
    PostgreSQL reads the index's first entry instead of walking the primary key."""
    return (
        _queued(priority)
        .filter(send_alone=alone)
        .order_by("priority", "send_alone", "id")
        .annotate(waiting_since=Coalesce("queued_at", "created_at"))
        .values_list("waiting_since")
    )


def backlog_status(now: datetime) -> Backlog:
    scheduled = Message.objects.filter(status=MessageStatus.SCHEDULED)
    firsts = {
        f"first:{p}:{alone}": _first_queued(p, alone)
        for p in Priority.values
        for alone in (False, True)
    }
    found = _scalars(
        counts={
            **{f"queued:{p}": _queued(p) for p in Priority.values},
            "scheduled": scheduled,
            "batches": SendBatch.objects.filter(status=BatchStatus.QUEUED),
        },
        firsts={
            **firsts,
            "next_scheduled": scheduled.order_by("scheduled_at").values_list("scheduled_at"),
        },
    )
    waiting = [t for key in firsts if (t := _as_datetime(found[key])) is not None]
    oldest = min(waiting) if waiting else None
    return Backlog(
        queued={p: _as_capped(found[f"queued:{p}"]) for p in Priority.values},
        scheduled=_as_capped(found["scheduled"]),
        next_scheduled_at=_as_datetime(found["next_scheduled"]),
        frozen_batches_waiting=_as_capped(found["batches"]),
        oldest_queued_at=oldest,
        oldest_queued_age_seconds=max((now - oldest).total_seconds(), 0.0) if oldest else None,
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
            "updated_at", "first_attempt_at", "campaign_id", "batch_id",
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
