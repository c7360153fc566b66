"""The sandbox's Idempotency-Key cache: keys in memory, decided by Resend's rules
(`queueing.resend.idempotency`).

A key is claimed when its first request starts and holds that request's fingerprint; the
answer is stored once it succeeds, or the key released after an error. Keys expire `ttl`
seconds after they were first claimed. Not thread-safe on its own; SandboxState calls it under
its lock.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from queueing.resend.idempotency import KEY_TTL_SECONDS, KeyState, key_state


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    status: int
    body: bytes


@dataclass(slots=True)
class _Entry:
    fingerprint: str
    claimed_at: float
    answer: StoredAnswer | None = None


@dataclass(frozen=True, slots=True)
class Claim:
    state: KeyState
    answer: StoredAnswer | None = None


@dataclass
class IdempotencyCache:
    ttl: float = KEY_TTL_SECONDS
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
            return Claim(KeyState.NEW)
        state = key_state(entry.fingerprint, fingerprint, answered=entry.answer is not None)
        return Claim(state, entry.answer if state is KeyState.REPLAY else None)

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
