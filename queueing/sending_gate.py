"""A fleet-wide pause on sending, for answers that no retry of one message can fix.

A refused API key (401, 403 invalid_api_key), a wrong API URL or an exhausted daily/monthly
quota stops every worker until the cause clears, without failing or using up attempts of the
messages waiting. (A refused sender pauses only its domain: queueing.sender_pauses.) The pause lives in
Redis so every worker on every machine sees it; it says why, for the admin and the logs.
"""

import json
import logging
import time
from dataclasses import dataclass

import redis
from django.contrib.auth.models import AbstractBaseUser

from audit.services import audit_record
from queueing.connection import get_redis

log = logging.getLogger(__name__)

PAUSE_KEY = "mailhub:sending:pause"


@dataclass(frozen=True)
class SendingPause:
    reason: str
    until: float  # epoch seconds

    @property
    def seconds_left(self) -> float:
        return max(self.until - time.time(), 0.0)


def pause_sending(reason: str, seconds: float, *, actor: AbstractBaseUser | None = None) -> None:
    """Pause all sending for `seconds`; `actor` is the person who did it (audit log), none
    when the provider's answer did (the permission for people: queueing.pause_sending)."""
    seconds = max(seconds, 1.0)
    audit_record(actor=actor, action="sending.pause", detail={"reason": reason, "seconds": seconds})
    log.error("Sending paused for %.0f s: %s", seconds, reason)
    value = json.dumps({"reason": reason, "until": time.time() + seconds})
    try:
        get_redis().set(PAUSE_KEY, value, px=int(seconds * 1000))
    except redis.RedisError:
        log.exception("Could not record the sending pause in Redis")


def current_pause() -> SendingPause | None:
    try:
        raw = get_redis().get(PAUSE_KEY)
    except redis.RedisError:
        return None
    if not raw:
        return None
    data = json.loads(raw)
    return SendingPause(reason=data["reason"], until=float(data["until"]))


def resume_sending(*, actor: AbstractBaseUser | None = None) -> None:
    get_redis().delete(PAUSE_KEY)
    audit_record(actor=actor, action="sending.resume")
