"""Unsubscribe links, RFC 8058 one-click, the preference page, and token forgery."""

import pytest

from recipients import services
from recipients.models import Recipient, Source, Subscription, SubscriptionEvent, Suppression
from recipients.selectors import eligible_recipients, may_receive, suppressed_addresses
from recipients.unsubscribe import (
    list_unsubscribe_headers,
    one_click_unsubscribe_url,
    preferences_url,
    unsubscribe_url,
)

pytestmark = pytest.mark.django_db
ONE_CLICK = {"List-Unsubscribe": "One-Click"}


@pytest.fixture
def jane(make_list) -> Recipient:
    jane = Recipient.objects.create(email="jane@example.com")
    for slug in ("news", "offers"):
        services.subscription_create(recipient=jane, list=make_list(slug), source=Source.API)
    return jane


@pytest.fixture
def news(jane):
    return jane.subscriptions.get(list__slug="news").list


def path(url: str) -> str:
    return url.removeprefix("https://mail.example.com")


@pytest.fixture(autouse=True)
def base_url(settings):
    settings.MAILHUB_BASE_URL = "https://mail.example.com"


def test_headers_follow_rfc_8058(jane, news):
    headers = list_unsubscribe_headers(jane, news)
    token = jane.unsubscribe_token
    assert headers == {
        "List-Unsubscribe": f"<https://mail.example.com/u/{token}/one-click/?list=news>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    with_mailto = list_unsubscribe_headers(jane, mailto="unsubscribe@example.com")
    assert with_mailto["List-Unsubscribe"] == (
        f"<https://mail.example.com/u/{token}/one-click/>, "
        f"<mailto:unsubscribe@example.com?subject=unsubscribe%20{token}>"
    )
    # Same on every render, so one message always carries the same link.
    assert list_unsubscribe_headers(jane, news) == headers
    assert unsubscribe_url(jane) == f"https://mail.example.com/u/{token}/"
    assert preferences_url(jane) == f"https://mail.example.com/u/{token}/preferences/"


def test_one_click_post_unsubscribes_from_the_list_at_once(jane, news, client):
    response = client.post(path(one_click_unsubscribe_url(jane, news)), ONE_CLICK)
    assert response.status_code == 200
    assert jane.subscriptions.get(list=news).status == Subscription.Status.UNSUBSCRIBED
    assert jane.subscriptions.get(list__slug="offers").status == Subscription.Status.SUBSCRIBED
    assert not eligible_recipients([news]).exists()
    event = SubscriptionEvent.objects.get(kind="unsubscribed")
    assert (event.list, event.source, event.recipient) == (news, "one-click", jane)
    assert client.post(path(one_click_unsubscribe_url(jane, news)), ONE_CLICK).status_code == 200


def test_one_click_without_list_stops_all_marketing_but_not_transactional(jane, client):
    response = client.post(path(one_click_unsubscribe_url(jane)), ONE_CLICK)
    assert response.status_code == 200
    suppression = Suppression.objects.get(email="jane@example.com")
    assert (suppression.reason, suppression.scope) == ("unsubscribe", "marketing")
    # The worker's check sees it for messages not yet sent.
    assert suppressed_addresses(["jane@example.com"], marketing=True)
    assert not suppressed_addresses(["jane@example.com"], marketing=False)
    assert may_receive("jane@example.com", marketing=False).allowed


def test_one_click_needs_the_rfc_body(jane, client):
    response = client.post(path(one_click_unsubscribe_url(jane)), {"something": "else"})
    assert response.status_code == 400
    assert b"List-Unsubscribe=One-Click" in response.content
    assert not Suppression.objects.exists()


def test_one_click_get_changes_nothing_and_leads_to_the_confirm_page(jane, news, client):
    response = client.get(path(one_click_unsubscribe_url(jane, news)), follow=True)
    assert response.status_code == 200
    assert b"Unsubscribe j" in response.content
    assert jane.subscriptions.get(list=news).status == Subscription.Status.SUBSCRIBED


def test_unsubscribe_page_confirms_with_a_button(jane, news, client):
    url = path(unsubscribe_url(jane, news))
    page = client.get(url)
    assert page.status_code == 200
    assert b'<form method="post">' in page.content
    assert b"News" in page.content
    assert b"jane@example.com" not in page.content  # masked, in case the link is shared
    assert jane.subscriptions.get(list=news).status == Subscription.Status.SUBSCRIBED
    done = client.post(url)
    assert done.status_code == 200
    assert b"You are unsubscribed" in done.content
    assert jane.subscriptions.get(list=news).status == Subscription.Status.UNSUBSCRIBED


def test_preference_page_updates_lists_and_global_unsubscribe(jane, news, client):
    url = path(preferences_url(jane))
    page = client.get(url)
    assert page.status_code == 200
    assert b"News" in page.content and b"Offers" in page.content
    offers_field = f"list_{jane.subscriptions.get(list__slug='offers').list_id}"
    response = client.post(url, {offers_field: "on"})
    assert response.status_code == 302
    assert jane.subscriptions.get(list=news).status == Subscription.Status.UNSUBSCRIBED
    assert jane.subscriptions.get(list__slug="offers").status == Subscription.Status.SUBSCRIBED
    assert b"Your preferences are saved" in client.get(response.url).content

    client.post(url, {offers_field: "on", "all_marketing": "on"})
    assert Suppression.objects.filter(email="jane@example.com", scope="marketing").exists()
    client.post(url, {offers_field: "on"})  # turning marketing back on lifts only their own
    assert not Suppression.objects.exists()
    kinds = set(SubscriptionEvent.objects.values_list("kind", flat=True))
    assert {"unsubscribed", "suppressed", "unsuppressed"} <= kinds


def test_preference_page_cannot_lift_a_bounce(jane, client):
    services.suppression_create(email=jane.email, reason="hard_bounce", scope="all")
    url = path(preferences_url(jane))
    assert b"We do not send marketing email" in client.get(url).content
    client.post(url, {})
    assert Suppression.objects.get().reason == "hard_bounce"


@pytest.mark.parametrize("view", ["recipients:unsubscribe", "recipients:preferences"])
def test_tampered_or_unknown_tokens_get_a_clear_404_and_change_nothing(jane, client, view):
    token = jane.unsubscribe_token
    bad_tokens = [
        token[:-1] + ("A" if token[-1] != "A" else "B"),  # one character changed
        token[:-4],  # truncated
        "x" * 43,  # unknown
        "short",
        "../../etc",
        "%00",
        "<script>alert(1)</script>",
    ]
    for bad in bad_tokens:
        for method in ("get", "post"):
            suffix = "" if view.endswith("unsubscribe") else "preferences/"
            response = getattr(client, method)(f"/u/{bad}/{suffix}")
            assert response.status_code == 404, (bad, method)
            if "/" not in bad:  # a path our URL pattern matches: our own page
                assert b"This link is not valid" in response.content
    assert client.post(f"/u/{'x' * 43}/one-click/", ONE_CLICK).status_code == 404
    assert not Suppression.objects.exists()
    assert not Subscription.objects.filter(status="unsubscribed").exists()


def test_a_token_only_ever_acts_on_its_own_recipient(jane, news, client):
    bob = Recipient.objects.create(email="bob@example.com")
    services.subscription_create(recipient=bob, list=news, source=Source.API)
    client.post(path(one_click_unsubscribe_url(bob, news)), ONE_CLICK)
    assert jane.subscriptions.get(list=news).status == Subscription.Status.SUBSCRIBED
    assert bob.subscriptions.get(list=news).status == Subscription.Status.UNSUBSCRIBED
    # A list the token's owner is not on means "stop all marketing" for that owner only.
    carol = Recipient.objects.create(email="carol@example.com")
    client.post(path(one_click_unsubscribe_url(carol, news)), ONE_CLICK)
    assert list(Suppression.objects.values_list("email", flat=True)) == ["carol@example.com"]
