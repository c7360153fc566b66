"""Taking work: conditional updates that only one worker can win.

- base: what a claim is (MessageClaim, BatchClaim) and which messages may be claimed;
- stored: the one-statement claim, on every database (lone messages, SQLite's groups);
- postgres / sqlite: `take_group`, the same signature on each database, chosen here:
  PostgreSQL holds a group under row locks while it is prepared and writes the claim with
  the batch; SQLite stores the claim first;
- batches: freezing a group into a batch, a message going alone, a due batch's retry.
"""

from collections.abc import Callable, Sequence

from django.db import connection

from queueing.claims import postgres, sqlite
from queueing.claims.base import BatchClaim, MessageClaim, claimable_messages, due, has_due_work
from queueing.claims.batches import claim_due_batch, freeze_batch, hold_alone
from queueing.claims.postgres import hold_messages, store_claims
from queueing.claims.stored import claim_after_failure, claim_messages

__all__ = [
    "BatchClaim",
    "MessageClaim",
    "claim_after_failure",
    "claim_due_batch",
    "claim_messages",
    "claimable_messages",
    "claims_at_freeze",
    "due",
    "freeze_batch",
    "has_due_work",
    "hold_alone",
    "hold_messages",
    "store_claims",
    "take_group",
]


def claims_at_freeze() -> bool:
    """True where a group's claim is held in memory until it is frozen (PostgreSQL)."""
    return connection.vendor == "postgresql"


def take_group(
    priorities: Sequence[str], *, limit: int, worker: str, prepare: Callable[..., object]
) -> object | None:
    """Claim a group of due messages for one request and prepare it, the way this database
    does it best (see claims.postgres and claims.sqlite). The due messages of each of
    `priorities` join in turn: a bulk drain's group starts with the transactional messages
    that wait, and bulk fills the rest of the request."""
    side = postgres if claims_at_freeze() else sqlite
    return side.take_group(priorities, limit=limit, worker=worker, prepare=prepare)
