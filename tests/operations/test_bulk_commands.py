"""requeue_messages and cancel_messages: counts first, the admin's services, skips with their
reasons, --dry-run, bad options, and the audit log."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from audit.models import AuditEntry
from queueing.message_filters import FilterError, parse_duration, parse_since
from queueing.models import (
    BatchStatus,
    EventKind,
    FailureCode,
    Message,
    MessageEvent,
    MessageStatus,
    SendBatch,
)
from queueing.services import message_create

pytestmark = pytest.mark.django_db(transaction=True)
S = MessageStatus


def run(name: str, *args: str) -> str:
    out, err = StringIO(), StringIO()
    call_command(name, *args, stdout=out, stderr=err)
    return out.getvalue()


def failed(code: str = FailureCode.ATTEMPTS_EXHAUSTED, error: str = "boom", **fields) -> Message:
    message = message_create(to=["ann@example.com"], subject="Hi", text="Hello")
    fields.setdefault("first_attempt_at", timezone.now() - timedelta(minutes=5))
    Message.objects.filter(pk=message.pk).update(
        status=S.FAILED, failure_code=code, last_error=error, attempts=3, **fields
    )
    return Message.objects.get(pk=message.pk)


def frozen_batch() -> SendBatch:
    return SendBatch.objects.create(
        idempotency_key="mailhub-batch-test", priority="transactional", status=BatchStatus.FAILED,
        size=2,
    )  # fmt: skip


def test_durations_and_dates_parse_or_say_why():
    assert parse_duration("90m", "--x") == timedelta(minutes=90)
    assert parse_duration("7d", "--x") == timedelta(days=7)
    now = timezone.now()
    assert parse_since("24h", now=now) == now - timedelta(hours=24)
    assert parse_since("2025-01-31").year == 2025
    for bad in ("", "7", "0d", "7 days", "-1h", "1y", "2025-02-30", "tomorrow"):
        with pytest.raises(FilterError):
            parse_since(bad)
    with pytest.raises(FilterError, match="future"):
        parse_since("2999-01-01")


def test_requeue_counts_first_retries_and_says_what_it_skipped_and_why(sandbox, deliver_all):
    plain = failed()
    conflict = failed(FailureCode.IDEMPOTENCY_CONFLICT)
    provider = failed(FailureCode.PROVIDER_FAILED)
    old = failed(first_attempt_at=timezone.now() - timedelta(hours=30))
    member = failed(batch=frozen_batch())
    out = run("requeue_messages", "--status", "failed")
    assert "Messages matching status failed: 5." in out
    assert "to retry: 1" in out
    for words in ("members of a frozen batch", "idempotency conflicts", "message_send_again"):
        assert words in out
    assert "past the retry window" in out and "--send-again-as-new" in out
    assert "1 message(s) queued again." in out
    assert f"#{member.pk}" in out and f"#{old.pk}" in out
    statuses = dict(Message.objects.values_list("pk", "status"))
    assert statuses[plain.pk] == S.QUEUED
    assert {statuses[m.pk] for m in (conflict, provider, old, member)} == {S.FAILED}
    deliver_all()
    assert Message.objects.get(pk=plain.pk).status == S.SENT
    # The person behind the command is in the audit log, per message and for the run.
    entries = AuditEntry.objects.filter(action__in=["message.retry", "messages.requeue"])
    assert {e.action for e in entries} == {"message.retry", "messages.requeue"}
    assert all(e.actor_name.startswith("command requeue_messages (") for e in entries)
    run_entry = entries.get(action="messages.requeue")
    assert run_entry.detail["done"] == 1 and run_entry.detail["skipped"]["batch_member"] == 1


def test_dry_run_changes_nothing_and_filters_narrow():
    first = failed(error="Timeout talking to Resend")
    second = failed(FailureCode.REJECTED, error="invalid address")
    out = run("requeue_messages", "--failure-code", "rejected", "--dry-run")
    assert "Messages matching status failed, failure code rejected: 1." in out
    assert "Dry run: nothing was changed." in out
    out = run("requeue_messages", "--error-contains", "timeout", "--since", "1h", "--dry-run")
    assert ": 1." in out and "to retry: 1" in out
    assert set(Message.objects.values_list("status", flat=True)) == {S.FAILED}
    assert not AuditEntry.objects.exists()
    assert first.pk != second.pk


def test_a_filter_matching_nothing_says_so_and_succeeds():
    failed()
    out = run("requeue_messages", "--campaign", "999")
    assert "no message matches" in out
    out = run("cancel_messages", "--since", "2020-01-01", "--error-contains", "nope")
    assert "no message matches" in out


@pytest.mark.parametrize(
    "args, words",
    [
        (["--status", "sent"], "acts only on failed"),
        (["--status", "bogus"], "not a status"),
        (["--since", "7 days"], "neither a duration"),
        (["--since", "99x"], "neither a duration"),
        (["--failure-code", "nope"], "not a failure code"),
        (["--campaign", "0"], "not a campaign id"),
        (["--error-contains", "  "], "needs some text"),
        (["--batch-size", "0"], "between 1 and 10000"),
        (["--no-such-option"], "unrecognized arguments"),
    ],
)
def test_bad_options_are_command_errors(args, words):
    with pytest.raises(CommandError, match=words):
        run("requeue_messages", *args)


def test_cancel_refuses_statuses_it_cannot_cancel_and_codes_without_failed():
    with pytest.raises(CommandError, match="acts only on scheduled, queued"):
        run("cancel_messages", "--status", "failed")
    with pytest.raises(CommandError, match="only narrows failed"):
        run("cancel_messages", "--failure-code", "rejected")


def test_send_again_as_new_copies_once_and_reports_it(sandbox, deliver_all):
    old = failed(FailureCode.EXPIRED, first_attempt_at=timezone.now() - timedelta(hours=30))
    provider = failed(FailureCode.PROVIDER_FAILED)
    out = run("requeue_messages", "--send-again-as-new", "--dry-run")
    assert "to send again as new messages (past_retry_window): 1" in out
    assert Message.objects.count() == 2
    out = run("requeue_messages", "--send-again-as-new", "--batch-size", "1")
    assert "2 message(s) sent again as new messages" in out
    copies = Message.objects.exclude(pk__in=[old.pk, provider.pk])
    assert copies.count() == 2 and set(copies.values_list("status", flat=True)) == {S.QUEUED}
    assert MessageEvent.objects.filter(message=old, kind=EventKind.SENT_AGAIN).exists()
    # A second run does not send them a second time.
    out = run("requeue_messages", "--send-again-as-new")
    assert "skipped: 2 already sent again" in out
    assert Message.objects.count() == 4
    deliver_all()
    assert set(copies.values_list("status", flat=True)) == {S.SENT}


def test_cancel_cancels_unsent_in_batches_and_skips_batch_members():
    queued = [message_create(to=["a@example.com"], subject="Hi", text="x") for _ in range(5)]
    later = message_create(
        to=["b@example.com"], subject="Later", text="x",
        scheduled_at=timezone.now() + timedelta(days=1),
    )  # fmt: skip
    Message.objects.filter(pk=queued[0].pk).update(batch=frozen_batch())
    out = run("cancel_messages", "--status", "queued", "--dry-run")
    assert "Messages matching status queued: 5." in out and "to cancel: 4" in out
    assert "to skip: 1 members of a frozen batch" in out
    out = run("cancel_messages", "--batch-size", "2", "--reason", "wrong template")
    assert "5 message(s) cancelled." in out and "skipped: 1 members of a frozen batch" in out
    assert Message.objects.get(pk=later.pk).status == S.CANCELLED
    assert Message.objects.get(pk=queued[0].pk).status == S.QUEUED
    event = MessageEvent.objects.filter(message=later, kind=EventKind.CANCELLED).get()
    assert event.detail.startswith("wrong template by command cancel_messages (")
    assert AuditEntry.objects.filter(action="message.cancel").count() == 5
