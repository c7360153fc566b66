"""Admin pages load, filters work, actions go through the services (the import: test_admin_import)."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from queueing.models import Message
from recipients import services
from recipients.models import (
    List,
    Recipient,
    Source,
    Subscription,
    SubscriptionEvent,
    Suppression,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(admin_client):
    return admin_client


@pytest.fixture
def people(make_list):
    news = make_list("news")
    make_list("digest", double=True)
    result = []
    for i in range(3):
        person = Recipient.objects.create(
            email=f"p{i}@example.com", first_name=f"P{i}", external_id=f"ext-{i}"
        )
        services.subscription_create(recipient=person, list=news, source=Source.ADMIN)
        result.append(person)
    services.subscription_unsubscribe(subscription=result[2].subscriptions.get(), source="t")
    services.suppression_create(email="p1@example.com", reason="complaint")
    return result


def changelist(client, **params):
    response = client.get(reverse("admin:recipients_recipient_changelist"), params)
    assert response.status_code == 200
    return {r.email for r in response.context["cl"].result_list}


def test_pages_load(staff, people):
    for name in (
        "admin:recipients_recipient_changelist",
        "admin:recipients_list_changelist",
        "admin:recipients_suppression_changelist",
        "admin:recipients_importrun_changelist",
        "admin:recipients_recipient_add",
        "admin:recipients_suppression_add",
        "admin:recipients_import",
    ):
        assert staff.get(reverse(name)).status_code == 200, name
    page = staff.get(reverse("admin:recipients_recipient_change", args=[people[0].pk]))
    assert page.status_code == 200
    assert b"consent timeline" in page.content.lower()
    assert b"/preferences/" in page.content
    lists = staff.get(reverse("admin:recipients_list_changelist"))
    news = next(obj for obj in lists.context["cl"].result_list if obj.slug == "news")
    assert (news.subscribed_count, news.unsubscribed_count) == (2, 1)
    assert b"Import CSV" in lists.content


def test_search_and_filters(staff, people):
    news = List.objects.get(slug="news")
    assert changelist(staff, q="P1@EXAMPLE.com") == {"p1@example.com"}
    assert changelist(staff, q="ext-2") == {"p2@example.com"}
    assert changelist(staff, q="P0") == {"p0@example.com"}
    assert changelist(staff, suppressed="yes") == {"p1@example.com"}
    assert changelist(staff, suppressed="no") == {"p0@example.com", "p2@example.com"}
    assert changelist(staff, list=news.pk, status="unsubscribed") == {"p2@example.com"}
    assert changelist(staff, status="subscribed") == {"p0@example.com", "p1@example.com"}
    digest = List.objects.get(slug="digest")
    assert changelist(staff, list=digest.pk) == set()


def action(client, name, objs, model="recipient", **data):
    url = reverse(f"admin:recipients_{model}_changelist")
    return client.post(url, {"action": name, ACTION_CHECKBOX_NAME: [o.pk for o in objs], **data})


def test_subscribe_action_shows_intermediate_page_then_subscribes(staff, people):
    digest = List.objects.get(slug="digest")
    page = action(staff, "subscribe_to_list", people[:2])
    assert page.status_code == 200
    assert b"Subscribe to a list" in page.content
    assert not Subscription.objects.filter(list=digest).exists()
    done = action(staff, "subscribe_to_list", people[:2], apply="1", list=digest.pk)
    assert done.status_code == 302
    statuses = set(Subscription.objects.filter(list=digest).values_list("status", flat=True))
    assert statuses == {"pending"}  # double opt-in: confirmation emails were queued
    assert Message.objects.count() == 2
    assert SubscriptionEvent.objects.filter(kind="confirmation_sent").first().created_by


def test_unsubscribe_suppress_and_unsuppress_actions(staff, people):
    news = List.objects.get(slug="news")
    action(staff, "unsubscribe_from_list", people[:1], apply="1", list=news.pk)
    assert people[0].subscriptions.get().status == "unsubscribed"

    action(staff, "suppress", people[:1], apply="1", reason="manual", scope="all", note="asked")
    assert Suppression.objects.get(email="p0@example.com").note == "asked"

    page = action(staff, "unsuppress", people[:2], apply="1", reason="")
    assert page.status_code == 200  # the reason is required: the form comes back
    assert Suppression.objects.count() == 2
    action(staff, "unsuppress", people[:2], apply="1", reason="confirmed by phone")
    assert not Suppression.objects.exists()
    event = SubscriptionEvent.objects.filter(kind="unsuppressed").first()
    assert "confirmed by phone" in event.detail


def test_suppression_admin_add_normalises_and_lift_needs_reason(staff):
    response = staff.post(
        reverse("admin:recipients_suppression_add"),
        {"email": " Someone@Example.com ", "reason": "manual", "scope": "all", "note": ""},
    )
    assert response.status_code == 302
    suppression = Suppression.objects.get()
    assert suppression.email == "someone@example.com"
    assert SubscriptionEvent.objects.filter(kind="suppressed").exists()
    action(staff, "lift", [suppression], model="suppression", apply="1", reason="mistake")
    assert not Suppression.objects.exists()


def test_admin_pages_need_staff(client):
    response = client.get(reverse("admin:recipients_import"))
    assert response.status_code == 302
    assert "/login/" in response.url
