"""SQLite: a group of new messages is claimed (and the claim stored) before it is prepared.

SQLite has no row locks; a transaction held open while rendering would stop every other
writer. The same signature as claims.postgres.take_group.
"""

from collections.abc import Callable, Sequence

from queueing.claims.stored import stored_group


def take_group(
    priorities: Sequence[str], *, limit: int, worker: str, prepare: Callable[..., object]
) -> object | None:
    """Claim up to `limit` messages that may join a batch, the due ones of each priority in
    turn (stored at once), and hand them to `prepare(token, group, stored=True)`; None when
    nothing is due."""
    return stored_group(priorities, limit=limit, worker=worker, prepare=prepare)
