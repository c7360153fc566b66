"""Deciding, per API request, which faults to inject.

Every decision draws the same number of random numbers from one seeded generator, whatever
the rates are, so a given seed gives the same fault sequence for the same request order.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

from sandbox.config import SandboxConfig


@dataclass(frozen=True, slots=True)
class FaultPlan:
    fail: bool = False  # answer 500 before processing
    throttle: bool = False  # answer 429 rate_limit_exceeded before processing
    slow: bool = False  # sleep config.slow_seconds before processing
    drop: bool = False  # process, then close the connection without an answer

    @property
    def any(self) -> bool:
        return self.fail or self.throttle or self.slow or self.drop


NO_FAULTS = FaultPlan()


class FaultInjector:
    def __init__(self, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._random = random.Random(seed)

    def reseed(self, seed: int | None) -> None:
        with self._lock:
            self._random = random.Random(seed)

    def plan(self, config: SandboxConfig) -> FaultPlan:
        if not (
            config.fail_rate or config.rate_limit_fault_rate or config.slow_rate or config.drop_rate
        ):
            return NO_FAULTS  # the common case: no lock, no draws
        with self._lock:
            draws = [self._random.random() for _ in range(4)]
        # A 500 wins over a 429: only one of them can be the answer.
        fail = draws[0] < config.fail_rate
        return FaultPlan(
            fail=fail,
            throttle=not fail and draws[1] < config.rate_limit_fault_rate,
            slow=draws[2] < config.slow_rate,
            drop=draws[3] < config.drop_rate,
        )
