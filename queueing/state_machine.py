"""The Message state machine: the allowed status changes, and the guarded writes that make them.

The statuses are defined with the model (queueing.models.MessageStatus, the field's choices).
This module holds the transitions as a table, and every status change of a Message or a
SendBatch row goes through `move`, `move_each` or `move_batch` here: each checks the change
against the table, and writes only rows that are still in the expected status (and, where the
caller filters on it, still hold the caller's claim token), so a worker that lost its claim, or
a second click, changes nothing. New rows are checked with `check_created`.

`None` as a from-status means "no row yet" (created). Writes that change content but not the
status (e.g. storing rendered content under a claim) are moves from a status to itself, which
are always allowed. Provider events after `sent` (delivered, opened, bounced, …) move a
message only up PROVIDER_STATUS_RANK: their rows are every pair of ranked statuses from a lower
to a higher rank, derived from the ranking so the two cannot disagree.
"""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from queueing.bulk_sql import update_rows
from queueing.exceptions import IllegalTransition
from queueing.models import (
    PROVIDER_STATUS_RANK,
    BatchStatus,
    Message,
    MessageStatus,
    SendBatch,
)

S = MessageStatus
B = BatchStatus

# (from, to): the service(s) that make it. docs/ARCHITECTURE.md draws this table; a test
# walks it (every row is reachable through a service) and checks the drawing against it.
TRANSITIONS: dict[tuple[str | None, str], str] = {
    (None, S.QUEUED): "message_create, messages_create_many, fanout.messages_fan_out",
    (None, S.SCHEDULED): "message_create with a future scheduled_at",
    (S.SCHEDULED, S.QUEUED): "reconciler: its time came; message_reschedule to a time that has come",
    (S.SCHEDULED, S.CANCELLED): "message_cancel, campaign_messages_cancel",
    (S.QUEUED, S.CANCELLED): "message_cancel, campaign_messages_cancel (never inside a frozen batch)",
    (S.QUEUED, S.SENDING): "claims: a worker takes it, with a token and a lease",
    (S.SENDING, S.SENT): "recording: the provider accepted it",
    (S.SENDING, S.QUEUED): "recording: transient failure, released, batch split; reconciler: lease ran out",
    (S.SENDING, S.FAILED): "recording: refused, attempts used up, retry window passed; reconciler: worker lost",
    (S.SENDING, S.SUPPRESSED): "delivery: the address may not receive it (no provider call)",
    (S.FAILED, S.QUEUED): "message_retry: a person retries it",
}  # fmt: skip

PROVIDER_MOVE = (
    "provider events: a higher-ranked event (provider_events.ranking; at sent, "
    "recording applies again one that came early)"
)
# sent → delivered, delivered → opened, opened → bounced, …: up the ranking, never down, and
# never away from a final provider status (bounced, complained, failed, suppressed).
TRANSITIONS.update(
    {
        (from_, to): PROVIDER_MOVE
        for from_, low in PROVIDER_STATUS_RANK.items()
        for to, high in PROVIDER_STATUS_RANK.items()
        if low < high
    }
)

BATCH_TRANSITIONS: dict[tuple[str | None, str], str] = {
    (None, B.SENDING): "claims.freeze_batch: frozen and claimed for its first call",
    (B.QUEUED, B.SENDING): "claims.claim_due_batch: its retry is due",
    (B.SENDING, B.DONE): "recording: the provider answered for every member",
    (B.SENDING, B.QUEUED): "recording: transient failure or released; reconciler: lease ran out",
    (B.SENDING, B.FAILED): "recording: attempts used up, window passed, idempotency conflict",
    (B.SENDING, B.SPLIT): "recording: refused as a whole; members go alone",
}  # fmt: skip


def _froms(from_: str | Iterable[str]) -> tuple[str, ...]:
    return (from_,) if isinstance(from_, str) else tuple(from_)


def check(from_: str | Iterable[str] | None, to: str, *, table=TRANSITIONS) -> None:
    """Raise IllegalTransition unless every from-status may move to `to`."""
    for status in (None,) if from_ is None else _froms(from_):
        if status != to and (status, to) not in table:
            raise IllegalTransition(f"{status or 'new'} → {to} is not an allowed transition")


def check_created(status: str) -> None:
    check(None, status)


def _in(froms: tuple[str, ...]) -> dict[str, Any]:
    # `status = %s` for the common single status: simpler SQL, and cheaper to compile.
    return {"status": froms[0]} if len(froms) == 1 else {"status__in": froms}


def move(rows: QuerySet[Message], to: str, *, from_: str | Iterable[str], **fields: Any) -> int:
    """Set `to` (and `fields`) on those of `rows` still in `from_`; returns how many moved.
    A move from a status to itself writes `fields` only (content under a claim): it sets
    neither the status nor, unless given, updated_at."""
    froms = _froms(from_)
    check(froms, to)
    if froms != (to,):
        fields["status"] = to
        fields.setdefault("updated_at", timezone.now())
    return rows.filter(**_in(froms)).update(**fields)


def move_each(
    columns: Sequence[str],
    values: Mapping[int, Sequence[Any]],
    to: str,
    *,
    from_: str,
    set_also: Mapping[str, Any] | None = None,
    where: Mapping[str, Any] | None = None,
) -> int:
    """Like `move`, with values of `columns` per row (by primary key), in one set-based
    statement (queueing.bulk_sql.update_rows): the send path's writes of 100 rows."""
    check(from_, to)
    also = dict(set_also or {})
    if to != from_:
        also["status"] = to
        if "updated_at" not in columns:
            also.setdefault("updated_at", timezone.now())
    return update_rows(
        Message, columns, values, set_also=also, where={**(where or {}), "status": from_}
    )


def move_batch(
    rows: QuerySet[SendBatch], to: str, *, from_: str | Iterable[str], **fields: Any
) -> int:
    froms = _froms(from_)
    check(froms, to, table=BATCH_TRANSITIONS)
    return rows.filter(**_in(froms)).update(status=to, **fields)


def check_batch_created(status: str) -> None:
    check(None, status, table=BATCH_TRANSITIONS)
