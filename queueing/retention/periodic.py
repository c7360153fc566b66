"""The purge inside the workers: a reconcile step that runs it at most once per
MAILHUB_PURGE_INTERVAL across the fleet (a Redis SET NX key with that expiry; a flushed Redis
only means one run early), for at most MAILHUB_PURGE_STEP_SECONDS, so a worker is never away
from its queues for long. What is left waits for the next run. No cron."""

import logging
import os
import socket
import time

import redis
from django.conf import settings

from queueing.connection import get_redis
from queueing.message_filters import FilterError
from queueing.retention.lock import PurgeLock, PurgeLocked
from queueing.retention.passes import PASSES, run_pass
from queueing.retention.policy import policy

log = logging.getLogger(__name__)

DUE_KEY = "mailhub:purge:periodic"


def periodic_purge() -> dict[str, int]:
    """Reconcile step: {"purge_<pass>": rows} when this worker's turn has come, else {}."""
    interval = int(settings.MAILHUB_PURGE_INTERVAL)
    if interval <= 0:
        return {}
    owner = f"worker {socket.gethostname()}:{os.getpid()}"
    try:
        if not get_redis().set(DUE_KEY, owner, nx=True, ex=interval):
            return {}
        rules = policy()
        with PurgeLock(owner) as lock:
            deadline = time.monotonic() + float(settings.MAILHUB_PURGE_STEP_SECONDS)
            figures = {}
            for p in PASSES:
                result = run_pass(p, rules, after_batch=lambda n: lock.renew(), deadline=deadline)
                if result.rows:
                    figures[f"purge_{p.name}"] = result.rows
            return figures
    except PurgeLocked as exc:
        log.info("Periodic purge skipped: %s", exc)
    except FilterError as exc:
        log.error("Periodic purge not run: %s", exc)
    except redis.RedisError as exc:
        log.warning("Periodic purge not run: Redis is unreachable (%s)", exc)
    return {}
