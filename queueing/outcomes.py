"""What a call to the provider came to, as small values the worker can match on.

Provider-neutral: each provider maps its own answers to these (Resend's mapping, by status
and error name, is queueing/resend/answers.py).
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Sent:
    provider_id: str


@dataclass(frozen=True)
class Transient:
    """Worth another try with the same key and body: a network error, a timeout, a server
    error, the same key still being processed."""

    error: str


@dataclass(frozen=True)
class RateLimited:
    """The provider's rate limit: wait `retry_after` seconds; costs the message no attempt."""

    retry_after: float
    error: str


@dataclass(frozen=True)
class QuotaExhausted:
    """A daily or monthly quota used up: sending pauses until the quota resets."""

    retry_after: float
    error: str


@dataclass(frozen=True)
class SendingNotAllowed:
    """The key (or the account) cannot send: all sending pauses, nothing fails."""

    error: str


@dataclass(frozen=True)
class Rejected:
    """The provider refused the email itself (validation): never retried."""

    error: str


@dataclass(frozen=True)
class SenderRefused:
    """The provider refuses this sender for this account (an unverified domain, a testing-mode
    restriction, a from address it will not take): the message fails with the provider's
    words and nothing pauses fleet-wide. With `whole_domain`, every message from the same
    from-domain would meet the same refusal, so later ones are held behind a pause of that
    domain (queueing.sender_pauses) until a person lifts it. A batch refused this way is
    split, like any refusal of a whole batch, so the refusal lands on its own member."""

    error: str
    whole_domain: bool = True


@dataclass(frozen=True)
class InProgress:
    """The provider is still working on an earlier request under the same key: ask again in
    `retry_after` seconds; costs the message no attempt."""

    retry_after: float
    error: str


@dataclass(frozen=True)
class IdempotencyConflict:
    """An earlier attempt under this key was accepted with another body. The message must not be sent again under any key; a person decides."""

    error: str


SendOutcome = (
    Sent
    | Transient
    | RateLimited
    | QuotaExhausted
    | SendingNotAllowed
    | Rejected
    | SenderRefused
    | InProgress
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
    | SenderRefused
    | InProgress
    | IdempotencyConflict
)
