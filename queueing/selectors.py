"""Reads worth naming: the HTTP API's view of a key's own messages."""

import uuid
from dataclasses import dataclass

from queueing.models import ApiKey, Message

MAX_PAGE = 100
DEFAULT_PAGE = 20


@dataclass(frozen=True)
class Page:
    messages: list[Message]
    has_more: bool


def api_message(*, api_key: ApiKey, email_id: str) -> Message | None:
    """The message `email_id` (its uuid) if this key queued it; None otherwise, so another
    key's message is indistinguishable from one that does not exist."""
    try:
        wanted = uuid.UUID(email_id)
    except ValueError:
        return None
    return Message.objects.filter(uuid=wanted, api_key=api_key).first()


def api_messages_page(
    *, api_key: ApiKey, limit: int, after: str | None = None, before: str | None = None
) -> Page | None:
    """A key's messages, newest first, `limit` at a time. `after` (an email id) continues
    towards older messages, `before` towards newer ones; None if the cursor is not one of the
    key's messages. Walks the (api_key, -id) index; never counts."""
    rows = Message.objects.filter(api_key=api_key)
    cursor_id = after or before
    if cursor_id:
        cursor = api_message(api_key=api_key, email_id=cursor_id)
        if cursor is None:
            return None
        if after:
            rows = rows.filter(pk__lt=cursor.pk).order_by("-pk")
        else:
            rows = rows.filter(pk__gt=cursor.pk).order_by("pk")
    else:
        rows = rows.order_by("-pk")
    found = list(rows[: limit + 1])
    has_more = len(found) > limit
    found = found[:limit]
    if before:
        found.reverse()
    return Page(messages=found, has_more=has_more)
