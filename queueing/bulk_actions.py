"""Retry and cancel many messages at once (the requeue_messages and cancel_messages
commands), through the same services as the admin's actions, one message at a time, read in
bounded batches.

What cannot be done is skipped with its reason (SKIP_REASONS), counted and reported; nothing
is skipped silently. Messages past the retry window and those Resend failed after accepting
them may, on request, be sent again as new messages (queueing.send_again): once only, since
a message already sent again is skipped."""

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.utils import timezone

from queueing.message_filters import MessageFilter
from queueing.models import EventKind, FailureCode, Message, MessageEvent, Source
from queueing.retry_policy import retry_window_start
from queueing.send_again import message_send_again, send_again_refusal
from queueing.services import UNSENT, message_cancel, message_retry

# Why a message was left alone, in words for the report.
SKIP_REASONS = {
    "batch_member": (
        "members of a frozen batch: they only ever go again as that batch, never alone or "
        "cancelled one by one"
    ),
    "idempotency_conflict": (
        "idempotency conflicts: Resend holds another request under their key; check in Resend "
        "whether they went"
    ),
    "provider_failed": (
        "failed by Resend after it accepted them: a retry under the same key would get its "
        "first answer back. Send them again as new messages: --send-again-as-new, "
        'the admin action "Send selected again as new messages", or message_send_again'
    ),
    "past_retry_window": (
        "past the retry window (their first attempt was more than MAILHUB_RETRY_WINDOW_SECONDS "
        "ago; Resend forgets idempotency keys after 24 h, so a retry could deliver a second "
        "copy). Send them again as new messages: --send-again-as-new, or the admin action "
        '"Send selected again as new messages"'
    ),
    "already_sent_again": "already sent again as a new message (each is sent again once only)",
    "not_sendable_again": "cannot be sent again as new messages (campaign messages, or never rendered)",
    "changed_meanwhile": "changed meanwhile (a worker or a person moved them first)",
}
# The skips --send-again-as-new turns into copies.
SEND_AGAIN_REASONS = ("provider_failed", "past_retry_window")


@dataclass
class BulkReport:
    matched: int = 0
    done: int = 0  # retried or cancelled
    sent_again: dict[int, int] = field(default_factory=dict)  # original id → copy id
    skipped: Counter = field(default_factory=Counter)
    # A few ids per reason, so a person can look at them.
    examples: dict[str, list[int]] = field(default_factory=dict)

    def skip(self, reason: str, pk: int) -> None:
        self.skipped[reason] += 1
        ids = self.examples.setdefault(reason, [])
        if len(ids) < 10:
            ids.append(pk)

    def as_detail(self) -> dict[str, object]:
        return {
            "matched": self.matched,
            "done": self.done,
            "sent_again": len(self.sent_again),
            "skipped": dict(self.skipped),
        }


def _batches(rows, batch_size: int) -> Iterator[list[Message]]:
    """The matching rows in primary-key order, batch_size at a time (a short read each)."""
    last = 0
    while True:
        batch = list(rows.filter(pk__gt=last).order_by("pk")[:batch_size])
        if not batch:
            return
        yield batch
        last = batch[-1].pk


def retry_preview(selection: MessageFilter) -> BulkReport:
    """What a requeue would do, counted in one statement (no rows are read into Python):
    matched, how many would be retried, and the skips by reason. Messages already sent again
    are counted among the skips they would otherwise have."""
    window = retry_window_start(timezone.now())
    batch_member = Q(batch__isnull=False)
    conflict = ~batch_member & Q(failure_code=FailureCode.IDEMPOTENCY_CONFLICT)
    provider = ~batch_member & Q(failure_code=FailureCode.PROVIDER_FAILED)
    coded = batch_member | Q(
        failure_code__in=[FailureCode.IDEMPOTENCY_CONFLICT, FailureCode.PROVIDER_FAILED]
    )
    past = ~coded & Q(first_attempt_at__lt=window)
    figures = selection.queryset().aggregate(
        matched=Count("pk"),
        batch_member=Count("pk", filter=batch_member),
        idempotency_conflict=Count("pk", filter=conflict),
        provider_failed=Count("pk", filter=provider),
        past_retry_window=Count("pk", filter=past),
    )
    report = BulkReport(matched=figures.pop("matched"))
    report.skipped.update({k: v for k, v in figures.items() if v})
    report.done = report.matched - sum(report.skipped.values())
    return report


def cancel_preview(selection: MessageFilter) -> BulkReport:
    figures = selection.queryset().aggregate(
        matched=Count("pk"), batch_member=Count("pk", filter=Q(batch__isnull=False))
    )
    report = BulkReport(matched=figures["matched"])
    if figures["batch_member"]:
        report.skipped["batch_member"] = figures["batch_member"]
    report.done = report.matched - figures["batch_member"]
    return report


def _retry_skip_reason(message: Message, window_start) -> str:
    if message.batch_id is not None:
        return "batch_member"
    if message.failure_code in (FailureCode.IDEMPOTENCY_CONFLICT, FailureCode.PROVIDER_FAILED):
        return str(message.failure_code)
    if message.first_attempt_at is not None and message.first_attempt_at < window_start:
        return "past_retry_window"
    return ""


def _already_sent_again(ids: list[int]) -> set[int]:
    """Which of these messages were sent again before (their timeline names the copy)."""
    return set(
        MessageEvent.objects.filter(
            message_id__in=ids, kind=EventKind.SENT_AGAIN, data__has_key="copy"
        ).values_list("message_id", flat=True)
    )


def messages_requeue(
    selection: MessageFilter,
    *,
    actor: AbstractBaseUser | None,
    batch_size: int = 500,
    send_again_as_new: bool = False,
    progress: Callable[[int], None] = lambda n: None,
) -> BulkReport:
    """Retry the failed messages `selection` matches through message_retry (each its own
    transaction, audited under `actor`); with `send_again_as_new`, send those past the retry
    window or failed at Resend again as new messages through message_send_again."""
    report = BulkReport()
    for batch in _batches(selection.queryset(), batch_size):
        report.matched += len(batch)
        window_start = retry_window_start(timezone.now())
        sent_before = _already_sent_again([m.pk for m in batch]) if send_again_as_new else set()
        for message in batch:
            reason = _retry_skip_reason(message, window_start)
            if reason in SEND_AGAIN_REASONS and send_again_as_new:
                reason = _send_again(message, actor, sent_before, report)
            elif not reason:
                if message_retry(message=message, actor=actor):
                    report.done += 1
                else:
                    reason = "changed_meanwhile"
            if reason:
                report.skip(reason, message.pk)
        progress(len(batch))
    return report


def _send_again(message: Message, actor, sent_before: set[int], report: BulkReport) -> str:
    """Send `message` again as a new message; the skip reason, or "" when it was sent."""
    if message.pk in sent_before:
        return "already_sent_again"
    if send_again_refusal(message):
        return "not_sendable_again"
    try:
        copy = message_send_again(message=message, actor=actor, source=Source.COMMAND)
    except ValidationError:
        return "not_sendable_again"
    report.sent_again[message.pk] = copy.pk
    return ""


def messages_cancel(
    selection: MessageFilter,
    *,
    actor: AbstractBaseUser | None,
    reason: str,
    batch_size: int = 500,
    progress: Callable[[int], None] = lambda n: None,
) -> BulkReport:
    """Cancel the queued or scheduled messages `selection` matches through message_cancel
    (each its own transaction, audited under `actor`); batch members are skipped."""
    assert set(selection.statuses) <= set(UNSENT), selection.statuses
    report = BulkReport()
    for batch in _batches(selection.queryset(), batch_size):
        report.matched += len(batch)
        for message in batch:
            if message.batch_id is not None:
                report.skip("batch_member", message.pk)
            elif message_cancel(message=message, reason=reason, actor=actor):
                report.done += 1
            else:
                report.skip("changed_meanwhile", message.pk)
        progress(len(batch))
    return report
