"""A fleet-wide pause on sending: the provider's automatic one, and a person's.

Automatic: a refused API key (401, 403 invalid_api_key), a wrong API URL or an exhausted
daily/monthly quota stops every worker until the cause clears, without failing or using up
attempts of the messages waiting. That pause lives in Redis (every worker on every machine
sees it, and it ends by itself); it says why, for the admin and the logs. (A refused sender
pauses only its domain: queueing.sender_pauses.)

By hand: an operator's pause (`pause_sending`, the dashboard) is an `OperatorPause` row,
because Redis may be flushed and a person's "stop" must survive that. The drain asks the gate
before every request, so the row is read at most once per `MAILHUB_PAUSE_CACHE_SECONDS` per
process (one indexed read of a table of a few rows): a pause reaches every worker within that
time, and a busy worker makes one small query a second, not one per request. The database
stays the only truth; there is no copy in Redis to get out of step.
"""

import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from audit.services import audit_record
from queueing.connection import get_redis
from queueing.enqueue import request_drain_on_commit
from queueing.models import OperatorPause, Priority

log = logging.getLogger(__name__)

PAUSE_KEY = "mailhub:sending:pause"

PROVIDER = "provider"
OPERATOR = "operator"


@dataclass(frozen=True)
class SendingPause:
    reason: str
    until: float | None  # epoch seconds; None: until someone resumes
    source: str = PROVIDER  # PROVIDER (quota, key: Redis) or OPERATOR (a person: database)
    by: str = ""  # the person, for an operator's pause

    @property
    def seconds_left(self) -> float | None:
        return None if self.until is None else max(self.until - time.time(), 0.0)

    @property
    def release_delay(self) -> float:
        """How long work released because of this pause waits before it is due again; an
        open-ended pause releases it due at once (nothing is claimed while paused, and
        resuming asks for drains)."""
        return self.seconds_left or 0.0


def pause_sending(reason: str, seconds: float, *, actor: AbstractBaseUser | None = None) -> None:
    """The automatic pause (Redis), for `seconds`: the provider's answer did it (quota, key).
    `actor` is recorded in the audit log if a person caused it."""
    seconds = max(seconds, 1.0)
    audit_record(actor=actor, action="sending.pause", detail={"reason": reason, "seconds": seconds})
    log.error("Sending paused for %.0f s: %s", seconds, reason)
    value = json.dumps({"reason": reason, "until": time.time() + seconds})
    try:
        get_redis().set(PAUSE_KEY, value, px=int(seconds * 1000))
    except redis.RedisError:
        log.exception("Could not record the sending pause in Redis")


def operator_pause(
    *,
    reason: str,
    minutes: float | None = None,
    actor: AbstractBaseUser | None = None,
    via: str = "admin",
) -> OperatorPause:
    """A person stops all sending (permission queueing.pause_sending), for `minutes` or until
    resumed. Replaces any pause of theirs already in place (one active row at most)."""
    reason = reason.strip()
    if not reason:
        raise ValueError("a pause needs a reason")
    if minutes is not None and minutes <= 0:
        raise ValueError("minutes must be more than 0")
    by = actor if actor is not None and actor.is_authenticated else None
    now = timezone.now()
    until = now + timedelta(minutes=minutes) if minutes is not None else None
    with transaction.atomic():
        _active(now).update(lifted_at=now, lifted_by=by)
        pause = OperatorPause.objects.create(reason=reason[:500], until=until, created_by=by)
        audit_record(
            actor=by,
            action="sending.pause",
            detail={"reason": reason, "minutes": minutes, "source": OPERATOR, "via": via},
        )
    _forget_cached()
    log.error("Sending paused by %s: %s", by or "an operator", reason)
    return pause


def resume_sending(*, actor: AbstractBaseUser | None = None, via: str = "admin") -> bool:
    """Lift every pause, the operator's and the automatic one; asks both queues for a drain.
    True if a pause was in place."""
    by = actor if actor is not None and actor.is_authenticated else None
    now = timezone.now()
    with transaction.atomic():
        lifted = _active(now).update(lifted_at=now, lifted_by=by)
        try:
            lifted += get_redis().delete(PAUSE_KEY)
        except redis.RedisError:
            log.exception("Could not clear the automatic sending pause in Redis")
        audit_record(actor=by, action="sending.resume", detail={"via": via})
        for priority in Priority.values:
            request_drain_on_commit(priority)
    _forget_cached()
    return bool(lifted)


def current_pauses() -> list[SendingPause]:
    """Every pause in place, the operator's first (it does not end by itself)."""
    pauses = [p for p in (_operator_pause_cached(), provider_pause()) if p is not None]
    return pauses


def current_pause() -> SendingPause | None:
    """The pause the drain obeys, if any."""
    pauses = current_pauses()
    return pauses[0] if pauses else None


def provider_pause() -> SendingPause | None:
    try:
        raw = get_redis().get(PAUSE_KEY)
    except redis.RedisError:
        return None
    if not raw:
        return None
    data = json.loads(raw)
    return SendingPause(reason=data["reason"], until=float(data["until"]), source=PROVIDER)


def _active(now: datetime) -> QuerySet[OperatorPause]:
    return OperatorPause.objects.filter(lifted_at__isnull=True).filter(
        Q(until__isnull=True) | Q(until__gt=now)
    )


def operator_pause_now() -> SendingPause | None:
    """The operator's pause as the database has it now (no cache)."""
    row = (
        _active(timezone.now())
        .select_related("created_by")
        .order_by("-created_at")
        .only("reason", "until", "created_by__username")
        .first()
    )
    if row is None:
        return None
    return SendingPause(
        reason=row.reason,
        until=row.until.timestamp() if row.until else None,
        source=OPERATOR,
        by=row.created_by.get_username() if row.created_by else "",
    )


# Per process: (monotonic time the value expires, value).
_cached: tuple[float, SendingPause | None] = (0.0, None)


def _operator_pause_cached() -> SendingPause | None:
    global _cached
    expires, value = _cached
    now = time.monotonic()
    if now >= expires:
        value = operator_pause_now()
        _cached = (now + settings.MAILHUB_PAUSE_CACHE_SECONDS, value)
    if value is not None and value.until is not None and value.until <= time.time():
        return None  # a timed pause ended meanwhile
    return value


def _forget_cached() -> None:
    global _cached
    _cached = (0.0, None)
