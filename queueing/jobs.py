"""RQ entry points: ids in, a service call out."""

import os

from rq import get_current_job

from queueing import delivery


def deliver_message(message_id: int) -> str:
    job = get_current_job()
    worker = os.environ.get("RQ_WORKER_ID", "") or (job.worker_name if job else "") or ""
    return delivery.deliver(message_id, worker_name=worker)
