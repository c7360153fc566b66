"""Asking a worker to send due webhook deliveries, on the `events` queue.

As with the drain (queueing.enqueue), a Redis flag keeps at most one such job waiting,
however many events arrive, and Redis being unreachable is logged, not raised: the rows are
the truth, and the reconciler asks again.
"""

import contextlib
import logging

import django_rq
import redis
from django.db import transaction

from queueing.connection import get_redis

log = logging.getLogger(__name__)

QUEUE = "events"
JOB_FUNC = "queueing.forwarding.jobs.send_webhook_deliveries"
FLAG = "mailhub:webhooks:waiting"
FLAG_TTL = 60
JOB_TIMEOUT = 600  # a run stops itself after its budget; this only guards a hang


def request_forwarding() -> bool:
    """Make sure one job that sends due deliveries is waiting; True if this call enqueued it."""
    try:
        if not get_redis().set(FLAG, "1", nx=True, ex=FLAG_TTL):
            return False
        django_rq.get_queue(QUEUE).enqueue(
            JOB_FUNC, job_timeout=JOB_TIMEOUT, result_ttl=0, failure_ttl=86400
        )
        return True
    except redis.RedisError as exc:
        log.warning("Redis unreachable; webhook deliveries wait for the reconciler: %s", exc)
        return False


def request_forwarding_on_commit() -> None:
    transaction.on_commit(request_forwarding)


def forwarding_started() -> None:
    with contextlib.suppress(redis.RedisError):
        get_redis().delete(FLAG)
