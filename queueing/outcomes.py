"""What a call to Resend came to, as small values the worker can match on."""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Sent:
    provider_id: str


@dataclass(frozen=True)
class Transient:
    """Worth another try with the same key and body: network error, timeout, 5xx, 409 busy."""

    error: str


@dataclass(frozen=True)
class RateLimited:
    """429 rate_limit_exceeded: wait `retry_after` seconds; costs the message no attempt."""

    retry_after: float
    error: str


@dataclass(frozen=True)
class QuotaExhausted:
    """429 daily/monthly quota: sending pauses until the quota resets."""

    retry_after: float
    error: str


@dataclass(frozen=True)
class SendingNotAllowed:
    """401/403: the key (or the account) cannot send; all sending pauses, nothing fails."""

    error: str


@dataclass(frozen=True)
class Rejected:
    """Resend refused the email itself (validation): never retried."""

    error: str


@dataclass(frozen=True)
class IdempotencyConflict:
    """409 invalid_idempotent_request: an earlier attempt under this key was accepted with
    another body. The message must not be sent again under any key; a person decides."""

    error: str


SendOutcome = (
    Sent
    | Transient
    | RateLimited
    | QuotaExhausted
    | SendingNotAllowed
    | Rejected
    | IdempotencyConflict
)


@dataclass(frozen=True)
class BatchAccepted:
    """The batch call succeeded; `items[i]` is Sent or Rejected for request item i."""

    items: list[Sent | Rejected] = field(default_factory=list)


BatchOutcome = (
    BatchAccepted
    | Transient
    | RateLimited
    | QuotaExhausted
    | SendingNotAllowed
    | Rejected
    | IdempotencyConflict
)
