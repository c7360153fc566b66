"""The admin shows what caused a suppression, and the reviews of events that named several
addresses."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Group, User
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEntry
from campaigns.services import campaign_create, template_create
from queueing.hooks import ProviderEvent
from queueing.services import message_create
from recipients import services
from recipients.event_rules import provider_events_apply
from recipients.models import Suppression, SuppressionReview

pytestmark = pytest.mark.django_db


def bounce(message, raw_event_id: int, addresses: tuple[str, ...]) -> ProviderEvent:
    return ProviderEvent(
        raw_event_id=raw_event_id,
        type="email.bounced",
        kind="bounced",
        occurred_at=timezone.now(),
        message_id=message.pk,
        campaign_id=message.campaign_id,
        addresses=addresses,
        bounce_type="Permanent",
        diagnostic="550 no such user",
        data={"to": list(addresses)},
    )


@pytest.fixture
def campaign(db):
    template = template_create(
        name="News", slug="news-template", subject="News", body="<mjml><mj-body></mj-body></mjml>"
    )
    news, _ = services.list_get_or_create(slug="news")
    return campaign_create(name="Spring", template=template, lists=[news])


def test_a_suppression_shows_its_cause(admin_client, campaign):
    message = message_create(to="ann@example.com", subject="Hi", text="Hi", campaign_id=campaign.pk)
    provider_events_apply([bounce(message, 77, ("ann@example.com",))])
    row = Suppression.objects.get()
    page = admin_client.get(reverse("admin:recipients_suppression_change", args=[row.pk]))
    body = page.content.decode()
    assert page.status_code == 200
    assert reverse("admin:queueing_message_change", args=[message.pk]) in body
    assert reverse("admin:campaigns_campaign_change", args=[campaign.pk]) in body
    assert "event #77" in body and "550 no such user" in body
    listing = admin_client.get(reverse("admin:recipients_suppression_changelist") + "?cause=event")
    assert "ann@example.com" in listing.content.decode()
    services.suppression_create(email="bob@example.com", reason="manual")
    other = admin_client.get(reverse("admin:recipients_suppression_changelist") + "?cause=other")
    assert "bob@example.com" in other.content.decode()
    assert "ann@example.com" not in other.content.decode()


def test_reviews_list_link_each_address_and_are_closed_by_a_manager(admin_client, client):
    message = message_create(to=["ann@example.com", "bob@example.com"], subject="Hi", text="Hi")
    provider_events_apply([bounce(message, 78, ("ann@example.com", "bob@example.com"))])
    review = SuppressionReview.objects.get()
    url = reverse("admin:recipients_suppressionreview_changelist")
    listing = admin_client.get(url + "?open=yes").content.decode()
    add = reverse("admin:recipients_suppression_add")
    assert f"{add}?email=bob%40example.com&amp;reason=hard_bounce" in listing
    found = admin_client.get(url + "?q=bob%40example.com").content.decode()
    assert f"{add}?email=bob%40example.com" in found
    assert f"{add}?email=bob" not in admin_client.get(url + "?q=nobody").content.decode()
    # Opening the prefilled "add" page suggests the address and the reason.
    form = admin_client.get(add + "?email=bob%40example.com&reason=hard_bounce").content.decode()
    assert 'value="bob@example.com"' in form

    # A viewer may read the reviews, not close them.
    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.groups.add(Group.objects.get(name="viewer"))
    client.force_login(viewer)
    assert client.get(url).status_code == 200
    client.post(url, {"action": "mark_reviewed", ACTION_CHECKBOX_NAME: [review.pk]})
    review.refresh_from_db()
    assert review.reviewed_at is None

    admin_client.post(url, {"action": "mark_reviewed", ACTION_CHECKBOX_NAME: [review.pk]})
    review.refresh_from_db()
    assert review.reviewed_at is not None and review.reviewed_by.is_superuser
    assert AuditEntry.objects.filter(action="suppression_review.close").count() == 1
    assert "ann@example.com" not in admin_client.get(url + "?open=yes").content.decode()
    # Nobody adds or deletes a review by hand.
    assert admin_client.get(reverse("admin:recipients_suppressionreview_add")).status_code == 403
