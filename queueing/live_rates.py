"""Live per-minute rates (sent, failed, provider events): Redis counters that may be lost.

One key per figure and minute, `mailhub:rate:<figure>:<YYYYmmddHHMM>` (UTC), raised with INCRBY
and given an expiry (settings.MAILHUB_LIVE_RATES_MINUTES), so nothing has to clean them up.
These are a view of the moment for dashboards and metrics, never a record: figures that must
last are database rows (campaign statistics, campaigns.DailyStats). A Redis error is logged
and the figure is lost, because the mail matters and the gauge does not.
"""

import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import redis
from django.conf import settings
from django.db import transaction
from redis.client import Pipeline

from queueing.connection import get_redis
from queueing.metrics import tally as metrics

log = logging.getLogger(__name__)

FIGURES = ("sent", "failed", "events")
PREFIX = "mailhub:rate:"


def _key(figure: str, minute: datetime) -> str:
    return f"{PREFIX}{figure}:{minute.astimezone(UTC):%Y%m%d%H%M}"


def live_rates_add(counts: Mapping[str, int], *, at: datetime | None = None) -> None:
    """Add to this minute's counters now (zero and negative counts are ignored)."""
    wanted = {figure: n for figure, n in counts.items() if n > 0}
    if not wanted:
        return
    minute = at or datetime.now(UTC)
    keep = max(settings.MAILHUB_LIVE_RATES_MINUTES, 1) * 60 + 60

    def add(pipe: Pipeline) -> None:
        for figure, n in wanted.items():
            key = _key(figure, minute)
            pipe.incrby(key, n)
            pipe.expire(key, keep)

    # Inside a provider request these ride on the request's one metrics round trip.
    if metrics.defer(add):
        return
    try:
        pipe = get_redis().pipeline(transaction=False)
        add(pipe)
        pipe.execute()
    except redis.RedisError as exc:
        log.warning("live rates not counted (Redis: %s): %s", exc, wanted)


def live_rates_add_on_commit(counts: Mapping[str, int]) -> None:
    """Count once the current transaction commits: a rolled-back batch is not counted."""
    wanted = dict(counts)
    if any(n > 0 for n in wanted.values()):
        transaction.on_commit(lambda: live_rates_add(wanted))


def live_rates(figure: str, *, minutes: int = 60, now: datetime | None = None) -> list[int]:
    """The last `minutes` counts of `figure`, oldest first, this minute last; zeros where a
    minute has no key (or Redis cannot answer)."""
    end = now or datetime.now(UTC)
    keys = [_key(figure, end - timedelta(minutes=back)) for back in range(minutes - 1, -1, -1)]
    try:
        values = get_redis().mget(keys)
    except redis.RedisError as exc:
        log.warning("live rates unavailable (Redis: %s)", exc)
        return [0] * len(keys)
    return [int(v) if v else 0 for v in values]
