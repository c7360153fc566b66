"""Counters over every API request the sandbox received, kept incrementally.

They are independent of the (bounded) request log, so the figures stay exact on long runs.
Not thread-safe on its own; SandboxState updates it under its lock.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

# Outcomes written in the request log (and counted in by_outcome).
ACCEPTED = "accepted"  # emails stored
REPLAYED = "replayed"  # an idempotent replay of an earlier answer
OK = "ok"  # a successful read, reschedule or cancel
REJECTED = "rejected"  # any other 4xx: validation, auth, idempotency conflicts, not found
RATE_LIMITED = "rate_limited"  # the real sliding-window limit said no
QUOTA_EXCEEDED = "quota_exceeded"
FAULT_500 = "fault_500"
FAULT_429 = "fault_429"
SCRIPTED = "scripted"  # an error answer asked for on demand (sandbox.scripted)
DROPPED = "dropped"  # processed, answer never written
ERROR = "error"  # a bug in the sandbox itself (500 application error)


class BusiestSecond:
    """The most requests that arrived within any one-second span (arrival order = time order)."""

    def __init__(self) -> None:
        self._recent: deque[float] = deque()
        self.maximum = 0

    def add(self, now: float) -> None:
        recent = self._recent
        recent.append(now)
        while recent[0] <= now - 1.0:
            recent.popleft()
        self.maximum = max(self.maximum, len(recent))


@dataclass
class Stats:
    requests: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    by_outcome: Counter[str] = field(default_factory=Counter)
    accepted_emails: int = 0
    replayed: int = 0
    rate_limited: int = 0  # every 429 sent: the limit, injected ones and the quota
    faults: Counter[str] = field(default_factory=Counter)
    first_accepted_at: float | None = None
    last_accepted_at: float | None = None
    busiest: BusiestSecond = field(default_factory=BusiestSecond)

    def arrived(self, monotonic_now: float) -> None:
        self.requests += 1
        self.busiest.add(monotonic_now)

    def answered(self, status: int | None, outcome: str, slow: bool) -> None:
        self.by_outcome[outcome] += 1
        if status is not None:
            self.by_status[str(status)] += 1
            if status == 429:
                self.rate_limited += 1
        if outcome == REPLAYED:
            self.replayed += 1
        elif outcome == FAULT_500:
            self.faults["error_500"] += 1
        elif outcome == FAULT_429:
            self.faults["rate_limit_429"] += 1
        elif outcome == DROPPED:
            self.faults["drop"] += 1
        if slow:
            self.faults["slow"] += 1

    def accepted(self, count: int, wall_now: float) -> None:
        self.accepted_emails += count
        if self.first_accepted_at is None:
            self.first_accepted_at = wall_now
        self.last_accepted_at = wall_now

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "by_status": dict(sorted(self.by_status.items())),
            "by_outcome": dict(sorted(self.by_outcome.items())),
            "accepted_emails": self.accepted_emails,
            "replayed": self.replayed,
            "rate_limited": self.rate_limited,
            "faults": {
                kind: self.faults[kind] for kind in ("error_500", "rate_limit_429", "slow", "drop")
            },
            "max_requests_in_any_1s_window": self.busiest.maximum,
            "first_accepted_at": self.first_accepted_at,
            "last_accepted_at": self.last_accepted_at,
        }
