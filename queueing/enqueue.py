"""Putting delivery jobs on the RQ queues.

Jobs carry a message id and nothing else. The job id is derived from the row (id and attempt
count), so the reconciler can tell from the row alone whether the job it expects is in Redis.
A failure to reach Redis is logged, never raised: the row is already committed and the
reconciler enqueues it when Redis is back.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import django_rq
import redis
from django.db import transaction
from rq import Queue

from queueing.models import Priority

log = logging.getLogger(__name__)

DELIVER_FUNC = "queueing.jobs.deliver_message"
JOB_TIMEOUT = 300  # seconds; the HTTP timeouts end a call long before this
RESULT_TTL = 300
FAILURE_TTL = 7 * 24 * 3600


@dataclass(frozen=True)
class DeliveryRef:
    """What the queue needs to know about a message to enqueue it."""

    message_id: int
    priority: str
    attempts: int


def delivery_job_id(message_id: int, attempts: int) -> str:
    return f"mailhub-deliver-{message_id}-{attempts}"


def queue_for(priority: str) -> Queue:
    name = "bulk" if priority == Priority.BULK else "transactional"
    return django_rq.get_queue(name)


def enqueue_deliveries(refs: Iterable[DeliveryRef]) -> int:
    """Enqueue one delivery job per message; returns how many were enqueued."""
    by_queue: dict[str, list[DeliveryRef]] = {}
    for ref in refs:
        by_queue.setdefault(ref.priority, []).append(ref)
    enqueued = 0
    for priority, group in by_queue.items():
        queue = queue_for(priority)
        try:
            with queue.connection.pipeline() as pipe:
                queue.enqueue_many(
                    [
                        Queue.prepare_data(
                            DELIVER_FUNC,
                            args=(ref.message_id,),
                            job_id=delivery_job_id(ref.message_id, ref.attempts),
                            timeout=JOB_TIMEOUT,
                            result_ttl=RESULT_TTL,
                            failure_ttl=FAILURE_TTL,
                        )
                        for ref in group
                    ],
                    pipeline=pipe,
                )
                pipe.execute()
            enqueued += len(group)
        except redis.RedisError as exc:
            log.warning(
                "Redis unreachable, %d message(s) stay queued for the reconciler: %s",
                len(group),
                exc,
            )
    return enqueued


def enqueue_on_commit(refs: list[DeliveryRef]) -> None:
    """Enqueue once the surrounding transaction commits (at once outside a transaction)."""
    if refs:
        transaction.on_commit(lambda: enqueue_deliveries(refs))
