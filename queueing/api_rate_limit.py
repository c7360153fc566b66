"""An API key's own request rate limit (`ApiKey.rate_limit`, requests per second; off when
None), counted in Redis in fixed windows shared by every web process.

A key limited to `r` requests/s gets `max(1, floor(r * w))` requests per window of `w`
seconds, where `w` is 1 second, or 1/r rounded up when r < 1 (0.5/s: one request per 2 s).
The answer carries Resend's headers: `ratelimit-limit`, `ratelimit-remaining`,
`ratelimit-reset` (seconds until the window ends), and `retry-after` on a 429. When Redis
cannot be reached the request goes through and the failure is logged: the limit protects the
service, it is not worth an outage.
"""

import logging
import math
import time
from dataclasses import dataclass

import redis

from queueing.connection import get_redis

log = logging.getLogger(__name__)
KEY_PREFIX = "mailhub:api:rate"


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    headers: dict[str, str]


def window_of(rate: float) -> tuple[int, int]:
    """(window seconds, requests allowed in it) for `rate` requests per second."""
    window = 1 if rate >= 1 else math.ceil(1 / rate)
    return window, max(1, math.floor(rate * window))


def admit(api_key_id: int, rate: float | None) -> RateDecision | None:
    """Count one request of the key; None when the key has no limit or Redis is down."""
    if not rate:
        return None
    window, limit = window_of(rate)
    now = time.time()
    window_start = int(now // window) * window
    reset = max(1, math.ceil(window_start + window - now))
    key = f"{KEY_PREFIX}:{api_key_id}:{window_start}"
    try:
        pipe = get_redis().pipeline()
        pipe.incr(key)
        pipe.expire(key, window + 1)
        count = pipe.execute()[0]
    except redis.RedisError as exc:
        log.warning("API rate limit not applied (Redis unavailable): %s", exc)
        return None
    headers = {
        "ratelimit-limit": str(limit),
        "ratelimit-remaining": str(max(0, limit - count)),
        "ratelimit-reset": str(reset),
    }
    if count > limit:
        return RateDecision(False, {**headers, "retry-after": str(reset)})
    return RateDecision(True, headers)
