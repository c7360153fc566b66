"""Reads worth naming: the HTTP API's view of a key's own messages; the admin's searches."""

import uuid
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from queueing.message_addresses import search_form
from queueing.models import ApiKey, Message, MessageAddress, MessageEvent, SendBatch

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


# --- the admin's reads: search, a batch's members, a message's page ---

# Subject words are matched among this many newest messages only: a "contains" match has no
# index to use, and on a million rows an unbounded one reads them all.
SUBJECT_SEARCH_ROWS = 100_000
# The longest search term looked up (an address is at most 320 characters, a subject 998).
MAX_SEARCH = 998


def message_search(rows: QuerySet[Message], term: str) -> QuerySet[Message]:
    """`rows` narrowed to what `term` names; every branch is bounded by an index:
    - an address (holds `@`): exact match on its bare, lower-case form, among every
      recipient (Message.to_address, then MessageAddress for the others);
    - a uuid: the message's uuid or Resend's id for it; `#123` or `123`: the message id;
    - anything else: Resend's id (exact) if a message has it, else words of the subject
      among the newest SUBJECT_SEARCH_ROWS messages (a range of the primary key).
    A term that fits none of them finds nothing; nothing here raises on odd input."""
    term = term.strip()[:MAX_SEARCH]
    if not term:
        return rows
    if not term.isprintable():
        return rows.none()  # no address, id or subject holds a control character (or NUL)
    if "@" in term:
        return _by_address(rows, term)
    try:
        wanted = uuid.UUID(term)
    except ValueError:
        pass
    else:
        return rows.filter(Q(uuid=wanted) | Q(provider_id=term))
    digits = term.removeprefix("#")
    if digits.isascii() and digits.isdigit():
        return rows.filter(pk=int(digits)) if len(digits) < 19 else rows.none()
    # Resend's id first, alone (an OR with the subject's range would read the whole table).
    by_provider = list(Message.objects.filter(provider_id=term).values_list("pk", flat=True)[:10])
    if by_provider:
        return rows.filter(pk__in=by_provider)
    newest = Message.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    return rows.filter(pk__gt=newest - SUBJECT_SEARCH_ROWS, subject__icontains=term)


def _by_address(rows: QuerySet[Message], term: str) -> QuerySet[Message]:
    address = search_form(term)
    if not address:
        return rows.none()
    # The other recipients' rows first, as ids: `to_address = x OR id IN (subquery)` would
    # defeat both indexes on PostgreSQL (a filter over the whole table); with a list of ids
    # the two are index lookups (a BitmapOr), and with none the first is an ordered scan.
    others = list(
        MessageAddress.objects.filter(address=address)
        .order_by("-message_id")
        .values_list("message_id", flat=True)[:ADDRESS_MATCHES]
    )
    first = Q(to_address=address)
    return rows.filter(first | Q(pk__in=others)) if others else rows.filter(first)


# Messages found through their other recipients (cc, bcc, the rest of `to`), newest first.
ADDRESS_MATCHES = 1000


def batch_members(batch: SendBatch) -> list[Message]:
    """A batch's messages in request order (item i of the request is member_ids[i])."""
    ids = [pk for pk in batch.member_ids if isinstance(pk, int)]
    found = Message.objects.only("id", "status", "to", "subject").in_bulk(ids)
    return [found[pk] for pk in ids if pk in found]


def message_timeline(message: Message) -> list[MessageEvent]:
    """A message's timeline, oldest first (event_message_idx)."""
    return list(MessageEvent.objects.filter(message=message).order_by("created_at", "id"))
