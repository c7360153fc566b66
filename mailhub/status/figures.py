"""The figures of the system's status, as typed values with one JSON form.

The dashboard's JSON endpoint, `manage.py mailhub_status --json` and the Prometheus metrics
all read these same objects (built by mailhub.status.selectors.system_status), so the three
never disagree. Times are aware datetimes (UTC in JSON, ISO 8601); durations are seconds.
"""

import dataclasses
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any


@dataclass(frozen=True)
class CappedCount:
    """A count that stops at a cap: `capped` means "at least `count`" (no full count is made
    of a large backlog; the cap bounds the work of each refresh)."""

    count: int
    capped: bool

    def __str__(self) -> str:
        return f"{self.count:,}+" if self.capped else f"{self.count:,}"


@dataclass(frozen=True)
class Backlog:
    queued: dict[str, CappedCount]  # by priority: transactional, bulk
    scheduled: CappedCount
    next_scheduled_at: datetime | None
    frozen_batches_waiting: CappedCount  # SendBatch rows queued for their (next) call
    # The first message in the queue's order (lowest id) per priority, and its wait.
    oldest_queued_at: datetime | None
    oldest_queued_age_seconds: float | None


@dataclass(frozen=True)
class Totals:
    """Sent and failed: the last hour from the live per-minute counters (Redis, may be lost),
    today (settings.TIME_ZONE) from campaigns.DailyStats (database rows)."""

    sent_last_hour: int
    failed_last_hour: int
    sent_today: int
    failed_today: int
    day: date


@dataclass(frozen=True)
class Throughput:
    """Per minute over the last hour, oldest first; `minutes` are the starts of each minute."""

    minutes: list[datetime]
    sent: list[int]
    failed: list[int]

    @property
    def sent_per_minute_now(self) -> int:
        """The last complete minute (the current one is still filling)."""
        return self.sent[-2] if len(self.sent) > 1 else 0


@dataclass(frozen=True)
class Holding:
    """What one worker holds now: messages claimed alone and frozen batches, with the lease
    that ends soonest."""

    messages: int
    batches: int
    batch_messages: int
    lease_expires_at: datetime | None


@dataclass(frozen=True)
class WorkerStatus:
    name: str
    alive: bool  # registered in RQ with a recent heartbeat
    hostname: str
    pid: int | None
    state: str  # RQ's: idle, busy, suspended, ...; "gone" for a holder RQ no longer lists
    queues: list[str]
    last_heartbeat: datetime | None
    current_job: str
    holding: Holding


@dataclass(frozen=True)
class LimiterStatus:
    rate: float  # requests per second; 0 means no limit configured
    next_free_slot_at: datetime
    paused_until: datetime | None  # the whole timeline is held after a 429
    pause_reason: str


@dataclass(frozen=True)
class PauseStatus:
    source: str  # "operator" (database) or "provider" (quota or key, Redis)
    reason: str
    until: datetime | None  # None: until someone resumes
    by: str


@dataclass(frozen=True)
class DomainPauseStatus:
    domain: str
    reason: str
    since: datetime


@dataclass(frozen=True)
class CampaignProgress:
    id: int
    name: str
    status: str
    total: int
    done: int
    sent: int
    failed: int
    percent: float
    rate_per_second: float
    seconds_left: float | None
    pause_reason: str
    started_at: datetime | None


@dataclass(frozen=True)
class FailureStatus:
    id: int
    uuid: str
    subject: str
    to: list[str]
    failure_code: str
    error: str
    attempts: int
    created_at: datetime
    updated_at: datetime
    campaign_id: int | None
    retry_refusal: str  # why it may not be retried by hand ("" if it may)


@dataclass(frozen=True)
class SystemStatus:
    generated_at: datetime
    backlog: Backlog
    totals: Totals
    throughput: Throughput
    workers: list[WorkerStatus]
    limiter: LimiterStatus
    pauses: list[PauseStatus]  # sending pauses in place; empty: sending
    domain_pauses: list[DomainPauseStatus]
    campaigns: list[CampaignProgress]
    failures: list[FailureStatus]
    limits: dict[str, int] = field(default_factory=dict)  # the caps the figures obey

    @property
    def sending_paused(self) -> bool:
        return bool(self.pauses)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON types only (datetimes as ISO 8601 text)."""
        data = _plain(self)
        data["sending_paused"] = self.sending_paused
        data["throughput"]["sent_per_minute_now"] = self.throughput.sent_per_minute_now
        return data


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
