"""Public pages show a person only their own lists, never an internal list's name, and a
double opt-in confirmation goes at most once per window (issue 11, item 6; rows #10, #11).

Everything goes through the real views with the test client, no login, and links made by the
real token and URL code."""

import io
import re
from datetime import timedelta

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse
from django.utils import timezone

from queueing.models import Message
from recipients import services
from recipients.confirmation import confirmation_send
from recipients.imports.service import recipients_import
from recipients.models import List, Recipient, Source, Subscription, Suppression
from recipients.tokens import CONFIRMATION_MAX_AGE
from recipients.unsubscribe import one_click_unsubscribe_url, preferences_url, unsubscribe_url

pytestmark = pytest.mark.django_db

BASE = "https://mail.example.com"
ONE_CLICK = {"List-Unsubscribe": "One-Click"}
SECRET_NAME = "Churn risk Q3"
SECRET_DESCRIPTION = "People we expect to cancel soon"


@pytest.fixture(autouse=True)
def base_url(settings):
    settings.MAILHUB_BASE_URL = BASE
    settings.MAILHUB_DEFAULT_FROM = "Example Shop <news@shop.example>"


def path(url: str) -> str:
    return url.removeprefix(BASE)


def make(slug: str, *, double: bool = False, internal: bool = False, **fields) -> List:
    return List.objects.create(
        slug=slug,
        name=fields.pop("name", slug.title()),
        description=fields.pop("description", f"About {slug}"),
        opt_in=List.OptIn.DOUBLE if double else List.OptIn.SINGLE,
        internal=internal,
    )


def subscribe(recipient: Recipient, list: List, status: str = "subscribed") -> Subscription:
    """A subscription row as it stands, without going through a confirmation email."""
    now = timezone.now()
    return Subscription.objects.create(
        recipient=recipient,
        list=list,
        status=status,
        source=Source.API,
        subscribed_at=now,
        confirmed_at=now if status == "subscribed" else None,
        unsubscribed_at=now if status == "unsubscribed" else None,
    )


@pytest.fixture
def jane() -> Recipient:
    return Recipient.objects.create(email="jane@example.com", first_name="Jane")


@pytest.fixture
def churn() -> List:
    return make(
        "seg-7", double=True, internal=True, name=SECRET_NAME, description=SECRET_DESCRIPTION
    )


def assert_hidden(content: bytes | str) -> None:
    text = content.decode() if isinstance(content, bytes) else content
    assert SECRET_NAME not in text
    assert SECRET_DESCRIPTION not in text
    assert "churn" not in text.lower()


def list_field(subscription: Subscription) -> str:
    return f"list_{subscription.list_id}"


# --- which lists the preference page shows ---------------------------------------------------


def test_preference_page_shows_every_list_the_person_is_on_and_no_other(jane, client):
    on = subscribe(jane, make("news"))
    pending = subscribe(jane, make("digest", double=True), status="pending")
    left = subscribe(jane, make("offers"), status="unsubscribed")
    others = [make("weekly"), make("partners"), make("seg-9", internal=True, name="VIP spenders")]
    bob = Recipient.objects.create(email="bob@example.com")
    for other in others:
        subscribe(bob, other)

    page = client.get(path(preferences_url(jane)))
    assert page.status_code == 200
    html = page.content.decode()
    for shown in (on, pending, left):
        assert shown.list.name in html and shown.list.description in html
        assert f'name="{list_field(shown)}"' in html
    for hidden in others:
        assert hidden.name not in html and hidden.description not in html
        assert f'name="list_{hidden.pk}"' not in html
    assert 'name="list_' + str(left.list_id) + '"' in html and "checked" in html
    assert "Waiting for your confirmation" in html  # the pending one says so

    # A crafted POST for a list that is not shown subscribes to nothing.
    client.post(path(preferences_url(jane)), {f"list_{others[0].pk}": "on", list_field(on): "on"})
    assert not Subscription.objects.filter(recipient=jane, list__in=others).exists()
    assert set(jane.subscriptions.values_list("list__slug", flat=True)) == {
        "news",
        "digest",
        "offers",
    }


def test_a_person_with_no_lists_sees_only_the_marketing_switch(jane, client):
    make("news")
    make("secret", internal=True, name=SECRET_NAME)
    html = client.get(path(preferences_url(jane))).content.decode()
    assert "News" not in html and SECRET_NAME not in html
    assert 'name="list_' not in html
    assert "Unsubscribe from all marketing email" in html


# --- an internal list's name never reaches a public page or the confirmation email ------------


def test_internal_list_name_is_never_on_a_public_page_nor_in_the_confirmation_email(
    jane, churn, client
):
    subscribe(jane, make("news"))
    subscription = services.subscription_create(recipient=jane, list=churn, source=Source.ADMIN)
    message = Message.objects.get()
    for part in (message.subject, message.html, message.text):
        assert_hidden(part)
        assert "a mailing list of Example Shop" in part
    assert message.subject == "Please confirm your subscription to a mailing list of Example Shop"

    confirm = path(re.search(r"https://\S+/confirm/[^/\s]+/", message.text).group(0))
    seen = [client.get(confirm), client.post(confirm)]  # pending, then subscribed
    subscription.refresh_from_db()
    assert subscription.status == "subscribed"

    prefs = path(preferences_url(jane))
    page = client.get(prefs)
    assert "A mailing list of Example Shop" in page.content.decode()
    assert "News" in page.content.decode()  # other lists keep their names
    seen.append(page)

    unsubscribe = path(unsubscribe_url(jane, churn))
    seen.append(client.get(unsubscribe))
    seen.append(client.get(path(one_click_unsubscribe_url(jane, churn)), follow=True))
    seen.append(client.post(unsubscribe))  # the "you are unsubscribed" page
    subscription.refresh_from_db()
    assert subscription.status == "unsubscribed"
    seen.append(client.get(confirm))  # "cancelled" page
    seen.append(client.post(path(one_click_unsubscribe_url(jane, churn)), ONE_CLICK))
    seen.append(client.get(prefs))

    for response in seen:
        assert response.status_code == 200
        assert_hidden(response.content)
    # Every HTML page named the list, neutrally.
    for response in seen[:-2] + seen[-1:]:
        assert "mailing list of Example Shop" in response.content.decode()


def test_without_a_display_name_the_sender_is_named_by_its_domain(jane, churn, settings):
    settings.MAILHUB_DEFAULT_FROM = "news@shop.example"
    services.subscription_create(recipient=jane, list=churn, source=Source.FORM)
    assert Message.objects.get().subject.endswith("a mailing list of shop.example")


def test_internal_is_shown_and_editable_in_the_list_admin(admin_client, churn):
    changelist = admin_client.get(reverse("admin:recipients_list_changelist"))
    assert b"column-internal" in changelist.content
    news = make("news")
    url = reverse("admin:recipients_list_change", args=[news.pk])
    form = admin_client.get(url)
    assert b'name="internal"' in form.content
    response = admin_client.post(
        url,
        {"name": "News", "slug": "news", "description": "", "opt_in": "single", "internal": "on"},
    )
    assert response.status_code == 302
    news.refresh_from_db()
    assert news.internal
    assert (
        admin_client.get(reverse("admin:recipients_list_changelist"), {"internal__exact": "1"})
        .context["cl"]
        .result_count
        == 2
    )


# --- row #11: another list's slug in ?list= reveals nothing ----------------------------------


@pytest.mark.parametrize("internal", [True, False], ids=["internal", "public"])
def test_row_11_another_lists_slug_is_treated_as_absent(jane, client, internal):
    subscribe(jane, make("news"))
    other = make("seg-7", internal=internal, name=SECRET_NAME, description=SECRET_DESCRIPTION)
    bob = Recipient.objects.create(email="bob@example.com")
    subscribe(bob, other)
    base = path(unsubscribe_url(jane))

    absent = client.get(base)
    unknown = client.get(base, {"list": "no-such-list"})
    another = client.get(base, {"list": other.slug})
    # Byte for byte the same page: no oracle for "exists, but is not yours".
    assert absent.status_code == unknown.status_code == another.status_code == 200
    assert another.content == unknown.content == absent.content
    assert_hidden(another.content)
    assert b"any marketing email" in another.content

    # The one-click GET leads to the same page; nothing changes.
    followed = client.get(path(one_click_unsubscribe_url(jane)), {"list": other.slug}, follow=True)
    assert followed.content == absent.content
    assert not Suppression.objects.exists()

    # Acting on it does what the absent slug does (stop all marketing), and only for jane.
    done = client.post(f"{base}?list={other.slug}")
    assert_hidden(done.content)
    assert done.content == client.post(f"{base}?list=no-such-list").content
    assert list(Suppression.objects.values_list("email", flat=True)) == ["jane@example.com"]
    assert not Subscription.objects.filter(recipient=jane, list=other).exists()
    assert bob.subscriptions.get().status == "subscribed"
    assert jane.subscriptions.get().status == "subscribed"  # news: not the list asked for


def test_a_list_the_person_left_is_still_named_on_its_unsubscribe_page(jane, client):
    news = make("news")
    subscribe(jane, news, status="unsubscribed")
    page = client.get(path(unsubscribe_url(jane, news)))
    assert b"unsubscribed from <strong>News</strong>" in page.content


@pytest.mark.parametrize(
    "url",
    [
        "/u/{bad}/?list=news",
        "/u/{bad}/preferences/?list=news",
        "/confirm/{bad}/",
    ],
)
def test_bad_tokens_still_get_the_invalid_link_page(jane, client, url):
    subscribe(jane, make("news"))
    token = jane.unsubscribe_token
    for bad in (token[:-1] + ("A" if token[-1] != "A" else "B"), "x" * 43, "garbage"):
        for method in ("get", "post"):
            response = getattr(client, method)(url.format(bad=bad))
            assert response.status_code == 404, (url, bad, method)
            assert b"This link is not valid" in response.content
            assert b"News" not in response.content
    assert client.post(f"/u/{'x' * 43}/one-click/?list=news", ONE_CLICK).status_code == 404
    assert not Suppression.objects.exists()
    assert jane.subscriptions.get().status == "subscribed"


# --- the confirmation resend window ----------------------------------------------------------


def toggle(client, jane: Recipient, subscription: Subscription, times: int) -> None:
    """Untick and re-tick one list on the preference page, `times` times."""
    url = path(preferences_url(jane))
    for _ in range(times):
        assert client.post(url, {}).status_code == 302
        assert client.post(url, {list_field(subscription): "on"}).status_code == 302


def test_a_confirmation_can_go_again_after_the_window(jane, client, settings):
    settings.MAILHUB_CONFIRMATION_RESEND_SECONDS = 600
    digest = subscribe(jane, make("digest", double=True))
    toggle(client, jane, digest, 3)
    assert Message.objects.count() == 1
    digest.refresh_from_db()
    assert digest.status == "pending" and digest.confirmation_sent_at is not None

    # Ten minutes later (moved back in the database: no waiting, no stopwatch).
    Subscription.objects.filter(pk=digest.pk).update(
        confirmation_sent_at=digest.confirmation_sent_at - timedelta(seconds=600)
    )
    toggle(client, jane, digest, 3)
    assert Message.objects.count() == 2

    settings.MAILHUB_CONFIRMATION_RESEND_SECONDS = 0  # no window: every re-tick sends
    toggle(client, jane, digest, 2)
    assert Message.objects.count() == 4

    # A window longer than a link lives is cut to the link's life (14 days): once the last
    # link has expired, a re-tick gets a new one.
    settings.MAILHUB_CONFIRMATION_RESEND_SECONDS = 365 * 24 * 3600
    Subscription.objects.filter(pk=digest.pk).update(
        confirmation_sent_at=timezone.now() - CONFIRMATION_MAX_AGE
    )
    toggle(client, jane, digest, 2)
    assert Message.objects.count() == 5


def test_the_window_is_per_list_and_per_person(jane, client):
    first = subscribe(jane, make("digest", double=True))
    second = subscribe(jane, make("weekly", double=True))
    bob = Recipient.objects.create(email="bob@example.com")
    services.subscription_create(recipient=bob, list=first.list, source=Source.FORM)
    url = path(preferences_url(jane))
    client.post(url, {})
    client.post(url, {list_field(first): "on", list_field(second): "on"})
    client.post(url, {})
    client.post(url, {list_field(first): "on", list_field(second): "on"})
    assert sorted(Message.objects.values_list("to", flat=True)) == [
        ["bob@example.com"],
        ["jane@example.com"],
        ["jane@example.com"],
    ]


def test_the_window_holds_when_two_requests_race_and_after_a_redis_flush(
    jane, clean_redis, make_list
):
    subscription = services.subscription_create(
        recipient=jane, list=make_list("digest", double=True), source=Source.FORM
    )
    Subscription.objects.filter(pk=subscription.pk).update(confirmation_sent_at=None)
    # Two requests that both read the row before either sent: only one wins.
    a, b = (
        Subscription.objects.get(pk=subscription.pk),
        Subscription.objects.get(pk=subscription.pk),
    )
    sent = [confirmation_send(subscription=s, source=Source.FORM) for s in (a, b)]
    assert [m is not None for m in sent] == [True, False]
    clean_redis.flushdb()  # the window lives in the database
    services.subscription_create(recipient=jane, list=subscription.list, source=Source.FORM)
    assert Message.objects.count() == 2  # the first create, and the race winner


def test_the_admin_subscribe_action_obeys_the_window(jane, admin_client):
    digest = make("digest", double=True)
    url = reverse("admin:recipients_recipient_changelist")
    data = {"action": "subscribe_to_list", ACTION_CHECKBOX_NAME: [jane.pk], "apply": "1"}
    for _ in range(3):
        assert admin_client.post(url, {**data, "list": digest.pk}).status_code == 302
    assert Message.objects.count() == 1
    assert jane.subscriptions.get().status == "pending"


def test_imports_send_no_confirmation_email(make_list):
    make_list("digest", double=True)
    for _ in range(2):
        recipients_import(
            file=io.BytesIO(b"email\njane@example.com\n"), list_slug="digest", report=io.StringIO()
        )
    assert not Message.objects.exists()
    assert Subscription.objects.get().confirmed_at is not None


# --- row #10: untick and re-tick ten times, one email ----------------------------------------


@pytest.mark.django_db(transaction=True)
def test_row_10_ten_reticks_of_a_double_opt_in_list_send_one_confirmation(
    sandbox, deliver_all, client
):
    jane = Recipient.objects.create(email="jane@example.com", first_name="Jane")
    digest = subscribe(jane, make("digest", double=True))  # confirmed long ago
    toggle(client, jane, digest, 10)

    assert Message.objects.count() == 1
    deliver_all()
    emails = sandbox.emails()
    assert len(emails) == 1
    assert emails[0]["request"]["to"] == ["jane@example.com"]
    assert Subscription.objects.get(pk=digest.pk).status == "pending"

    # The one email's link confirms the latest re-tick.
    text = Message.objects.get().text
    confirm = path(re.search(r"https://\S+/confirm/[^/\s]+/", text).group(0))
    assert client.post(confirm).status_code == 200
    assert Subscription.objects.get(pk=digest.pk).status == "subscribed"
