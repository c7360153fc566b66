"""PostgreSQL: a group of new messages is claimed in the transaction that freezes it.

The rows are locked (FOR UPDATE SKIP LOCKED: other workers pass over them), rendered, and
then written once, claim, batch and content together. Each write of a row is a new row
version with an entry in every index of the table; claiming this way saves one of the three
per email. (SQLite has no row locks, and a transaction held open while rendering would stop
every other writer: there the claim is stored first, see claims.sqlite.)
"""

import functools
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from django.db import connection, transaction
from django.utils import timezone

from queueing import holding, state_machine
from queueing.claims.base import CLAIM_COLUMNS, claim_fields, claimable_messages
from queueing.claims.stored import claim_after_failure, from_cursor, stored_group
from queueing.models import Message, MessageStatus


def hold_messages(
    priority: str, *, limit: int, worker: str, token: uuid.UUID | None = None
) -> tuple[uuid.UUID, list[Message]]:
    """Lock up to `limit` due messages that may join a batch and give them a claim (under
    `token`, a new one if None) in memory only; call inside a transaction, and store the
    claim before it ends (store_claims, freeze_batch or hold_alone with stored=False)."""
    if not connection.in_atomic_block:
        raise RuntimeError("hold_messages locks rows: call it inside transaction.atomic()")
    token = token or uuid.uuid4()
    return from_cursor(
        (priority, False),
        lambda after: _hold(priority, limit=limit, worker=worker, after=after, token=token),
    )


def _hold(
    priority: str, *, limit: int, worker: str, after: int, token: uuid.UUID
) -> tuple[uuid.UUID, list]:
    now = timezone.now()
    sql, params, now_at, after_at = _hold_statement(priority, limit)
    values = [now if i in now_at else after if i == after_at else p for i, p in enumerate(params)]
    held = list(Message.objects.raw(sql, values))
    fields = claim_fields(token, worker, now)
    for message in held:  # what the stored claim's statement sets, in memory
        for name, value in fields.items():
            setattr(message, name, value)
        message.attempts += 1
        message.first_attempt_at = message.first_attempt_at or now
    return token, held


# Stand-ins for the two values that change from one hold to the next, compiled into the
# statement once and replaced by position at every hold.
_NOW = datetime(2000, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
_AFTER = -987_654_321_987


@functools.lru_cache(maxsize=32)
def _hold_statement(priority: str, limit: int) -> tuple[str, tuple, frozenset[int], int]:
    """The hold's SELECT … FOR UPDATE SKIP LOCKED, compiled by the ORM once per priority and
    limit: building it (the claimable filter with its subqueries) cost more than running it.
    Returns the SQL, its parameters, and where `now` and `after` go in them."""
    query = (
        claimable_messages(priority, _NOW)
        .filter(send_alone=False, id__gt=_AFTER)
        .order_by("id")
        .select_for_update(skip_locked=True, of=("self",))[:limit]
    )
    sql, params = query.query.sql_with_params()
    now_at = frozenset(i for i, p in enumerate(params) if p == _NOW)
    after_at = [i for i, p in enumerate(params) if p == _AFTER]
    if not now_at or len(after_at) != 1:  # pragma: no cover - the query's shape changed
        raise RuntimeError("the hold statement's time or cursor parameter was not found")
    return sql, tuple(params), now_at, after_at[0]


# What a held claim writes per row when it is stored (the status is set by the move).
HELD_COLUMNS = tuple(c for c in CLAIM_COLUMNS if c != "status")


def _claim_values(message: Message) -> tuple:
    return tuple(getattr(message, column) for column in HELD_COLUMNS)


def store_held(messages: list[Message], columns: tuple[str, ...], values) -> None:
    """Write held rows (claim columns first); they are locked by this transaction, so each
    is still queued."""
    changed = state_machine.move_each(
        (*HELD_COLUMNS, *columns),
        {m.pk: (*_claim_values(m), *values(m)) for m in messages},
        MessageStatus.SENDING,
        from_=MessageStatus.QUEUED,
    )
    if changed != len(messages):  # pragma: no cover - the rows are locked
        raise RuntimeError(f"stored {changed} of {len(messages)} held claims")


def store_claims(messages: list[Message]) -> None:
    """Store the claim of held messages as they are (before recording why they do not go)."""
    store_held(messages, (), lambda m: ())


def take_group(
    priorities: Sequence[str], *, limit: int, worker: str, prepare: Callable[..., object]
) -> object | None:
    """Hold up to `limit` messages that may join a batch, the due ones of each priority in
    turn, and hand them to `prepare(token, group, stored=False)` inside the holding
    transaction; None when nothing is due. After a job died holding (queueing.holding), the
    group is claimed the stored way."""
    if not holding.may_hold(worker):
        return stored_group(priorities, limit=limit, worker=worker, prepare=prepare)
    held: list[Message] = []
    try:
        with transaction.atomic():
            token = uuid.uuid4()
            for priority in priorities:
                if len(held) < limit:
                    held += hold_messages(
                        priority, limit=limit - len(held), worker=worker, token=token
                    )[1]
            return prepare(token, held, stored=False) if held else None
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException:
        # Nothing of the held claims was written. Claim them the stored way, so that this
        # failure counts as an attempt of each (the reconciler brings them back after the
        # lease, and fails them after the last attempt) instead of the next drain taking
        # the same group and failing on it again, forever.
        claim_after_failure([m.pk for m in held], worker=worker)
        raise
    finally:
        holding.done(worker)
