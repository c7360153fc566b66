"""Resend's `failed` after acceptance (provider_failed): counted once, never retried; and
sending a finished message again as a new message."""

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.urls import reverse

from campaigns.services import campaign_send
from queueing import hooks
from queueing.models import EventKind, FailureCode, Message, MessageStatus, ProviderWebhookEvent
from queueing.send_again import message_send_again
from queueing.services import AttachmentInput, message_create, message_retry, retry_refusal
from tests.conftest import run_worker_burst
from tests.events.conftest import event

pytestmark = pytest.mark.django_db(transaction=True)
S = MessageStatus


def test_a_campaign_message_resend_failed_moves_from_sent_to_failed_in_the_counters(
    sandbox, deliver_all, make_campaign, make_list, subscribe, post_webhook
):
    news = make_list("news")
    subscribe(news, 2)
    campaign = make_campaign(lists=[news])
    campaign_send(campaign=campaign)
    deliver_all(timeout=60)
    campaign.refresh_from_db()
    assert (campaign.queued, campaign.sent, campaign.failed) == (2, 2, 0)
    message = Message.objects.filter(campaign=campaign).first()
    body = event("failed", email_id=message.provider_id, failed={"reason": "policy"})
    post_webhook(body)
    post_webhook(body)  # a second delivery under another svix-id: ranked, no second move
    run_worker_burst()
    campaign.refresh_from_db()
    assert (campaign.sent, campaign.failed) == (1, 1)
    message.refresh_from_db()
    assert (message.status, message.failure_code) == (S.FAILED, FailureCode.PROVIDER_FAILED)


def test_retry_refuses_a_provider_failed_message_with_a_reason(sandbox, deliver_all, post_webhook):
    message = message_create(to=["ada@example.com"], subject="Invoice", text="Hi")
    deliver_all()
    message.refresh_from_db()
    post_webhook(event("failed", email_id=message.provider_id, failed={"reason": "x"}))
    run_worker_burst()
    message.refresh_from_db()
    assert "new message" in retry_refusal(message)
    assert message_retry(message=message) is False
    message.refresh_from_db()
    assert message.status == S.FAILED and message.attempts == 1


@pytest.fixture
def finished(sandbox, deliver_all) -> Message:
    message = message_create(
        to=["ada@example.com"],
        cc=["bob@example.com"],
        reply_to=["help@example.com"],
        subject="Invoice 7",
        html="<p>Hi</p>",
        text="Hi",
        headers={"X-Ref": "7"},
        tags=[{"name": "kind", "value": "invoice"}],
        attachments=[AttachmentInput("a.txt", b"hello", "text/plain")],
    )
    deliver_all()
    message.refresh_from_db()
    return message


def test_send_again_copies_a_finished_message_under_a_new_key(finished, deliver_all):
    copy = message_send_again(message=finished)
    assert copy.pk != finished.pk
    assert copy.idempotency_key != finished.idempotency_key and copy.uuid != finished.uuid
    for field in ("to", "cc", "reply_to", "from_email", "subject", "html", "text", "headers"):
        assert getattr(copy, field) == getattr(finished, field)
    assert copy.tags == finished.tags and copy.status == S.QUEUED
    assert [(a.filename, bytes(a.content)) for a in copy.attachments.all()] == [("a.txt", b"hello")]
    link = finished.events.get(kind=EventKind.SENT_AGAIN)
    back = copy.events.get(kind=EventKind.SENT_AGAIN)
    assert link.data["copy"] == copy.pk and back.data["copy_of"] == finished.pk
    deliver_all()
    copy.refresh_from_db()
    assert copy.status == S.SENT and copy.provider_id != finished.provider_id


def test_send_again_refuses_campaign_and_unfinished_messages(
    sandbox, deliver_all, make_campaign, make_list, subscribe
):
    news = make_list("news")
    subscribe(news, 1)
    campaign = make_campaign(lists=[news])
    campaign_send(campaign=campaign)
    deliver_all(timeout=60)
    with pytest.raises(ValidationError, match="campaign"):
        message_send_again(message=Message.objects.get(campaign=campaign))
    queued = message_create(to=["ada@example.com"], subject="Later", text="Hi")
    with pytest.raises(ValidationError, match="still queued"):
        message_send_again(message=queued)
    assert Message.objects.count() == 2


def test_the_admin_action_sends_again_and_names_the_refused(finished, client):
    user = User.objects.create_superuser("boss", "boss@example.com", "pw")
    client.force_login(user)
    pending = message_create(to=["ada@example.com"], subject="Later", text="Hi")
    answer = client.post(
        reverse("admin:queueing_message_changelist"),
        {"action": "send_again", "_selected_action": [finished.pk, pending.pk]},
        follow=True,
    )
    shown = [str(m) for m in answer.context["messages"]]
    copy = Message.objects.exclude(pk__in=[finished.pk, pending.pk]).get()
    assert f"#{finished.pk} sent again as #{copy.pk}." in shown
    assert any("still queued" in m for m in shown)
    assert copy.created_by == user


def test_the_raw_events_admin_lists_and_reprocesses(sandbox, deliver_all, post_webhook, client):
    message = message_create(to=["ada@example.com"], subject="Invoice", text="Hi")
    deliver_all()
    message.refresh_from_db()
    hooks.register_event_listener("down", lambda events: 1 / 0)
    try:
        post_webhook(event("delivered", email_id=message.provider_id))
        run_worker_burst()
    finally:
        hooks._event_listeners.pop("down", None)
    row = ProviderWebhookEvent.objects.get()
    client.force_login(User.objects.create_superuser("boss", "boss@example.com", "pw"))
    url = reverse("admin:queueing_providerwebhookevent_changelist")
    assert "division by zero" in client.get(url, {"processing": "failed"}).content.decode()
    answer = client.post(
        url, {"action": "reprocess_events", "_selected_action": [row.pk]}, follow=True
    )
    assert "1 event(s) processed." in [str(m) for m in answer.context["messages"]]
    row.refresh_from_db()
    assert row.processed_at is not None
    assert (
        client.get(reverse("admin:queueing_providerwebhookevent_change", args=[row.pk])).status_code
        == 200
    )
