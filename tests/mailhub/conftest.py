"""Fixtures for the roles tests: a signed-in client for each role, and the rows the admin's
actions and views act on."""

from collections.abc import Callable

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone

from campaigns.models import Campaign
from queueing.models import FailureCode, Message, MessageStatus
from queueing.services import message_create
from recipients.models import Recipient, Subscription, Suppression
from tests.campaigns.conftest import make_campaign, make_list, subscribe, template  # noqa: F401

# "noperm" is staff with no permission at all; "superuser" holds every permission.
ROLES = ("noperm", "viewer", "sender", "manager", "superuser")


@pytest.fixture
def user_for(db, django_user_model) -> Callable:
    def make(role: str):
        user = django_user_model.objects.create_user(
            role, password="pw", is_staff=True, is_superuser=role == "superuser"
        )
        if role in ("viewer", "sender", "manager"):
            user.groups.add(Group.objects.get(name=role))
        return user

    return make


@pytest.fixture
def client_for(user_for) -> Callable[[str], Client]:
    """A signed-in test client (no CSRF checks: a direct request) for a role."""

    def make(role: str) -> Client:
        client = Client()
        client.force_login(user_for(role))
        return client

    return make


@pytest.fixture
def queued_message(db) -> Message:
    return message_create(to=["a@example.com"], subject="Hello", text="Hi")


@pytest.fixture
def failed_message(db) -> Message:
    message = message_create(to=["b@example.com"], subject="Failed", text="Hi")
    Message.objects.filter(pk=message.pk).update(
        status=MessageStatus.FAILED, failure_code=FailureCode.REJECTED
    )
    message.refresh_from_db()
    return message


@pytest.fixture
def person(db, make_list) -> Recipient:  # noqa: F811 (the fixture)
    """A recipient subscribed to "news", with a complaint suppression."""
    person = Recipient.objects.create(email="jane@example.com", first_name="Jane")
    Subscription.objects.create(
        recipient=person,
        list=make_list("news"),
        status=Subscription.Status.SUBSCRIBED,
        source="admin",
        subscribed_at=timezone.now(),
    )
    return person


@pytest.fixture
def suppressed(db) -> Suppression:
    return Suppression.objects.create(email="jane@example.com", reason=Suppression.Reason.COMPLAINT)


@pytest.fixture
def campaign_in(make_campaign, make_list, subscribe) -> Callable[[str], Campaign]:  # noqa: F811
    """A campaign with one subscriber, in the given status."""

    def make(status: str) -> Campaign:
        news = make_list("spring-list")
        subscribe(news, 1)
        campaign = make_campaign([news])
        Campaign.objects.filter(pk=campaign.pk).update(status=status)
        campaign.refresh_from_db()
        return campaign

    return make
