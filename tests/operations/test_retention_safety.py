"""The purge's safety rails (issue 15 review): no age short enough to reach a message that may
still be retried or a webhook Resend may still send again; a purged message is never retried;
the delete pass leaves a row a retry holds; the periodic run deletes only when asked to and
shares its time between the passes; the forget hashes keep matching when the key changes."""

import threading
import time
from datetime import timedelta

import pytest
from django.core.management import CommandError
from django.db import connection, transaction
from django.utils import timezone

from mailhub.checks import check_production_settings
from queueing.connection import get_redis
from queueing.message_filters import FilterError
from queueing.models import BatchStatus, Message, MessageStatus, ProviderWebhookEvent, SendBatch
from queueing.reconciler import reconcile
from queueing.retention.passes import PASSES
from queueing.retention.periodic import DUE_KEY
from queueing.retention.policy import policy
from queueing.services import message_retry, retry_refusal
from recipients.forgotten import forgotten_label
from recipients.models import Suppression
from recipients.selectors import suppressed_addresses
from tests.operations.test_purge import aged, run

pytestmark = pytest.mark.django_db(transaction=True)
S = MessageStatus


@pytest.mark.parametrize("age", ["1h", "23h", "47h"])
def test_ages_inside_the_retry_window_are_refused_and_change_nothing(age):
    failed = aged(0, S.FAILED, first_attempt_at=timezone.now())
    Message.objects.filter(pk=failed.pk).update(created_at=timezone.now() - timedelta(hours=47))
    with pytest.raises(CommandError, match="MAILHUB_RETRY_WINDOW_SECONDS"):
        run("--older-than", age)
    assert Message.objects.get(pk=failed.pk).text == "secret body"


def test_the_floor_follows_the_retry_window_and_covers_the_settings(settings):
    settings.MAILHUB_RETRY_WINDOW_SECONDS = 72 * 3600
    with pytest.raises(FilterError, match="--older-than"):
        policy(older_than=timedelta(hours=95))
    assert policy(older_than=timedelta(hours=96))  # the window and a day
    settings.MAILHUB_PURGE_AFTER = "1h"
    with pytest.raises(FilterError, match="MAILHUB_PURGE_AFTER"):
        policy()
    settings.MAILHUB_PURGE_AFTER = "90d"
    settings.MAILHUB_PURGE_WEBHOOK_EVENTS_AFTER = "30h"
    with pytest.raises(FilterError, match="MAILHUB_PURGE_WEBHOOK_EVENTS_AFTER"):
        policy()


def test_the_workers_do_not_purge_with_a_setting_under_the_floor(settings):
    settings.MAILHUB_PURGE_AFTER = "1h"
    failed = aged(0, S.FAILED, first_attempt_at=timezone.now())
    Message.objects.filter(pk=failed.pk).update(created_at=timezone.now() - timedelta(hours=2))
    assert "purge_blank" not in reconcile().steps
    assert Message.objects.get(pk=failed.pk).text == "secret body"


def test_a_message_whose_content_was_purged_is_never_retried():
    # Failed an hour ago (inside the retry window), then blanked (its recipient was erased).
    message = aged(0, S.FAILED, first_attempt_at=timezone.now() - timedelta(hours=1))
    Message.objects.filter(pk=message.pk).update(html="", text="", content_purged_at=timezone.now())
    message.refresh_from_db()
    assert "content was purged" in retry_refusal(message)
    assert message_retry(message=message) is False
    assert Message.objects.get(pk=message.pk).status == S.FAILED


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks: PostgreSQL only")
def test_the_delete_pass_leaves_a_message_a_retry_holds():
    held, other = aged(400, S.FAILED), aged(400, S.DELIVERED)
    locked = threading.Event()

    def retry_meanwhile() -> None:  # a retry that has moved it but not yet committed
        with transaction.atomic():
            Message.objects.filter(pk=held.pk).update(status=S.QUEUED)
            locked.set()
            time.sleep(1)
        connection.close()

    thread = threading.Thread(target=retry_meanwhile)
    thread.start()
    assert locked.wait(10)
    delete = next(p for p in PASSES if p.name == "delete")
    with transaction.atomic():
        counts = delete.apply([held.pk, other.pk], policy(delete=True))
    thread.join()
    assert counts["rows"] == 1
    assert not Message.objects.filter(pk=other.pk).exists()
    assert Message.objects.get(pk=held.pk).status == S.QUEUED  # kept, with its timeline


def test_the_workers_delete_rows_only_when_asked_to(settings):
    ancient = aged(400)
    reconcile()
    ancient.refresh_from_db()  # blanked, not deleted
    assert ancient.content_purged_at is not None
    settings.MAILHUB_PURGE_PERIODIC_DELETE = True
    get_redis().delete(DUE_KEY)  # the next run is due
    assert reconcile().steps.get("purge_delete") == 1
    assert not Message.objects.filter(pk=ancient.pk).exists()


def test_a_backlog_in_one_pass_does_not_starve_the_others(settings):
    settings.MAILHUB_PURGE_BATCH_SIZE = 1
    settings.MAILHUB_PURGE_PAUSE_SECONDS = 0.3
    settings.MAILHUB_PURGE_STEP_SECONDS = 0.5
    for _ in range(6):
        aged(100)
    ProviderWebhookEvent.objects.create(svix_id="msg_old", body={}, processed_at=timezone.now())
    ProviderWebhookEvent.objects.update(received_at=timezone.now() - timedelta(days=40))
    steps = reconcile().steps
    assert steps.get("purge_blank", 0) < 6  # the backlog waits for the next run
    assert steps.get("purge_webhook_events") == 1
    assert not ProviderWebhookEvent.objects.exists()


def test_hashes_made_under_an_earlier_key_keep_blocking_mail(settings):
    settings.MAILHUB_FORGET_KEY = ""
    Suppression.objects.create(
        email=forgotten_label("ann@example.com"), reason=Suppression.Reason.MANUAL
    )
    settings.MAILHUB_FORGET_KEY = "a-new-key-set-later"
    Suppression.objects.create(
        email=forgotten_label("bob@example.com"), reason=Suppression.Reason.MANUAL
    )
    # The new key is rotated; the old one stays a fallback.
    settings.MAILHUB_FORGET_KEY = "the-next-key"
    settings.MAILHUB_FORGET_KEY_FALLBACKS = ["a-new-key-set-later"]
    blocked = suppressed_addresses(["ann@example.com", "bob@example.com"], marketing=False)
    assert set(blocked) == {"ann@example.com", "bob@example.com"}
    assert not suppressed_addresses(["cy@example.com"], marketing=False)


def test_an_old_row_first_attempted_lately_is_left_alone():
    # Created long ago (scheduled, or held by a pause), failed an hour ago: still retryable.
    lately = timezone.now() - timedelta(hours=1)
    member = aged(100, S.FAILED, first_attempt_at=lately)
    alone = aged(100, S.FAILED, first_attempt_at=lately)
    batch = SendBatch.objects.create(
        idempotency_key="mailhub-batch-late", priority="bulk", status=BatchStatus.FAILED, size=1,
        member_ids=[member.pk], first_attempt_at=lately,
    )  # fmt: skip
    Message.objects.filter(pk=member.pk).update(batch=batch)
    SendBatch.objects.filter(pk=batch.pk).update(created_at=timezone.now() - timedelta(days=100))
    out = run("--older-than", "90d")
    assert "blank: nothing to do" in out and "batches: nothing to do" in out
    assert Message.objects.get(pk=member.pk).batch_id == batch.pk
    assert Message.objects.get(pk=alone.pk).text == "secret body"


def test_the_check_names_a_retention_setting_under_the_floor(settings):
    assert "mailhub.W007" not in {w.id for w in check_production_settings()}
    settings.MAILHUB_PURGE_AFTER = "6h"
    (warning,) = [w for w in check_production_settings() if w.id == "mailhub.W007"]
    assert "MAILHUB_PURGE_AFTER" in warning.msg
