"""What a worker does: drain a queue's due work, one provider request at a time.

A drain job loops: take a slot from the shared rate limiter, claim the work that one request
can carry (a due frozen batch, or up to 100 due messages, or one message that must go alone),
prepare it (render, drop suppressed, expire), send it, record the outcome. Under a burst one
job sends hundreds of emails per request; on an idle system a lone message goes out at once.

A bulk drain gives way as soon as transactional work waits, and every drain stops after a time
budget and hands over to a fresh job, so no queue is starved.
"""

import logging
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone

from queueing import claims, ratelimit, recording, resend_client, sending_gate
from queueing.claims import BatchClaim, MessageClaim
from queueing.enqueue import queue_for, request_drain
from queueing.events import add_event
from queueing.models import EventKind, FailureCode, Message, Priority
from queueing.payload import build_payload
from queueing.rendering import render_pending
from recipients.selectors import bare_address, suppressed_addresses

log = logging.getLogger(__name__)

DRAIN_BUDGET_SECONDS = 10.0


@dataclass
class DrainReport:
    requests: int = 0
    sent_alone: int = 0
    batched: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    def count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1


def drain(priority: str, *, worker: str = "", budget: float = DRAIN_BUDGET_SECONDS) -> DrainReport:
    report = DrainReport()
    deadline = time.monotonic() + budget
    while True:
        pause = sending_gate.current_pause()
        if pause:
            log.warning("Sending paused (%s); drain of %s stops", pause.reason, priority)
            return report
        if priority == Priority.BULK and queue_for(Priority.TRANSACTIONAL).count:
            request_drain(priority)  # transactional mail first; continue afterwards
            return report
        if time.monotonic() > deadline:
            request_drain(priority)
            return report
        if not send_next(priority, worker, report):
            return report


def send_next(priority: str, worker: str, report: DrainReport) -> bool:
    """Claim, prepare and send one request's worth of work; False when the drain should stop
    (nothing due, or the shared rate limit is further away than a claim may wait)."""
    batch = claims.claim_due_batch(priority, worker=worker)
    if batch is None:
        token, group = claims.claim_messages(
            priority, alone=False, limit=claims.MAX_BATCH, worker=worker
        )
        if not group:
            token, group = claims.claim_messages(priority, alone=True, limit=1, worker=worker)
        if not group:
            return False
        group, rendered = _prepare(token, group)
        if not group:
            return True  # all suppressed or failed before sending
        if len(group) > 1:
            batch = claims.freeze_batch(token, group, worker=worker, rendered=rendered)
        else:
            claims.hold_alone(token, group[0], rendered=bool(rendered))
    # The slot is taken last, right before the call: the provider sees requests spaced as the
    # limiter spaced them, however long claiming and preparing took.
    slot = ratelimit.acquire(max_wait=settings.MAILHUB_LEASE_SECONDS / 3)
    if not slot.granted:
        detail = f"the shared rate limit has no slot for {slot.wait:.1f} s"
        if batch is not None:
            recording.batch_release(batch, slot.wait, EventKind.RATE_LIMITED, detail)
        else:
            recording.message_release(
                MessageClaim(group[0], token), slot.wait, EventKind.RATE_LIMITED, detail
            )
        return False
    report.requests += 1
    if batch is not None:
        report.batched += batch.batch.size
        report.count(send_batch(batch))
    else:
        report.sent_alone += 1
        report.count(send_alone(MessageClaim(group[0], token)))
    return True


def _prepare(token, group: list[Message]) -> tuple[list[Message], list[Message]]:
    """Render, then drop what may not or can no longer be sent. Returns what goes out, and
    which of those were rendered just now (their content is stored before the call)."""
    now = timezone.now()
    expired = [m for m in group if recording.retry_window_passed(m.first_attempt_at, now)]
    if expired:
        recording.messages_failed_before_send(
            token, expired, FailureCode.EXPIRED, {m.pk: recording.expired_error() for m in expired}
        )
    group = [m for m in group if m not in expired]

    rendering = render_pending(group)
    if rendering.failed:
        failed = [m for m in group if m.pk in rendering.failed]
        recording.messages_failed_before_send(
            token, failed, FailureCode.RENDER_ERROR, rendering.failed
        )
    group = [m for m in group if m.pk not in rendering.failed]

    blocked = {**_blocked(group), **rendering.not_eligible}
    if blocked:
        recording.messages_suppressed(token, [m for m in group if m.pk in blocked], blocked)
        group = [m for m in group if m.pk not in blocked]
    return group, [m for m in rendering.rendered if m.pk not in blocked]


def _blocked(group: list[Message]) -> dict[int, str]:
    """Which messages go to an address that may not receive their kind of mail, and why."""
    reasons: dict[int, str] = {}
    for marketing in (False, True):
        subset = [m for m in group if _is_marketing(m) == marketing]
        if not subset:
            continue
        refused = suppressed_addresses(
            {a for m in subset for a in (*m.to, *m.cc, *m.bcc)}, marketing=marketing
        )
        if not refused:
            continue
        for m in subset:
            hits = {bare_address(a) for a in (*m.to, *m.cc, *m.bcc)} & refused.keys()
            if hits:
                reasons[m.pk] = "; ".join(f"{a}: {refused[a]}" for a in sorted(hits))
    return reasons


def _is_marketing(message: Message) -> bool:
    return message.campaign_id is not None or message.priority == Priority.BULK


def send_alone(claim: MessageClaim) -> str:
    message = claim.message
    add_event(
        message.pk,
        EventKind.ATTEMPT,
        f"attempt {message.attempts} of {message.max_attempts}",
        attempt=message.attempts,
        worker=message.claimed_by,
    )
    outcome = resend_client.send_email(
        build_payload(claim.message), idempotency_key=claim.message.idempotency_key
    )
    return recording.record_message_outcome(claim, outcome)


def send_batch(claim: BatchClaim) -> str:
    # Built from the frozen rows in the frozen order: the same body at every attempt.
    body = [build_payload(m, include_attachments=False) for m in claim.members]
    outcome = resend_client.send_batch(body, idempotency_key=claim.batch.idempotency_key)
    return recording.record_batch_outcome(claim, outcome)
