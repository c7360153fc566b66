"""Holes a second reading of the delivery-events work found, kept closed."""

import base64
import hashlib
import hmac
import time

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from queueing.api_keys import api_key_create
from queueing.forwarding.endpoints import webhook_endpoint_create
from queueing.forwarding.url_guard import address_problem
from queueing.models import DeliveryStatus, FailureCode, Message, MessageStatus, WebhookDelivery
from queueing.resend.webhooks import WebhookRefused, secret_problem, verify_webhook
from queueing.services import message_create, message_retry
from recipients.event_rules import provider_events_apply
from recipients.models import Suppression, SuppressionReview
from tests.queueing.test_webhook_forwarding import event, forward, run_events_worker, send_with
from tests.queueing.webhook_receiver import start_receiver
from tests.recipients.test_event_rules import event_for

GOOD_SECRET = "whsec_" + base64.b64encode(b"k" * 24).decode()


def signed(secret_key: bytes, body: bytes) -> dict[str, str]:
    msg_id, stamp = "msg_review", str(int(time.time()))
    mac = hmac.new(secret_key, f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
    return {
        "svix-id": msg_id,
        "svix-timestamp": stamp,
        "svix-signature": "v1," + base64.b64encode(mac).decode(),
    }


@pytest.mark.django_db
def test_a_bounce_on_a_message_with_cc_suppresses_nobody_and_asks_staff():
    message = message_create(
        to=["ann@example.com"], cc=["bob@example.com"], subject="Hi", text="Hi"
    )
    # Resend's `data.to` names only the To list, whoever bounced.
    provider_events_apply([event_for(message, bounce_type="Permanent")])
    assert not Suppression.objects.exists()
    review = SuppressionReview.objects.get()
    assert {"ann@example.com", "bob@example.com"} <= set(review.addresses)


@pytest.mark.django_db
def test_a_bounce_on_a_message_to_one_address_still_suppresses_it():
    message = message_create(to=["ann@example.com"], subject="Hi", text="Hi")
    provider_events_apply([event_for(message, bounce_type="Permanent")])
    assert Suppression.objects.get().email == "ann@example.com"


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        ("whsec_", "followed by base64"),
        ("whsec_" + base64.b64encode(b"short").decode(), "bytes of key"),
        ("whsec_not base64!", "followed by base64"),
        (base64.b64encode(b"k" * 24).decode(), "whsec_"),
    ],
)
def test_unusable_secrets_are_named(secret, problem):
    assert problem in secret_problem(secret)
    assert secret_problem(GOOD_SECRET) is None


def test_an_empty_key_secret_cannot_be_used_to_forge_a_webhook():
    body = b'{"type": "email.complained", "data": {"email_id": "x"}}'
    with pytest.raises(WebhookRefused) as refused:
        verify_webhook(body, signed(b"", body), ["whsec_"])
    assert refused.value.status == 401


def test_a_secret_with_spaces_around_it_still_verifies():
    body = b'{"type": "email.delivered", "data": {}}'
    verified = verify_webhook(body, signed(b"k" * 24, body), ["whsec_other", f" {GOOD_SECRET} "])
    assert verified.svix_id == "msg_review"


def test_a_malformed_secret_stops_check_and_start(settings):
    settings.RESEND_WEBHOOK_SECRETS = ["whsec_"]
    with pytest.raises(SystemCheckError, match=r"mailhub\.E006"):
        call_command("check")


@pytest.mark.parametrize(
    "ip", ["::7f00:1", "64:ff9b::a9fe:a9fe", "2002:7f00:1::", "::ffff:127.0.0.1", "::1"]
)
def test_ipv6_forms_that_carry_a_private_ipv4_address_are_refused(ip, settings):
    settings.MAILHUB_WEBHOOK_ALLOW_PRIVATE_URLS = False
    assert address_problem(ip) is not None
    assert address_problem("2606:4700:4700::1111") is None


@pytest.fixture
def receiver():
    yield from start_receiver()


@pytest.mark.django_db(transaction=True)
def test_a_dead_endpoint_is_tried_once_per_backoff_step_not_once_per_delivery(receiver):
    key = api_key_create(name="shop", scopes=["send"]).api_key
    webhook_endpoint_create(api_key=key, url=f"{receiver.url}/hooks")
    for _ in range(5):
        receiver.answer(500)
    messages = [send_with(key, to=f"p{i}@example.com") for i in range(5)]
    forward(*(event(m, "email.delivered") for m in messages))
    run_events_worker()
    assert len(receiver.received) == 1  # the others wait with it, no attempt spent
    rows = list(WebhookDelivery.objects.order_by("id"))
    assert all(r.status == DeliveryStatus.PENDING for r in rows)
    assert sorted(r.attempts for r in rows) == [0, 0, 0, 0, 1]
    assert len({r.next_attempt_at for r in rows}) == 1


@pytest.mark.django_db
def test_retry_refuses_a_message_that_became_provider_failed_after_it_was_read():
    message = message_create(to=["ann@example.com"], subject="Hi", text="Hi")
    Message.objects.filter(pk=message.pk).update(
        status=MessageStatus.FAILED, failure_code=FailureCode.ATTEMPTS_EXHAUSTED
    )
    stale = Message.objects.get(pk=message.pk)
    Message.objects.filter(pk=message.pk).update(failure_code=FailureCode.PROVIDER_FAILED)
    assert message_retry(message=stale) is False
    assert Message.objects.get(pk=message.pk).status == MessageStatus.FAILED
