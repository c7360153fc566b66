"""Pieces every outcome writer shares: timeline events, the cleared claim, a lost claim."""

import logging
from collections.abc import Iterable

from django.utils import timezone

from queueing.events import add_events
from queueing.models import Message

log = logging.getLogger("queueing.recording")

PROVIDER = "Resend"


def events(messages: Iterable[Message], kind: str, detail: str, **data) -> None:
    add_events((m.pk, kind, detail, data) for m in messages)


def cleared() -> dict:
    """A claim ends: no token, no lease."""
    return {"claim_token": None, "lease_expires_at": None, "updated_at": timezone.now()}


def lost(what: str) -> str:
    log.warning("%s: claim lost before the outcome was recorded", what)
    return "claim-lost"


def not_allowed_reason(error: str) -> str:
    return f"{PROVIDER} refused the API key or account: {error.rstrip('.')}. Check RESEND_API_KEY."


def conflict_error(error: str) -> str:
    return (
        f"{error}. An earlier attempt under this idempotency key was accepted with another "
        "body; mailhub will not send this message again under another key. Check in "
        f"{PROVIDER} whether it was delivered."
    )


def quota_reason(error: str) -> str:
    return f"{PROVIDER} quota exhausted: {error}"
