"""A message's status after a provider event: only up PROVIDER_STATUS_RANK, never down.

Shared by the processing of webhooks and by recording, which, when a worker records `sent`,
applies again the highest-ranked event that arrived while the worker still held the message
(so an early `delivered` is not lost under a late `sent`).
"""

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.utils import timezone

from queueing import state_machine
from queueing.bulk_sql import select_in
from queueing.events import add_events
from queueing.models import (
    PROVIDER_STATUS_RANK,
    EventKind,
    FailureCode,
    Message,
    MessageEvent,
    MessageStatus,
)
from queueing.recording.announce import notify_campaigns
from queueing.resend.events import kind_of

S = MessageStatus


def target_status(current: str, kind: str) -> str | None:
    """The status an event of `kind` gives a message now in `current`, or None: recorded on
    the timeline only (lower or equal rank, an event with no status, or a message not yet
    sent, e.g. one a worker still holds)."""
    if kind not in PROVIDER_STATUS_RANK or current not in PROVIDER_STATUS_RANK:
        return None
    return kind if PROVIDER_STATUS_RANK[kind] > PROVIDER_STATUS_RANK[current] else None


@dataclass(frozen=True)
class Move:
    message: Message  # as loaded (its campaign for the counters)
    from_: str
    to: str
    reason: str = ""  # for failed: Resend's reason, kept as last_error


def apply_moves(moves: Iterable[Move]) -> set[int]:
    """Make the moves (one guarded statement per from/to/reason); returns the ids that moved.

    A message Resend failed after accepting it (`email.failed`) leaves the campaign's `sent`
    counter for `failed`, so it is never counted twice."""
    groups: dict[tuple[str, str, str], list[Message]] = defaultdict(list)
    for move in moves:
        groups[(move.from_, move.to, move.reason)].append(move.message)
    moved: set[int] = set()
    now = timezone.now()
    for (from_, to, reason), messages in groups.items():
        ids = [m.pk for m in messages]
        fields = {"updated_at": now}
        if to == S.FAILED:
            fields |= {
                "failure_code": FailureCode.PROVIDER_FAILED,
                "last_error": f"failed at Resend after acceptance: {reason or 'no reason given'}",
            }
        count = state_machine.move(Message.objects.filter(pk__in=ids), to, from_=from_, **fields)
        done = messages if count == len(ids) else [m for m in messages if m.pk in _now_in(ids, to)]
        moved.update(m.pk for m in done)
        if to == S.FAILED:
            notify_campaigns(done, S.SENT, count=-1)
            notify_campaigns(done, S.FAILED)
    return moved


def _now_in(ids: list[int], status: str) -> set[int]:
    return set(Message.objects.filter(pk__in=ids, status=status).values_list("pk", flat=True))


def reapply_after_sent(messages: Iterable[Message]) -> int:
    """Just recorded `sent` for these messages: apply the highest-ranked provider event each
    already has on its timeline (it came while a worker held the message). Returns how many
    moved. One indexed read for the whole batch; nothing more when there are none."""
    by_id = {m.pk: m for m in messages}
    if not by_id:
        return 0
    best: dict[int, tuple[str, str]] = {}  # message id → (kind, failure reason)
    # Raw rows (bulk_sql): run for every batch sent, where building the ORM's IN (…) of 100
    # ids cost more than the indexed read itself. `data` comes back as JSON text.
    rows = select_in(
        MessageEvent,
        ("message", "provider_event", "data"),
        "message",
        list(by_id),
        where={"kind": EventKind.PROVIDER},
    )
    for message_id, provider_event, data in rows:
        kind = kind_of(provider_event)
        current = best.get(message_id, (S.SENT, ""))[0]
        if target_status(current, kind):
            details = json.loads(data) if data else None
            reason = details.get("reason", "") if isinstance(details, Mapping) else ""
            best[message_id] = (kind, reason)
    if not best:
        return 0
    moves = [Move(by_id[pk], S.SENT, kind, reason) for pk, (kind, reason) in best.items()]
    moved = apply_moves(moves)
    add_events(
        (pk, EventKind.PROVIDER, f"status {best[pk][0]}: an event that came before sent", {})
        for pk in moved
    )
    return len(moved)
