"""purge_messages and the periodic purge: what is blanked, deleted and kept, in small batches,
never touching pending messages or suppressions; one purge at a time, tried with two real
processes."""

import subprocess
import sys
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from queueing.models import (
    ApiIdempotencyKey,
    ApiKey,
    BatchStatus,
    EventKind,
    Message,
    MessageAttachment,
    MessageEvent,
    MessageStatus,
    ProviderWebhookEvent,
    SendBatch,
)
from queueing.reconciler import reconcile
from queueing.retention.lock import LOCK_KEY
from queueing.services import AttachmentInput, message_create
from recipients.models import Suppression
from tests.conftest import ROOT, wait_until, worker_env

pytestmark = pytest.mark.django_db(transaction=True)
S = MessageStatus


def run(*args: str) -> str:
    out = StringIO()
    call_command("purge_messages", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def aged(days: int, status: str = S.DELIVERED, **extra) -> Message:
    message = message_create(
        to=["Ann <ann@example.com>"],
        subject="Your receipt",
        html="<p>secret body</p>",
        text="secret body",
        headers={"X-Customer": "ann-42"},
        attachments=[AttachmentInput("r.pdf", b"%PDF-1.4 data", "application/pdf")],
    )
    Message.objects.filter(pk=message.pk).update(
        status=status, created_at=timezone.now() - timedelta(days=days), **extra
    )
    return Message.objects.get(pk=message.pk)


def test_blanks_old_bodies_in_batches_and_keeps_what_statistics_need(settings):
    settings.MAILHUB_PURGE_BATCH_SIZE = 2
    old = [aged(100) for _ in range(5)]
    pending = aged(100, S.QUEUED)
    scheduled = aged(100, S.SCHEDULED, scheduled_at=timezone.now() + timedelta(days=3))
    young = aged(10)
    Suppression.objects.create(email="ann@example.com", reason=Suppression.Reason.HARD_BOUNCE)
    Suppression.objects.filter(email="ann@example.com").update(
        created_at=timezone.now() - timedelta(days=900)
    )
    events_before = MessageEvent.objects.count()
    out = run("--older-than", "90d")
    assert "blank: 5 messages blanked in 3 batch(es) (5 attachments)" in out
    for message in Message.objects.filter(pk__in=[m.pk for m in old]):
        assert (message.html, message.text, message.headers) == ("", "", {})
        assert message.content_purged_at is not None
        # Kept: the row, its status, envelope, subject and timeline.
        assert message.status == S.DELIVERED and message.to == ["Ann <ann@example.com>"]
        assert message.subject == "Your receipt"
    assert not MessageAttachment.objects.filter(message__in=old).exists()
    assert MessageEvent.objects.count() == events_before
    for kept in (pending, scheduled, young):
        kept.refresh_from_db()
        assert kept.text == "secret body" and kept.attachments.count() == 1
    assert Suppression.objects.filter(email="ann@example.com").exists()
    # A second run finds nothing left to do.
    assert "blank: nothing to do" in run("--older-than", "90d")


def test_dry_run_counts_and_changes_nothing():
    aged(100)
    aged(400)
    out = run("--older-than", "90d", "--delete", "--dry-run")
    assert "delete: 1 would be deleted" in out and "blank: 2 would be blanked" in out
    assert "Dry run: nothing was changed." in out
    assert Message.objects.filter(content_purged_at__isnull=True).count() == 2


def test_delete_removes_rows_past_the_longer_age_only(settings):
    settings.MAILHUB_PURGE_BATCH_SIZE = 1
    ancient = [aged(400), aged(500)]
    old = aged(100)
    ancient_pending = aged(500, S.QUEUED)
    out = run("--older-than", "90d", "--delete")
    assert "delete: 2 messages deleted in 2 batch(es)" in out
    assert not Message.objects.filter(pk__in=[m.pk for m in ancient]).exists()
    assert not MessageEvent.objects.filter(message_id__in=[m.pk for m in ancient]).exists()
    assert Message.objects.get(pk=old.pk).content_purged_at is not None
    assert Message.objects.get(pk=ancient_pending.pk).text == "secret body"


@pytest.mark.parametrize(
    "args, words",
    [
        (["--older-than", "ninety days"], "is not a duration"),
        (["--older-than", "0d"], "is not a duration"),
        (["--older-than", "30d", "--delete", "--delete-older-than", "100d"], "never deleted"),
        (["--older-than", "400d", "--delete"], "younger than the age at which"),
        (["--delete-older-than", "500d"], "only goes with --delete"),
        (["--bogus"], "unrecognized arguments"),
    ],
)
def test_bad_options_are_refused_and_change_nothing(args, words):
    aged(600)
    with pytest.raises(CommandError, match=words):
        run(*args)
    assert Message.objects.get().text == "secret body"


def test_delete_is_refused_when_the_setting_keeps_rows(settings):
    settings.MAILHUB_PURGE_DELETE_AFTER = "never"
    with pytest.raises(CommandError, match="rows are kept"):
        run("--delete")


def test_batches_webhooks_and_idempotency_records_go_in_passes_of_their_own(settings):
    member = aged(100)
    batch = SendBatch.objects.create(
        idempotency_key="mailhub-batch-old", priority="bulk", status=BatchStatus.DONE, size=1,
        member_ids=[member.pk],
    )  # fmt: skip
    Message.objects.filter(pk=member.pk).update(batch=batch)
    SendBatch.objects.filter(pk=batch.pk).update(created_at=timezone.now() - timedelta(days=100))
    old_event = ProviderWebhookEvent.objects.create(
        svix_id="msg_old", type="email.delivered", body={}, processed_at=timezone.now()
    )
    waiting = ProviderWebhookEvent.objects.create(svix_id="msg_waiting", body={})
    ProviderWebhookEvent.objects.update(received_at=timezone.now() - timedelta(days=40))
    key = ApiKey.objects.create(name="k", prefix="mh_x", digest="d" * 64, scopes=["send"])
    ApiIdempotencyKey.objects.create(
        api_key=key, key="k1", fingerprint="f", state="done", token="0" * 32,
        created_at=timezone.now() - timedelta(hours=25),
    )  # fmt: skip
    fresh = ApiIdempotencyKey.objects.create(
        api_key=key, key="k2", fingerprint="f", state="done", token="0" * 32,
        created_at=timezone.now(),
    )  # fmt: skip
    out = run()
    assert "batches: 1 send batches deleted in 1 batch(es) (1 members detached)" in out
    assert "webhook_events: 1 processed webhook events deleted" in out
    assert "idempotency_keys: 1 API idempotency records deleted" in out
    assert not SendBatch.objects.exists()
    assert Message.objects.get(pk=member.pk).batch_id is None
    assert list(ProviderWebhookEvent.objects.values_list("pk", flat=True)) == [waiting.pk]
    assert old_event.pk != waiting.pk
    assert list(ApiIdempotencyKey.objects.values_list("pk", flat=True)) == [fresh.pk]


def test_the_workers_purge_at_most_once_per_interval(settings):
    settings.MAILHUB_PURGE_BATCH_SIZE = 2
    aged(100)
    report = reconcile()
    assert report.steps.get("purge_blank") == 1
    aged(100)
    assert "purge_blank" not in reconcile().steps  # the interval has not passed
    settings.MAILHUB_PURGE_INTERVAL = 0
    assert "purge_blank" not in reconcile().steps


def test_two_purges_at_once_one_runs_the_other_says_so_and_fails(sandbox, clean_redis):
    for _ in range(12):
        aged(100)
    # Six batches a second apart: the first still runs when the second has started up.
    env = worker_env(sandbox.url, MAILHUB_PURGE_BATCH_SIZE="2", MAILHUB_PURGE_PAUSE_SECONDS="1")
    command = [sys.executable, str(ROOT / "manage.py"), "purge_messages", "--older-than", "90d"]
    first = subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert wait_until(lambda: clean_redis.exists(LOCK_KEY), timeout=30)
        second = subprocess.run(
            command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
        )
        assert second.returncode != 0
        assert "another purge is running (command purge_messages on" in second.stderr
        out, err = first.communicate(timeout=60)
    finally:
        first.kill()
    assert first.returncode == 0, err
    assert "blank: 12 messages blanked in 6 batch(es)" in out
    assert not Message.objects.filter(content_purged_at__isnull=True).exists()
    assert not clean_redis.exists(LOCK_KEY)  # released on the way out
    assert EventKind.QUEUED in set(MessageEvent.objects.values_list("kind", flat=True))


def test_a_purged_message_is_not_sent_again():
    from django.core.exceptions import ValidationError

    from queueing.send_again import message_send_again

    message = aged(100)
    run("--older-than", "90d")
    message.refresh_from_db()
    with pytest.raises(ValidationError, match="content was purged"):
        message_send_again(message=message)
