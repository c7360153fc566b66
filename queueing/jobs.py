"""RQ entry points: a queue name in, a service call out."""

import os

from rq import get_current_job

from queueing import delivery
from queueing.enqueue import drain_started, event_processing_started
from queueing.provider_events.processing import gather_events, look_again, process_pending


def drain_queue(priority: str) -> dict:
    drain_started(priority)
    job = get_current_job()
    worker = os.environ.get("RQ_WORKER_ID", "") or (job.worker_name if job else "") or ""
    report = delivery.drain(priority, worker=worker)
    return {"requests": report.requests, **report.outcomes}


def process_provider_events() -> dict:
    """Stored webhooks, applied in batches (queue `events`)."""
    gather_events()
    cleared = event_processing_started()
    report = process_pending()
    look_again(cleared, report)
    return {"processed": report.processed, "failed": report.failed}
