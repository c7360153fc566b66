"""Workers alive (RQ's registry and heartbeats) and what each holds (claims on rows).

What a worker holds is read from the rows in flight only: messages `sending` with a lease
(the partial index message_sending_lease_idx) and batches `sending` (batch_sending_lease_idx),
each read bounded by HOLDINGS_CAP rows. A holder RQ no longer lists (killed, its lease not yet
run out) is shown too, as "gone": that is what the reconciler will take back.
"""

from collections import defaultdict
from datetime import UTC, datetime

import redis
from rq import Worker

from mailhub.status.figures import Holding, WorkerStatus
from queueing.connection import get_redis
from queueing.models import BatchStatus, Message, MessageStatus, SendBatch

# A worker that has not beaten for this long is shown as not alive (mailhub's workers beat at
# least every reconcile interval while idle, and RQ's job monitor beats during jobs).
HEARTBEAT_STALE_SECONDS = 120
# Rows in flight read at most (each worker holds one request, a batch of at most 100).
HOLDINGS_CAP = 5000


def _holdings() -> dict[str, Holding]:
    alone = (
        Message.objects.filter(status=MessageStatus.SENDING, lease_expires_at__isnull=False)
        .order_by("lease_expires_at")
        .values_list("claimed_by", "lease_expires_at")[:HOLDINGS_CAP]
    )
    batches = (
        SendBatch.objects.filter(status=BatchStatus.SENDING)
        .order_by("lease_expires_at")
        .values_list("claimed_by", "lease_expires_at", "size")[:HOLDINGS_CAP]
    )
    counts: dict[str, list] = defaultdict(lambda: [0, 0, 0, None])
    for name, lease in alone:
        entry = counts[name]
        entry[0] += 1
        entry[3] = lease if entry[3] is None else min(entry[3], lease)
    for name, lease, size in batches:
        entry = counts[name]
        entry[1] += 1
        entry[2] += size
        if lease is not None:
            entry[3] = lease if entry[3] is None else min(entry[3], lease)
    return {name: Holding(*entry) for name, entry in counts.items()}


def _rq_workers() -> list[Worker]:
    try:
        return Worker.all(connection=get_redis())
    except redis.RedisError:
        return []


def _state(worker: Worker) -> str:
    """RQ's state word (idle, busy, suspended, started); its enum's value, not its name."""
    state = worker.get_state()
    return str(getattr(state, "value", state) or "unknown")


def workers_status(now: datetime) -> list[WorkerStatus]:
    holdings = _holdings()
    nothing = Holding(0, 0, 0, None)
    found = []
    for worker in sorted(_rq_workers(), key=lambda w: w.name):
        beat = worker.last_heartbeat
        if beat is not None and beat.tzinfo is None:
            beat = beat.replace(tzinfo=UTC)
        alive = beat is not None and (now - beat).total_seconds() < HEARTBEAT_STALE_SECONDS
        found.append(
            WorkerStatus(
                name=worker.name,
                alive=alive,
                hostname=worker.hostname or "",
                pid=worker.pid,
                state=_state(worker),
                queues=worker.queue_names(),
                last_heartbeat=beat,
                current_job=worker.get_current_job_id() or "",
                holding=holdings.pop(worker.name, nothing),
            )
        )
    for name, holding in sorted(holdings.items()):
        found.append(
            WorkerStatus(
                name=name or "(unnamed)",
                alive=False,
                hostname="",
                pid=None,
                state="gone",
                queues=[],
                last_heartbeat=None,
                current_job="",
                holding=holding,
            )
        )
    return found
