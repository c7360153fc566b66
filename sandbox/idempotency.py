"""Resend's Idempotency-Key semantics.

A key is claimed when its first request starts and holds the fingerprint of that request
(method, path and raw body). Only a successful answer is remembered; an error releases the key
so that a retry can succeed. Keys expire `ttl` seconds after they were first claimed.
Not thread-safe on its own; SandboxState calls it under its lock.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

DEFAULT_TTL = 24 * 60 * 60


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    status: int
    body: bytes


class ClaimResult(enum.Enum):
    NEW = "new"  # the caller owns the key: process, then complete() or release()
    REPLAY = "replay"  # a finished answer exists: send it again
    IN_FLIGHT = "in_flight"  # same key, same body, first request still running
    MISMATCH = "mismatch"  # same key, different request


@dataclass(slots=True)
class _Entry:
    fingerprint: str
    claimed_at: float
    answer: StoredAnswer | None = None


@dataclass(frozen=True, slots=True)
class Claim:
    result: ClaimResult
    answer: StoredAnswer | None = None


@dataclass
class IdempotencyCache:
    ttl: float = DEFAULT_TTL
    # Insertion order is claim order, so expired keys are always at the front.
    _entries: dict[str, _Entry] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()

    def claim(self, key: str, fingerprint: str, now: float) -> Claim:
        self._expire(now)
        entry = self._entries.get(key)
        if entry is None:
            self._entries[key] = _Entry(fingerprint, now)
            return Claim(ClaimResult.NEW)
        if entry.fingerprint != fingerprint:
            return Claim(ClaimResult.MISMATCH)
        if entry.answer is None:
            return Claim(ClaimResult.IN_FLIGHT)
        return Claim(ClaimResult.REPLAY, entry.answer)

    def complete(self, key: str, answer: StoredAnswer) -> None:
        entry = self._entries.get(key)
        if entry is not None:
            entry.answer = answer

    def release(self, key: str) -> None:
        entry = self._entries.get(key)
        if entry is not None and entry.answer is None:
            del self._entries[key]

    def _expire(self, now: float) -> None:
        entries = self._entries
        while entries:
            oldest_key = next(iter(entries))
            if entries[oldest_key].claimed_at + self.ttl > now:
                return
            del entries[oldest_key]
