"""Outside DEBUG no campaign goes without MAILHUB_POSTAL_ADDRESS (the law wants it in
marketing mail): refused by the send service, so by the command and the admin alike."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse

from campaigns.services import campaign_send

pytestmark = pytest.mark.django_db

REFUSAL = "MAILHUB_POSTAL_ADDRESS is not set"


@pytest.fixture
def campaign(make_campaign, make_list, subscribe):
    news = make_list()
    subscribe(news, 3)
    return make_campaign([news])


@pytest.mark.parametrize("blank", ["", "   "])
def test_send_campaign_command_refuses_without_a_postal_address(campaign, settings, blank):
    settings.MAILHUB_POSTAL_ADDRESS = blank
    with pytest.raises(CommandError, match=REFUSAL):
        call_command("send_campaign", str(campaign.pk), "--no-wait", stdout=StringIO())
    with pytest.raises(CommandError, match=REFUSAL):
        call_command("send_campaign", str(campaign.pk), "--dry-run", stdout=StringIO())
    campaign.refresh_from_db()
    assert campaign.status == "draft" and campaign.frozen_at is None


def test_admin_send_view_shows_the_refusal_and_sends_nothing(client, campaign, settings):
    settings.MAILHUB_POSTAL_ADDRESS = ""
    client.force_login(get_user_model().objects.create_superuser("boss", "b@example.com", "pw"))
    url = reverse("admin:campaigns_campaign_send", args=[campaign.pk])
    page = client.get(url).content.decode()
    assert REFUSAL in page and "Yes, send to" not in page
    response = client.post(url, {"scheduled_at": ""})
    assert REFUSAL in response.content.decode()
    campaign.refresh_from_db()
    assert campaign.status == "draft"


def test_scheduling_is_refused_too(campaign, settings):
    settings.MAILHUB_POSTAL_ADDRESS = ""
    with pytest.raises(CommandError, match=REFUSAL):
        call_command(
            "send_campaign",
            str(campaign.pk),
            "--schedule",
            "2099-01-01T09:00+00:00",
            stdout=StringIO(),
        )
    campaign.refresh_from_db()
    assert campaign.status == "draft"


def test_with_debug_on_a_campaign_may_go_without_one(campaign, settings):
    settings.MAILHUB_POSTAL_ADDRESS = ""
    settings.DEBUG = True
    assert campaign_send(campaign=campaign).audience == 3
    campaign.refresh_from_db()
    assert campaign.status == "sending"


def test_with_a_postal_address_the_service_sends(campaign, settings):
    settings.MAILHUB_POSTAL_ADDRESS = "Example Ltd, 1 Main Street, Springfield"
    assert campaign_send(campaign=campaign).audience == 3
    settings.MAILHUB_POSTAL_ADDRESS = ""
    with pytest.raises(ValidationError, match="never sent twice"):
        campaign_send(campaign=campaign)
