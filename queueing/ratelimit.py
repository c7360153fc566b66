"""One request budget for every worker on every machine, kept in Redis.

Resend limits requests per second per team. Instead of a bucket (which allows a burst of a full
bucket), each request reserves the next free slot on one shared timeline, with slots spaced
(1 + margin) / rate seconds apart: any one-second window then holds at most `rate` requests as
the provider sees them, with room for network jitter. Redis' clock is the only clock used, so
machines with skewed clocks still share one timeline. A 429 moves the whole timeline past its
retry-after.
"""

import contextlib
import logging
import math
import time
from dataclasses import dataclass

import redis
from django.conf import settings

from queueing.connection import get_redis

log = logging.getLogger(__name__)

NEXT_SLOT_KEY = "mailhub:ratelimit:next_slot_ms"
PAUSED_UNTIL_KEY = "mailhub:ratelimit:paused_until_ms"
PROVIDER_LIMIT_KEY = "mailhub:ratelimit:provider_limit"
PAUSE_REASON_KEY = "mailhub:ratelimit:pause_reason"

# KEYS: next slot, paused-until. ARGV: spacing ms, longest wait ms a caller accepts, shortest
# wait ms it reserves for (0: any). Returns {1, wait ms, slot ms} for a reserved slot, or
# {0, wait ms, slot ms} when the wait is outside those bounds (nothing reserved, so a caller
# that gives up leaves no hole in the timeline). The slot is on Redis' clock.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local spacing = tonumber(ARGV[1])
local max_wait = tonumber(ARGV[2])
local min_wait = tonumber(ARGV[3])
local slot = math.max(now, tonumber(redis.call('GET', KEYS[1]) or 0),
                      tonumber(redis.call('GET', KEYS[2]) or 0))
local wait = slot - now
if wait > max_wait or wait < min_wait then
  return {0, tostring(wait), tostring(slot)}
end
redis.call('SET', KEYS[1], tostring(slot + spacing), 'PX', math.ceil(wait + spacing + 60000))
return {1, tostring(wait), tostring(slot)}
"""

# KEYS: paused-until. ARGV: pause ms. Never shortens a longer pause already in place.
_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local until_ms = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or 0)
if until_ms > current then
  redis.call('SET', KEYS[1], tostring(until_ms), 'PX', math.ceil(tonumber(ARGV[1]) + 1000))
end
return tostring(until_ms)
"""


@dataclass(frozen=True)
class Reservation:
    """`granted`: wait `wait` seconds, then send. Otherwise the budget is further away than the
    caller accepted and nothing was reserved. `due` is when the slot comes on this process's
    monotonic clock, `slot_ms` the same moment on Redis' clock (0 without a rate limit)."""

    granted: bool
    wait: float
    due: float = 0.0
    slot_ms: float = 0.0


def configured_rate() -> float:
    """Requests per second: RESEND_RATE_LIMIT, lowered to what Resend last announced."""
    rate = float(settings.RESEND_RATE_LIMIT)
    if rate <= 0:
        return 0.0
    try:
        announced = get_redis().get(PROVIDER_LIMIT_KEY)
    except redis.RedisError:
        announced = None
    if announced:
        rate = min(rate, float(announced))
    return rate


def spacing_ms(rate: float) -> float:
    margin = float(settings.RESEND_RATE_LIMIT_MARGIN)
    return 1000.0 * (1.0 + margin) / rate


def reserve(max_wait: float, min_wait: float = 0.0) -> Reservation:
    """Reserve the next request slot if it comes within `max_wait` seconds (and not sooner
    than `min_wait`)."""
    rate = configured_rate()
    if rate <= 0:
        paused = _paused_for()
        if paused > max_wait:
            return Reservation(False, paused)
        return Reservation(True, paused)
    spacing = spacing_ms(rate)
    result = get_redis().eval(
        _RESERVE, 2, NEXT_SLOT_KEY, PAUSED_UNTIL_KEY, spacing, max_wait * 1000, min_wait * 1000
    )
    granted, wait_ms, slot_ms = result
    wait = float(wait_ms) / 1000
    return Reservation(bool(granted), wait, time.monotonic() + wait, float(slot_ms))


def reserve_ahead(max_wait: float, min_wait: float) -> Reservation | None:
    """Reserve the next slot before the request for it is prepared, so that its content is
    fixed as late as possible (queueing.delivery). None, and nothing reserved, when there is
    no rate limit or the next slot comes sooner than `min_wait` (the time preparing takes):
    the slot is then best taken right before the call, as `acquire` does. A reservation that
    is not granted: the slot is further away than `max_wait`."""
    if configured_rate() <= 0:
        return None
    reservation = reserve(max_wait, min_wait)
    if not reservation.granted and reservation.wait < min_wait:
        return None
    return reservation


def wait_for(reservation: Reservation) -> bool:
    """Sleep until a slot reserved ahead comes. False when it cannot be used any more: a 429
    has since held the timeline past it (the pause came after the reservation), or this
    process woke too late for it; the caller then takes a new slot (`acquire`). The pause is
    looked up just before the slot, so that nothing but the lateness check stands between
    the slot and the call."""
    delay = reservation.due - PAUSE_CHECK_AHEAD - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    paused_until = get_redis().get(PAUSED_UNTIL_KEY)
    if paused_until and float(paused_until) > reservation.slot_ms:
        return False
    delay = reservation.due - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    if time.monotonic() - reservation.due > MAX_LATENESS:
        log.debug("Woke too late for a slot reserved ahead; taking a new one")
        return False
    return True


PAUSE_CHECK_AHEAD = 0.005


# A caller that wakes up later than this after its slot (a busy CPU, a long GC) lets the slot
# go and takes a new one: sent late, its request could land in the next one's window.
MAX_LATENESS = 0.010


def acquire(max_wait: float) -> Reservation:
    """Reserve a slot and sleep until it comes; returns the reservation (granted or not)."""
    deadline = time.monotonic() + max_wait
    while True:
        reservation = reserve(max(deadline - time.monotonic(), 0.0))
        if not reservation.granted:
            return reservation
        due = time.monotonic() + reservation.wait
        if reservation.wait > 0:
            time.sleep(reservation.wait)
        if reservation.wait == 0 or time.monotonic() - due <= MAX_LATENESS:
            return reservation
        log.debug("Woke %.0f ms after the slot; taking a new one", 1000 * (time.monotonic() - due))


def pause(seconds: float, reason: str = "") -> None:
    """Hold every worker's requests for `seconds` (after a 429 with retry-after); `reason` is
    kept beside it for the dashboard."""
    seconds = max(seconds, 0.0)
    get_redis().eval(_PAUSE, 1, PAUSED_UNTIL_KEY, seconds * 1000)
    if reason:
        with contextlib.suppress(redis.RedisError):
            get_redis().set(PAUSE_REASON_KEY, reason[:500], px=math.ceil(seconds * 1000) + 1000)


@dataclass(frozen=True)
class LimiterState:
    """The shared timeline as Redis has it now (for the dashboard and the status command)."""

    rate: float  # requests per second; 0: no limit
    next_slot_in: float  # seconds until the next free slot (0: free now)
    paused_for: float  # seconds the timeline is held after a 429 (0: not held)
    pause_reason: str


def limiter_state() -> LimiterState:
    """One round trip (TIME and the keys in a pipeline); zeros when Redis cannot answer."""
    rate = configured_rate()
    try:
        pipe = get_redis().pipeline(transaction=False)
        pipe.time()
        pipe.mget(NEXT_SLOT_KEY, PAUSED_UNTIL_KEY, PAUSE_REASON_KEY)
        (seconds, micros), (next_slot, paused_until, reason) = pipe.execute()
    except redis.RedisError as exc:
        log.warning("rate limiter state unavailable (Redis: %s)", exc)
        return LimiterState(rate, 0.0, 0.0, "")
    now_ms = seconds * 1000 + micros / 1000

    def ahead(raw: bytes | None) -> float:
        return max(float(raw) - now_ms, 0.0) / 1000 if raw else 0.0

    paused_for = ahead(paused_until)
    return LimiterState(
        rate=rate,
        next_slot_in=max(ahead(next_slot), paused_for),
        paused_for=paused_for,
        pause_reason=(reason or b"").decode() if paused_for else "",
    )


def observe_provider_limit(limit: float) -> None:
    """Remember the `ratelimit-limit` Resend announced, if lower than what is configured."""
    # With no configured limit there is nothing to lower (the sandbox announces a huge one).
    if 0 < limit < settings.RESEND_RATE_LIMIT:
        try:
            get_redis().set(PROVIDER_LIMIT_KEY, limit, ex=3600)
        except redis.RedisError:
            log.warning("Could not record Resend's announced rate limit")


def _paused_for() -> float:
    raw = get_redis().get(PAUSED_UNTIL_KEY)
    if not raw:
        return 0.0
    redis_seconds, micros = get_redis().time()
    return max(float(raw) / 1000 - (redis_seconds + micros / 1e6), 0.0)
