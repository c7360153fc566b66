"""What a worker does: drain a queue's due work, one provider request at a time.

A drain job loops: take a slot from the shared rate limiter, claim the work that one request
can carry (a due frozen batch, or up to 100 due messages, or one message that must go alone),
prepare it (render, drop suppressed, expire), send it, record the outcome. Under a burst one
job sends hundreds of emails per request; on an idle system a lone message goes out at once.

Under a rate limit each request's slot is reserved first and the request is prepared just
before it, and a bulk drain's requests start with any transactional mail that waits, so a
transactional message leaves in one of the next slots during a campaign. Every drain stops
after a time budget and hands over to a fresh job, so no queue is starved.

One concern (the drain loop and the steps of one request), which the claim, the rendering,
the provider and the recording it calls keep in modules of their own.
"""

import logging
import statistics
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial

from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone

from queueing import claims, hooks, ratelimit, recording, sending_gate
from queueing.addresses import bare_address
from queueing.claims import BatchClaim, MessageClaim
from queueing.enqueue import hold_drain_flag, queue_for, release_drain_flag, request_drain
from queueing.events import add_event
from queueing.metrics import catalogue
from queueing.metrics import tally as metrics
from queueing.models import EventKind, FailureCode, Message, Priority
from queueing.provider import get_provider
from queueing.recording import dropped
from queueing.recording.announce import notifications_combined
from queueing.rendering import render_pending
from queueing.request_report import provider_request_done
from queueing.retry_policy import expired_error, retry_window_passed

log = logging.getLogger(__name__)

DRAIN_BUDGET_SECONDS = 10.0
# Frozen batches due for a retry are looked for at least this often during a drain (and
# whenever no new message is due); looking before every request costs a query per request.
DUE_BATCH_CHECK_SECONDS = 1.0


@dataclass
class DrainReport:
    requests: int = 0
    sent_alone: int = 0
    batched: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    due_batches_checked_at: float = float("-inf")

    def count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    def add(self, result: "SendResult") -> None:
        if result.requested:
            self.requests += 1
            self.batched += result.batched
            self.sent_alone += 0 if result.batched else 1
        self.count(result.outcome)


@dataclass
class Request:
    """One provider call's worth of claimed, prepared work: a frozen batch or one message."""

    batch: BatchClaim | None = None
    alone: MessageClaim | None = None

    def carries(self, priority: str) -> bool:
        members = self.batch.members if self.batch else [self.alone.message] if self.alone else []
        return any(m.priority == priority for m in members)


@dataclass(frozen=True)
class SendResult:
    outcome: str
    requested: bool  # a call was made (False: released for want of a slot, or paused)
    batched: int = 0

    @property
    def keep_going(self) -> bool:
        return self.requested


def drain(priority: str, *, worker: str = "", budget: float = DRAIN_BUDGET_SECONDS) -> DrainReport:
    """Send due work until none is left, the budget is spent, or the gate closes.

    Pipelined: while one request is with the provider (on a helper thread), the next one is
    claimed, rendered and frozen here, so a worker's CPU is not idle during the call. At most
    one request is in flight per worker.

    Under a rate limit the next request's slot is reserved first, and the request is claimed
    and frozen only just before that slot (`_Pacing`): what arrived in the meantime still makes
    it into the request. A bulk drain serves transactional mail that waits: its next request
    starts with the transactional messages and bulk fills the rest of it, so a password reset
    leaves in the next slot without costing the campaign a request of its own."""
    report = DrainReport()
    deadline = time.monotonic() + budget
    pacing = _Pacing()
    holds = _holds_transactional(priority)
    try:
        with _Sender() as sender:
            _drain_loop(priority, worker, report, deadline, pacing, sender, holds)
    finally:
        if holds:
            release_drain_flag(Priority.TRANSACTIONAL, work_left=_transactional_due)
    return report


def _drain_loop(
    priority: str,
    worker: str,
    report: DrainReport,
    deadline: float,
    pacing: "_Pacing",
    sender: "_Sender",
    holds: bool,
) -> None:
    while True:
        if holds:
            hold_drain_flag(Priority.TRANSACTIONAL)  # refreshed: a drain job clears it
        if not sender.keep_going:
            break
        pause = sending_gate.current_pause()
        if pause:
            log.warning("Sending paused (%s); drain of %s stops", pause.reason, priority)
            break
        if time.monotonic() > deadline:
            request_drain(priority)
            break
        if pacing.reserves_ahead():
            # The previous request goes first: a slot reserved while it still waits for its
            # own (or, having missed it, for a new one) could pass before the sender is free.
            sender.wait()
            if not sender.keep_going:
                break
        slot = pacing.slot_ahead()
        started = time.monotonic()
        request = prepare_next(_served(priority), worker, report)
        pacing.prepared(time.monotonic() - started)
        if request is None:
            break
        if request.batch is not None and request.batch.batch.size >= _room():
            # A full batch means a backlog: ask for a second drain, which an idle worker
            # takes (one waiting job at most, however often this asks).
            request_drain(priority)
        if request.batch or request.alone:
            sender.submit(request, report, slot)
            pacing.used(full=bool(request.batch) and request.batch.batch.size >= _room())
            # Transactional mail is done (this request was bulk filling the room, or a bulk
            # retry) unless some is still due; bulk has drains of its own.
            if (
                priority == Priority.TRANSACTIONAL
                and not request.carries(priority)
                and not _transactional_due()
            ):
                break


def _holds_transactional(priority: str) -> bool:
    """A bulk drain that takes transactional mail into every request (under a rate limit)
    stands in for transactional drain jobs while it runs (enqueue.hold_drain_flag)."""
    return priority == Priority.BULK and _rate_limited()


def _rate_limited() -> bool:
    return float(settings.RESEND_RATE_LIMIT) > 0


def _transactional_due() -> bool:
    return claims.has_due_work(Priority.TRANSACTIONAL, timezone.now())


def _room() -> int:
    return get_provider().max_batch


def _served(priority: str) -> tuple[str, ...]:
    """The priorities a drain of `priority` takes work from, most urgent first.

    Under a rate limit every drain takes transactional mail first and fills the rest of the
    request with bulk: a request costs the same with 1 email or 100, and it is the request
    that the limit makes scarce; and a transactional message then leaves in whichever
    worker's request is frozen next (its own drain job may be waiting for a slot). Without a
    limit a transactional drain keeps to its own queue, and a bulk drain takes transactional
    mail ahead of its own while a drain job for it waits."""
    if _rate_limited():
        return (Priority.TRANSACTIONAL, Priority.BULK)
    if priority == Priority.BULK and queue_for(Priority.TRANSACTIONAL).count:
        return (Priority.TRANSACTIONAL, Priority.BULK)
    return (priority,)


class _Pacing:
    """When the next request's slot is some way off, claim and prepare the request just
    before the slot instead of right away: a message that arrives meanwhile joins it.

    The lead is the time preparing usually takes, with room to spare; preparing that runs
    past the slot only costs that slot (send_request takes the next one). After a request
    that was not full the queue is likely empty: the next one is prepared at once, so a drain
    with nothing left ends without holding a slot it will not use."""

    # Before the first request of a drain is timed: a drain runs in a fresh job process (a new
    # database connection, cold caches), whose first preparation is its slowest.
    DEFAULT_LEAD = 0.5
    MIN_LEAD = 0.05

    def __init__(self) -> None:
        self._recent: deque[float] = deque(maxlen=5)
        self._slot: ratelimit.Reservation | None = None
        self._backlog = True  # a drain starts because work waits

    def lead(self) -> float:
        if not self._recent:
            return self.DEFAULT_LEAD
        # The median: one slow preparation (a cold cache, a busy core) costs at most its own
        # slot, instead of pulling the next few preparations away from theirs.
        return max(1.5 * statistics.median(self._recent) + 0.03, self.MIN_LEAD)

    def reserves_ahead(self) -> bool:
        """Whether the next request may get a slot reserved ahead: a backlog, and a rate limit
        whose slots are further apart than preparing takes (at a higher limit the next slot
        is always near: the request is prepared while the previous one is sent, pipelined)."""
        if not (self._backlog and _rate_limited()):
            return False
        spacing = ratelimit.spacing_ms(float(settings.RESEND_RATE_LIMIT)) / 1000
        return spacing > self.lead()

    def slot_ahead(self) -> ratelimit.Reservation | None:
        """Reserve the next slot (unless one is kept from a request that came to nothing) and
        sleep until the lead before it. None without a rate limit, when the next slot is
        nearer than the lead (prepare at once), or further away than a drain waits: then
        send_request takes a slot right before the call, as without a reservation."""
        if not self._backlog:
            return None
        if self._slot is None or self._slot.due < time.monotonic():
            slot = ratelimit.reserve_ahead(
                max_wait=settings.MAILHUB_LEASE_SECONDS / 3, min_wait=self.lead()
            )
            self._slot = slot if slot is not None and slot.granted else None
        if self._slot is not None:
            delay = self._slot.due - self.lead() - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        return self._slot

    def prepared(self, seconds: float) -> None:
        self._recent.append(seconds)

    def used(self, *, full: bool) -> None:
        self._slot = None
        self._backlog = full


def send_next(priority: str, worker: str, report: DrainReport) -> bool:
    """Claim, prepare and send one request's worth of work, all in this thread; False when
    the drain should stop (nothing due, or the shared rate limit is too far away)."""
    request = prepare_next((priority,), worker, report)
    if request is None:
        return False
    if request.batch or request.alone:
        result = send_request(request)
        report.add(result)
        return result.keep_going
    return True


def prepare_next(priorities: tuple[str, ...], worker: str, report: DrainReport) -> Request | None:
    """Claim and prepare the next request from the due work of `priorities` (most urgent
    first): a due retry of a frozen batch, or up to 100 due messages (rendered, checked,
    frozen into a batch; each priority's in turn), or one message that goes alone. A more
    urgent priority's message that must go alone goes before a group of a later one.
    None when nothing is due; an empty Request when all it claimed was dropped before
    sending (suppressed, expired, unrenderable)."""
    now = time.monotonic()
    if now - report.due_batches_checked_at >= DUE_BATCH_CHECK_SECONDS:
        report.due_batches_checked_at = now
        batch = _due_batch(priorities, worker)
        if batch is not None:
            return Request(batch=batch)
    for priority in priorities[:-1]:
        request = _take_alone(priority, worker)
        if request is not None:
            return request
    request = claims.take_group(
        priorities,
        limit=get_provider().max_batch,
        worker=worker,
        prepare=partial(_prepared, worker=worker),
    )
    if request is not None:
        return request
    request = _take_alone(priorities[-1], worker)
    if request is not None:
        return request
    # Nothing new is due; a frozen batch's retry may be.
    report.due_batches_checked_at = time.monotonic()
    batch = _due_batch(priorities, worker)
    return Request(batch=batch) if batch is not None else None


def _due_batch(priorities: tuple[str, ...], worker: str) -> BatchClaim | None:
    for priority in priorities:
        batch = claims.claim_due_batch(priority, worker=worker)
        if batch is not None:
            return batch
    return None


def _take_alone(priority: str, worker: str) -> Request | None:
    token, group = claims.claim_messages(priority, alone=True, limit=1, worker=worker)
    return _prepared(token, group, worker=worker, stored=True) if group else None


def _prepared(token, group: list[Message], *, worker: str, stored: bool) -> Request:
    """Prepare claimed messages (see _prepare) and fix how they go out: frozen into a batch,
    or alone. `stored=False`: their claim is still only held (claims.hold_messages)."""
    group, rendered = _prepare(token, group, stored=stored)
    if not group:
        return Request()
    if len(group) > 1:
        return Request(
            batch=claims.freeze_batch(token, group, worker=worker, rendered=rendered, stored=stored)
        )
    claims.hold_alone(token, group[0], rendered=bool(rendered), stored=stored)
    return Request(alone=MessageClaim(group[0], token))


def send_request(request: Request, slot: ratelimit.Reservation | None = None) -> SendResult:
    """Take a slot from the shared limiter, make the call, record the outcome. The slot is
    taken last, right before the call (or, reserved ahead by the drain, waited for here and
    given up for a new one if missed): the provider sees requests spaced as the limiter
    spaced them, however long claiming and preparing took."""
    # Everything counted for this request reaches Redis in one round trip, at the end.
    with metrics.request_tally():
        pause = sending_gate.current_pause()
        if pause:
            # Paused while this request was being prepared (e.g. by the previous answer).
            _release(request, pause.release_delay, EventKind.PAUSED, pause.reason)
            return SendResult("released", requested=False)
        if slot is None or not ratelimit.wait_for(slot):
            slot = ratelimit.acquire(max_wait=settings.MAILHUB_LEASE_SECONDS / 3)
        if not slot.granted:
            metrics.count(catalogue.RATELIMIT_NO_SLOT)
            detail = f"the shared rate limit has no slot for {slot.wait:.1f} s"
            _release(request, slot.wait, EventKind.RATE_LIMITED, detail)
            return SendResult("released", requested=False)
        metrics.observe(catalogue.RATELIMIT_WAIT, slot.wait)
        if request.batch is not None:
            return SendResult(send_batch(request.batch), True, batched=request.batch.batch.size)
        return SendResult(send_alone(request.alone), True)


def _release(request: Request, delay: float, kind: str, detail: str) -> None:
    recording.release(request.batch or request.alone, delay, kind, detail)


class _Sender:
    """Sends prepared requests on one helper thread, one at a time, in order."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mailhub-send")
        self._in_flight: Future | None = None
        self._report: DrainReport | None = None
        self.keep_going = True

    def submit(
        self, request: Request, report: DrainReport, slot: ratelimit.Reservation | None = None
    ) -> None:
        self.wait()
        if not self.keep_going:
            # The last call said stop (no slot in reach, or paused): give this one back.
            self._in_flight = self._pool.submit(_release_for_stop, request)
            self.wait()
            return
        self._report = report
        self._in_flight = self._pool.submit(send_request, request, slot)

    def wait(self) -> None:
        if self._in_flight is None:
            return
        future, self._in_flight = self._in_flight, None
        result = future.result()  # a failure here fails the job; leases bring the work back
        if isinstance(result, SendResult) and self._report is not None:
            self._report.add(result)
            self.keep_going = result.keep_going

    def __enter__(self) -> "_Sender":
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.wait()
        finally:
            # The helper thread's own database connection ends with it.
            self._pool.submit(connections.close_all).result()
            self._pool.shutdown(wait=True)


def _release_for_stop(request: Request) -> None:
    _release(request, 0.0, EventKind.RATE_LIMITED, "the drain stopped before this request")


def _prepare(token, group: list[Message], *, stored: bool) -> tuple[list[Message], list[Message]]:
    """Render, then drop what may not or can no longer be sent. Returns what goes out, and
    which of those were rendered just now (their content is stored before the call). What is
    dropped is recorded after rendering, in one go (campaign rows are locked once, in one
    order, and not while rendering); held claims (`stored=False`) of what is dropped are
    stored first, so it is recorded as any claimed message is."""
    now = timezone.now()
    expired = [m for m in group if retry_window_passed(m.first_attempt_at, now)]
    group = [m for m in group if m not in expired]
    rendering = render_pending(group)
    failed = [m for m in group if m.pk in rendering.failed]
    group = [m for m in group if m.pk not in rendering.failed]
    blocked = {**_blocked(group), **rendering.not_eligible}
    suppressed = [m for m in group if m.pk in blocked]
    group = [m for m in group if m.pk not in blocked]
    if expired or failed or suppressed:
        # The counters must change in the transaction that changes the rows.
        with transaction.atomic(), notifications_combined():
            if not stored:
                claims.store_claims([*expired, *failed, *suppressed])
            if expired:
                errors = {m.pk: expired_error() for m in expired}
                dropped.failed(token, expired, FailureCode.EXPIRED, errors)
            for code, subset in (
                (
                    FailureCode.RENDER_ERROR,
                    [m for m in failed if m.pk not in rendering.over_budget],
                ),
                (FailureCode.RENDER_BUDGET, [m for m in failed if m.pk in rendering.over_budget]),
            ):
                if subset:
                    dropped.failed(token, subset, code, rendering.failed)
            if suppressed:
                dropped.suppressed(token, suppressed, blocked)
    return group, [m for m in rendering.rendered if m.pk not in blocked]


def _blocked(group: list[Message]) -> dict[int, str]:
    """Which messages go to an address that may not receive their kind of mail, and why."""
    reasons: dict[int, str] = {}
    marketing_ids = {m.pk for m in group if _is_marketing(m)}
    for marketing in (False, True):
        subset = [m for m in group if (m.pk in marketing_ids) == marketing]
        if not subset:
            continue
        refused = hooks.refused_addresses(
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
    started = time.perf_counter()
    outcome = get_provider().send_one(message)
    seconds = time.perf_counter() - started
    word = _recorded(claim, outcome, f"message {message.pk}")
    provider_request_done(
        "single", [message], attempt=message.attempts, outcome=word, seconds=seconds
    )
    return word


def send_batch(claim: BatchClaim) -> str:
    # The frozen rows in the frozen order: the provider sends the same body at every attempt.
    started = time.perf_counter()
    outcome = get_provider().send_batch(claim.members, idempotency_key=claim.batch.idempotency_key)
    seconds = time.perf_counter() - started
    word = _recorded(claim, outcome, f"batch {claim.batch.pk}")
    provider_request_done(
        "batch",
        claim.members,
        attempt=claim.batch.attempts,
        outcome=word,
        seconds=seconds,
        batch_id=claim.batch.pk,
    )
    return word


def _recorded(claim: MessageClaim | BatchClaim, outcome, what: str) -> str:
    try:
        return recording.record_outcome(claim, outcome)
    except Exception:
        # The job fails and the lease brings the work back; the log keeps the cause.
        log.exception("Recording the provider's answer for %s failed: %r", what, outcome)
        raise
