"""Signalling workers about campaign work. Redis is never the only copy: if a job is lost,
campaigns.reconciler finds the campaign by its row and enqueues it again."""

import logging
from datetime import datetime

import django_rq
import redis
from django.db import transaction

log = logging.getLogger(__name__)

FANOUT_FUNC = "campaigns.jobs.fanout_campaign"
START_FUNC = "campaigns.jobs.start_scheduled_campaign"
FANOUT_TIMEOUT = 3600  # a million recipients take about a minute; this only guards a hang


def enqueue_fanout(campaign_id: int) -> bool:
    try:
        django_rq.get_queue("bulk").enqueue(
            FANOUT_FUNC, campaign_id, job_timeout=FANOUT_TIMEOUT, result_ttl=0, failure_ttl=86400
        )
        return True
    except redis.RedisError as exc:
        log.warning(
            "Redis unreachable; fan-out of campaign %s waits for the reconciler: %s",
            campaign_id,
            exc,
        )
        return False


def enqueue_fanout_on_commit(campaign_id: int) -> None:
    transaction.on_commit(lambda: enqueue_fanout(campaign_id))


def schedule_start_on_commit(campaign_id: int, at: datetime) -> None:
    """Start at `at` through RQ's scheduler (workers run --with-scheduler); the reconciler
    starts due campaigns too, so a lost job only delays the start by one interval."""

    def schedule() -> None:
        try:
            django_rq.get_queue("bulk").enqueue_at(at, START_FUNC, campaign_id, result_ttl=0)
        except redis.RedisError as exc:
            log.warning(
                "Redis unreachable; campaign %s starts via the reconciler: %s", campaign_id, exc
            )

    transaction.on_commit(schedule)
