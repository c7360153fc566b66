"""One purge at a time across the fleet: a Redis key taken with SET NX and an expiry,
renewed after every batch, released on the way out. A purge that died leaves the key to expire
(LOCK_SECONDS); a second purge meanwhile is told who holds it and stops."""

import contextlib
import uuid

import redis

from queueing.connection import get_redis

LOCK_KEY = "mailhub:purge:lock"
LOCK_SECONDS = 120
# Renew or release only our own lock (the key may have expired and been taken by another).
_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('expire', KEYS[1], ARGV[2]) end return 0"
_RELEASE = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
)


class PurgeLocked(Exception):
    """Another purge holds the lock (its holder's name in the message)."""


class PurgeLock:
    def __init__(self, owner: str) -> None:
        self.value = f"{owner} [{uuid.uuid4().hex[:8]}]"

    def __enter__(self) -> "PurgeLock":
        client = get_redis()
        if not client.set(LOCK_KEY, self.value, nx=True, ex=LOCK_SECONDS):
            holder = client.get(LOCK_KEY)
            name = holder.decode() if holder else "another process"
            raise PurgeLocked(f"another purge is running ({name}); try again when it is done")
        return self

    def renew(self) -> None:
        """Called after each batch; a lost lock (expired and taken) stops this purge."""
        if not get_redis().eval(_RENEW, 1, LOCK_KEY, self.value, LOCK_SECONDS):
            raise PurgeLocked("the purge lock was lost (expired and taken by another purge)")

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(redis.RedisError):  # it expires on its own
            get_redis().eval(_RELEASE, 1, LOCK_KEY, self.value)
