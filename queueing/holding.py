"""Whether a worker may hold its next group of messages (PostgreSQL, see claims.hold_messages).

A held group leaves no trace in the database until it is stored, so a job that is killed
while holding one (not raising: killed, e.g. by a crash in native code) counts no attempt.
If that crash repeats on the same group, it would be taken and lost again without end. So a
worker marks in Redis that it is holding, and clears the mark when done; a mark still there
at its next group means the last one died holding, and that group is claimed the stored way
(with a lease, an attempt counted) instead. Without Redis, holding goes on unmarked.
"""

import contextlib
import logging

import redis

from queueing.connection import get_redis

log = logging.getLogger(__name__)

# Longer than any drain (a drain stops after about 10 s): a mark older than this is stale.
MARK_SECONDS = 600


def _key(worker: str) -> str:
    return f"mailhub:holding:{worker}"


def may_hold(worker: str) -> bool:
    """Mark this worker as holding; False (and the mark cleared) if its last hold never
    ended, so that this group is claimed the stored way."""
    if not worker:
        return True
    try:
        left = get_redis().set(_key(worker), "1", ex=MARK_SECONDS, get=True)
    except redis.RedisError:
        return True
    if left is None:
        return True
    log.warning("Worker %s died holding messages last time; claiming with a lease", worker)
    done(worker)
    return False


def done(worker: str) -> None:
    if not worker:
        return
    with contextlib.suppress(redis.RedisError):
        get_redis().delete(_key(worker))
