"""Asking a worker to send due webhook deliveries, on the `events` queue: at most one such job
waiting however many events arrive (queueing.enqueue's rule, with a flag of its own)."""

from django.db import transaction

from queueing.enqueue import enqueue_once, job_started

QUEUE = "events"
JOB_FUNC = "queueing.forwarding.jobs.send_webhook_deliveries"
FLAG = "mailhub:webhooks:waiting"


def request_forwarding() -> bool:
    """Make sure one job that sends due deliveries is waiting; True if this call enqueued it."""
    return enqueue_once(FLAG, QUEUE, JOB_FUNC, what="webhook deliveries wait")


def request_forwarding_on_commit() -> None:
    transaction.on_commit(request_forwarding)


def forwarding_started() -> None:
    job_started(FLAG)
