"""Resend's per-team request limit, as a sliding window over admitted requests.

A rate of R requests per second admits C = max(1, floor(R)) requests in any window of C / R
seconds: 2/s is "2 in any second", 0.5/s is "1 in any two seconds". Not thread-safe on its
own; SandboxState calls it under its lock.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

# What the ratelimit-* headers announce when the sandbox has no limit (rate_limit=0).
UNLIMITED = 1_000_000


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    reset: int  # whole seconds until a slot frees up
    retry_after: int  # only meaningful when not allowed; always >= 1

    def headers(self) -> dict[str, str]:
        return {
            "ratelimit-limit": str(self.limit),
            "ratelimit-remaining": str(self.remaining),
            "ratelimit-reset": str(self.reset),
        }


class SlidingWindow:
    def __init__(self) -> None:
        self._admitted: deque[float] = deque()

    def clear(self) -> None:
        self._admitted.clear()

    def admit(self, now: float, rate: float) -> RateDecision:
        """Admit one request at monotonic time `now` if the window has room."""
        return self._decide(now, rate, take=True)

    def peek(self, now: float, rate: float) -> RateDecision:
        """The headers for an answer that was not admitted (404, 401...): takes no slot."""
        return self._decide(now, rate, take=False)

    def _decide(self, now: float, rate: float, *, take: bool) -> RateDecision:
        if rate <= 0:
            return RateDecision(True, UNLIMITED, UNLIMITED, 1, 1)
        capacity = max(1, math.floor(rate))
        window = capacity / rate
        admitted = self._admitted
        while admitted and admitted[0] <= now - window:
            admitted.popleft()
        allowed = len(admitted) < capacity
        if allowed and take:
            admitted.append(now)
        # Seconds until the oldest admitted request leaves the window and frees a slot.
        wait = (admitted[0] + window - now) if admitted else 0.0
        seconds = max(1, math.ceil(wait))
        return RateDecision(
            allowed=allowed,
            limit=capacity,
            remaining=max(0, capacity - len(admitted)),
            reset=seconds,
            retry_after=seconds,
        )
