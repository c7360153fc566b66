"""Double opt-in: pending + a queued confirmation email; confirmed only by a POST."""

import re

import pytest
from django.core import signing
from django.urls import reverse

from queueing.models import Message
from recipients import services
from recipients.models import Recipient, Source, Subscription, SubscriptionEvent
from recipients.selectors import eligible_recipients
from recipients.tokens import CONFIRMATION_SALT, confirmation_token

pytestmark = pytest.mark.django_db


def confirm_path(message: Message) -> str:
    url = re.search(r"https?://\S+/confirm/[^/\s]+/", message.text).group(0)
    assert url.startswith("https://mail.example.com/confirm/")
    return url.removeprefix("https://mail.example.com")


@pytest.fixture(autouse=True)
def base_url(settings):
    settings.MAILHUB_BASE_URL = "https://mail.example.com/"


def test_double_opt_in_end_to_end(make_list, client, django_capture_on_commit_callbacks):
    digest = make_list("digest", double=True)
    jane, _ = services.recipient_get_or_create(email="jane@example.com", first_name="Jane")
    with django_capture_on_commit_callbacks(execute=True):
        subscription = services.subscription_create(recipient=jane, list=digest, source=Source.FORM)
    assert subscription.status == Subscription.Status.PENDING
    assert not eligible_recipients([digest]).exists()

    message = Message.objects.get()
    assert message.to == ["jane@example.com"]
    assert (message.priority, message.status, message.recipient_id) == (
        "transactional",
        "queued",
        jane.pk,
    )
    assert "Digest" in message.subject
    path = confirm_path(message)
    assert path in message.html

    page = client.get(path)  # a mail scanner following the link confirms nothing
    assert page.status_code == 200
    assert b"Yes, subscribe me" in page.content
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.PENDING

    done = client.post(path)
    assert done.status_code == 200
    assert b"You are subscribed" in done.content
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.SUBSCRIBED
    assert subscription.confirmed_at is not None
    assert list(eligible_recipients([digest])) == [jane]
    kinds = list(SubscriptionEvent.objects.order_by("id").values_list("kind", flat=True))
    assert kinds == ["confirmation_sent", "confirmed"]

    client.post(path)  # confirming twice changes nothing
    assert SubscriptionEvent.objects.filter(kind="confirmed").count() == 1


def test_single_opt_in_subscribes_at_once_without_email(make_list):
    news = make_list("news")
    jane = Recipient.objects.create(email="jane@example.com")
    subscription = services.subscription_create(recipient=jane, list=news, source=Source.API)
    assert subscription.status == Subscription.Status.SUBSCRIBED
    assert not Message.objects.exists()
    assert (
        services.subscription_create(recipient=jane, list=news, source=Source.API) == subscription
    )


def test_confirmation_after_unsubscribe_does_not_resubscribe(make_list, client):
    digest = make_list("digest", double=True)
    jane = Recipient.objects.create(email="jane@example.com")
    subscription = services.subscription_create(recipient=jane, list=digest, source=Source.FORM)
    path = reverse("recipients:confirm", args=[confirmation_token(subscription.pk)])
    services.subscription_unsubscribe(subscription=subscription, source="test")
    response = client.post(path)
    assert b"was cancelled" in response.content
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.UNSUBSCRIBED


@pytest.mark.parametrize("method", ["get", "post"])
def test_forged_or_tampered_confirmation_links_get_a_clear_404(make_list, client, method):
    digest = make_list("digest", double=True)
    jane = Recipient.objects.create(email="jane@example.com")
    subscription = services.subscription_create(recipient=jane, list=digest, source=Source.FORM)
    good = confirmation_token(subscription.pk)
    forged = signing.dumps({"s": subscription.pk}, salt="wrong-salt")
    for token in (good[:-2] + "xx", forged, "garbage", confirmation_token(999_999)):
        response = getattr(client, method)(reverse("recipients:confirm", args=[token]))
        assert response.status_code == 404
        assert b"This link is not valid" in response.content
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.PENDING


def test_expired_confirmation_link_says_so(make_list, client, monkeypatch):
    digest = make_list("digest", double=True)
    jane = Recipient.objects.create(email="jane@example.com")
    subscription = services.subscription_create(recipient=jane, list=digest, source=Source.FORM)
    token = confirmation_token(subscription.pk)
    real_time = signing.time.time
    monkeypatch.setattr(signing.time, "time", lambda: real_time() + 15 * 24 * 3600)
    response = client.post(reverse("recipients:confirm", args=[token]))
    assert response.status_code == 410
    assert b"expired" in response.content
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.PENDING
    assert CONFIRMATION_SALT  # the salt keeps these tokens apart from other signed values
