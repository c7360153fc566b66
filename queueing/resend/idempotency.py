"""Resend's Idempotency-Key rules, without the storage.

A key is valid with 1 to MAX_IDEMPOTENCY_KEY_LENGTH characters. The first request under a key
claims it with its fingerprint (method, path and exact body bytes). A later request under the
same key gets, while the key lives (IDEMPOTENCY_KEY_HOURS from the claim):
- another fingerprint: 409 invalid_idempotent_request;
- the same fingerprint, first request still running: 409 concurrent_idempotent_requests;
- the same fingerprint, first request answered: that answer again (a replay).
Only a success is remembered; an error releases the key, so a corrected retry can succeed.
Whoever stores keys (the sandbox in memory, an HTTP API elsewhere) decides with these functions.
"""

from __future__ import annotations

import enum

from queueing.resend import errors
from queueing.resend.errors import ResendError
from queueing.resend.limits import IDEMPOTENCY_KEY_HOURS, MAX_IDEMPOTENCY_KEY_LENGTH

KEY_TTL_SECONDS = IDEMPOTENCY_KEY_HOURS * 60 * 60


class KeyState(enum.Enum):
    NEW = "new"  # the caller owns the key: process, then remember a success or release it
    REPLAY = "replay"  # a finished answer exists: send it again
    IN_FLIGHT = "in_flight"  # same key, same request, first request still running
    MISMATCH = "mismatch"  # same key, another request


def key_error(key: str | None) -> ResendError | None:
    """None for a valid key or no key at all (a request without one is never deduplicated)."""
    if key is not None and not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY_LENGTH:
        return errors.invalid_idempotency_key()
    return None


def fingerprint(method: str, path: str, body_sha256: str) -> str:
    """Same key, same request: the method, the path and the exact body bytes (by their hash)."""
    return f"{method} {path} {body_sha256}"


def key_state(claimed_by: str | None, request: str, *, answered: bool) -> KeyState:
    """What the request with fingerprint `request` meets under a key claimed by the fingerprint
    `claimed_by` (None: the key is free), whose first request was `answered` or not."""
    if claimed_by is None:
        return KeyState.NEW
    if claimed_by != request:
        return KeyState.MISMATCH
    return KeyState.REPLAY if answered else KeyState.IN_FLIGHT


def conflict_error(state: KeyState) -> ResendError | None:
    """The 409 for a key in use by another request or by one still running; None otherwise."""
    if state is KeyState.MISMATCH:
        return errors.invalid_idempotent_request()
    if state is KeyState.IN_FLIGHT:
        return errors.concurrent_idempotent_requests()
    return None


def remembers(status: int) -> bool:
    """Whether an answer with `status` is kept under its key (a success) or releases it."""
    return 200 <= status < 300
