"""RQ entry points: a queue name in, a service call out."""

import os

from rq import get_current_job

from queueing import delivery
from queueing.enqueue import drain_started


def drain_queue(priority: str) -> dict:
    drain_started(priority)
    job = get_current_job()
    worker = os.environ.get("RQ_WORKER_ID", "") or (job.worker_name if job else "") or ""
    report = delivery.drain(priority, worker=worker)
    return {"requests": report.requests, **report.outcomes}
