"""What the sandbox does: auth, limits, validation and how often it misbehaves on purpose.

A config is immutable and validated on construction, so the server can swap the whole object
atomically when it is changed at runtime (POST /_sandbox/config) and a request in flight keeps
seeing one consistent set of values.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from queueing.resend.webhook_signing import new_secret, secret_key
from sandbox.webhook_payloads import OUTCOMES

_RATE_FIELDS = ("fail_rate", "rate_limit_fault_rate", "slow_rate", "drop_rate")
_WEBHOOK_RATES = ("webhook_duplicates", "webhook_out_of_order")
_WEBHOOK_FLOATS = ("webhook_delay_min", "webhook_delay_max", "webhook_backoff", *_WEBHOOK_RATES)


@dataclass(frozen=True)
class SandboxConfig:
    # None: any non-empty Bearer token is accepted; a string: only that token.
    api_key: str | None = None
    # Admitted API requests per second (sliding window); 0 means unlimited.
    rate_limit: float = 0
    # Shares of API requests that get an injected fault, each in [0, 1].
    fail_rate: float = 0  # 500 internal_server_error before processing; nothing stored
    rate_limit_fault_rate: float = 0  # 429 rate_limit_exceeded with retry-after
    slow_rate: float = 0  # the request sleeps `slow_seconds` before it is processed
    slow_seconds: float = 2.0
    drop_rate: float = 0  # processed and stored, then the connection closes without an answer
    # After this many accepted emails, sends get 429 daily_quota_exceeded (None: no quota).
    daily_quota: int | None = None
    # Sending domains the account has "not verified": a send from one gets Resend's 403
    # validation_error (a whole batch does, if any of its emails is).
    unverified_domains: tuple[str, ...] = ()
    validate: bool = True
    seed: int | None = None  # makes the fault sequence reproducible
    record_file: str | None = None  # one JSON line per accepted email, for other processes
    # Webhooks (sandbox.webhooks): None sends none. Every accepted email's events are posted
    # there, signed with `webhook_secret` ("whsec_" + base64; one is generated if absent).
    webhook_url: str | None = None
    webhook_secret: str | None = None
    # Outcome name (sandbox.webhook_payloads.CHAINS) -> weight; an email gets one of them.
    webhook_mix: dict[str, float] = field(default_factory=lambda: {"delivered": 1.0})
    # Seconds before each event goes (after the previous one of its email), drawn in range.
    webhook_delay_min: float = 0
    webhook_delay_max: float = 0
    webhook_duplicates: float = 0  # share of events delivered twice (same svix-id)
    webhook_out_of_order: float = 0  # share of emails whose events are shuffled
    webhook_attempts: int = 4  # tries per event (non-2xx or no answer: try again)
    webhook_backoff: float = 0.5  # seconds before the 2nd try; doubled for each next one

    def __post_init__(self) -> None:
        if self.api_key is not None and (not isinstance(self.api_key, str) or not self.api_key):
            raise ValueError("api_key must be a non-empty string or None")
        _number("rate_limit", self.rate_limit, minimum=0)
        for name in _RATE_FIELDS:
            value = _number(name, getattr(self, name), minimum=0)
            if value > 1:
                raise ValueError(f"{name} must be between 0 and 1, got {value!r}")
        _number("slow_seconds", self.slow_seconds, minimum=0)
        if self.daily_quota is not None:
            _integer("daily_quota", self.daily_quota, minimum=0)
        domains = self.unverified_domains
        if isinstance(domains, str) or not isinstance(domains, list | tuple):
            raise ValueError(f"unverified_domains must be a list of domains, got {domains!r}")
        if not all(isinstance(d, str) and d.strip() for d in domains):
            raise ValueError(f"unverified_domains must hold non-empty strings, got {domains!r}")
        object.__setattr__(self, "unverified_domains", tuple(d.strip().lower() for d in domains))
        if not isinstance(self.validate, bool):
            raise ValueError(f"validate must be true or false, got {self.validate!r}")
        if self.seed is not None:
            _integer("seed", self.seed, minimum=None)
        if self.record_file is not None and (
            not isinstance(self.record_file, str) or not self.record_file
        ):
            raise ValueError("record_file must be a non-empty path or None")
        self._check_webhooks()
        # Store numbers as floats so to_dict() is stable whatever type the caller passed.
        for name in ("rate_limit", "slow_seconds", *_RATE_FIELDS, *_WEBHOOK_FLOATS):
            object.__setattr__(self, name, float(getattr(self, name)))

    def _check_webhooks(self) -> None:
        url = self.webhook_url
        if url is not None:
            parts = urlsplit(url) if isinstance(url, str) else None
            if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError(f"webhook_url must be an http(s) URL or None, got {url!r}")
        if self.webhook_secret is not None:
            try:
                secret_key(self.webhook_secret)
            except ValueError as exc:
                raise ValueError(f"webhook_secret {exc}") from None
        elif url is not None:
            object.__setattr__(self, "webhook_secret", new_secret())
        object.__setattr__(self, "webhook_mix", _mix(self.webhook_mix))
        for name in _WEBHOOK_FLOATS:
            value = _number(name, getattr(self, name), minimum=0)
            if name in _WEBHOOK_RATES and value > 1:
                raise ValueError(f"{name} must be between 0 and 1, got {value!r}")
        if self.webhook_delay_min > self.webhook_delay_max:
            raise ValueError(
                f"webhook_delay_min ({self.webhook_delay_min!r}) must not be more than "
                f"webhook_delay_max ({self.webhook_delay_max!r})"
            )
        _integer("webhook_attempts", self.webhook_attempts, minimum=1)

    def updated(self, changes: Mapping[str, Any]) -> SandboxConfig:
        """A new config with `changes` applied; ValueError names an unknown field or bad value."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(
                f"unknown config field(s): {', '.join(unknown)}; "
                f"known fields are: {', '.join(sorted(known))}"
            )
        return dataclasses.replace(self, **dict(changes))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (lists, not tuples), so it compares equal after a round trip."""
        values = dataclasses.asdict(self)
        values["unverified_domains"] = list(self.unverified_domains)
        return values


def _mix(value: Any) -> dict[str, float]:
    """{outcome: weight}: known outcomes, weights >= 0, at least one above 0."""
    if not isinstance(value, Mapping) or not value:
        raise ValueError(f"webhook_mix must map outcomes to weights, got {value!r}")
    unknown = sorted(str(name) for name in value if name not in OUTCOMES)
    if unknown:
        raise ValueError(
            f"webhook_mix: unknown outcome(s) {', '.join(unknown)}; "
            f"known outcomes are: {', '.join(OUTCOMES)}"
        )
    mix = {name: _number(f"webhook_mix[{name}]", w, minimum=0) for name, w in value.items()}
    if not any(mix.values()):
        raise ValueError("webhook_mix needs at least one weight above 0")
    return mix


def _number(name: str, value: Any, *, minimum: float) -> float:
    # bool is an int subclass; "rate_limit": true is a mistake, not 1.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value) or value < minimum:
        raise ValueError(f"{name} must be a finite number >= {minimum}, got {value!r}")
    return float(value)


def _integer(name: str, value: Any, *, minimum: int | None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return value
