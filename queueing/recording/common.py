"""Pieces every outcome writer shares: timeline events, the cleared claim, a lost claim."""

import logging
from collections.abc import Iterable

from django.utils import timezone

from queueing.events import add_events
from queueing.models import Message
from queueing.provider import get_provider

log = logging.getLogger("queueing.recording")


def provider_name() -> str:
    return get_provider().name


def events(messages: Iterable[Message], kind: str, detail: str, **data) -> None:
    add_events((m.pk, kind, detail, data) for m in messages)


def cleared() -> dict:
    """A claim ends: no token, no lease."""
    return {"claim_token": None, "lease_expires_at": None, "updated_at": timezone.now()}


def lost(what: str) -> str:
    log.warning("%s: claim lost before the outcome was recorded", what)
    return "claim-lost"


def not_allowed_reason(error: str) -> str:
    return f"{provider_name()} refused the API key or account: {error.rstrip('.')}."


def conflict_error(error: str) -> str:
    return (
        f"{error}. An earlier attempt under this idempotency key was accepted with another "
        "body; mailhub will not send this message again under another key. Check in "
        f"{provider_name()} whether it was delivered."
    )


def quota_reason(error: str) -> str:
    return f"{provider_name()} quota exhausted: {error}"
