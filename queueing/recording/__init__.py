"""Recording what the provider answered, only while the claim that asked still stands.

One dispatcher, `record_outcome`, turns every outcome (queueing.outcomes) into the same step
for one message (recording.messages) or a frozen batch (recording.batches): the two sides
have the same verbs (transient, release, failed, rejected, conflict) and differ only in what
they write. Fleet-wide consequences (a rate-limit pause, a sending pause) are taken here once;
a sender refused by the provider fails alone and pauses only its domain (a refused batch is
split first, so the refusal lands on the member it concerns).
Status changes of campaign messages are announced inside the same transaction
(recording.announce), so campaign counters always match the rows.
"""

from types import ModuleType

from queueing import ratelimit, sending_gate
from queueing.claims import BatchClaim, MessageClaim
from queueing.metrics import catalogue
from queueing.metrics import tally as metrics
from queueing.models import EventKind
from queueing.outcomes import (
    BatchAccepted,
    BatchOutcome,
    IdempotencyConflict,
    InProgress,
    QuotaExhausted,
    RateLimited,
    Rejected,
    SenderRefused,
    SendingNotAllowed,
    SendOutcome,
    Sent,
    Transient,
)
from queueing.recording import batches, messages
from queueing.recording.common import conflict_error, not_allowed_reason, quota_reason
from queueing.retry_policy import NOT_ALLOWED_PAUSE_SECONDS


def record_outcome(claim: MessageClaim | BatchClaim, outcome: SendOutcome | BatchOutcome) -> str:
    """Record `outcome` for the claimed message or batch; returns a short word for reports."""
    side: ModuleType = batches if isinstance(claim, BatchClaim) else messages
    match outcome:
        case Sent(provider_id=provider_id) if isinstance(claim, MessageClaim):
            return messages.sent(claim, provider_id)
        case BatchAccepted(items=items) if isinstance(claim, BatchClaim):
            return batches.answered(claim, items)
        case Transient(error=error):
            return side.transient(claim, error)
        case RateLimited(retry_after=retry_after, error=error):
            ratelimit.pause(retry_after, f"Resend answered 429: {error}")
            metrics.count(catalogue.RATELIMIT_PAUSES)
            return side.release(claim, retry_after, EventKind.RATE_LIMITED, error)
        case QuotaExhausted(retry_after=retry_after, error=error):
            sending_gate.pause_sending(quota_reason(error), retry_after)
            metrics.count(catalogue.SENDING_PAUSES, reason="quota")
            return side.release(claim, retry_after, EventKind.PAUSED, error)
        case SendingNotAllowed(error=error):
            reason = not_allowed_reason(error)
            sending_gate.pause_sending(reason, NOT_ALLOWED_PAUSE_SECONDS)
            metrics.count(catalogue.SENDING_PAUSES, reason="not_allowed")
            return side.release(claim, NOT_ALLOWED_PAUSE_SECONDS, EventKind.PAUSED, reason)
        case InProgress(retry_after=retry_after, error=error):
            detail = f"{error}; asked again in {retry_after:.0f} s, no attempt spent"
            return side.release(claim, retry_after, EventKind.RETRY, detail)
        case Rejected(error=error):
            return side.rejected(claim, error)
        case SenderRefused(error=error) if isinstance(claim, BatchClaim):
            # Which member's sender? Each goes alone, and the refusal lands on its own.
            return batches.rejected(claim, error)
        case SenderRefused(error=error, whole_domain=whole_domain):
            return messages.sender_refused(claim, error, whole_domain=whole_domain)
        case IdempotencyConflict(error=error):
            return side.conflict(claim, conflict_error(error))
    raise TypeError(f"no recording for {outcome!r} of {type(claim).__name__}")


def release(claim: MessageClaim | BatchClaim, delay: float, kind: str, detail: str) -> str:
    """Give a claimed request back to the queue without a call (no attempt spent)."""
    side: ModuleType = batches if isinstance(claim, BatchClaim) else messages
    return side.release(claim, delay, kind, detail)
