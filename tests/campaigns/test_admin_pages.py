"""A campaign's admin page for each status: what it shows, what it hides, which controls it
offers and to whom; the progress JSON; the previews. Through Django's test client."""

import json
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from campaigns import fanout
from campaigns.models import Campaign, CampaignLink, DailyStats
from campaigns.services import campaign_send

pytestmark = pytest.mark.django_db(transaction=True)

INTERNAL = ("fanout_cursor", "Fanout", "frozen_body", "Frozen", "heartbeat", "id_queued")


@pytest.fixture
def client_as(db, client_as):
    """tests/conftest.py's signed-in client, with the database these pages need."""
    return client_as


@pytest.fixture
def campaign_of(make_campaign, make_list, subscribe):
    """A campaign to 4 people, in the given status (sending and after: sent and fanned out)."""

    def make(status: str) -> Campaign:
        news = make_list("news")
        subscribe(news, 4)
        campaign = make_campaign([news], subject="Spring news")
        if status != "draft":
            campaign_send(campaign=campaign)
            fanout.fanout_run(campaign_id=campaign.pk)
        Campaign.objects.filter(pk=campaign.pk).update(status=status)
        campaign.refresh_from_db()
        return campaign

    return make


def page_of(client: Client, campaign: Campaign) -> str:
    response = client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk]))
    assert response.status_code == 200
    return response.content.decode()


def controls(page: str) -> list[str]:
    """The labels of the panel's buttons and links."""
    found = re.search(r'<div class="campaign-controls">(.*?)</div>', page, re.S)
    return re.findall(r'class="button[^"]*"[^>]*>([^<]+)<', found.group(1)) if found else []


def has_save(page: str) -> bool:
    return 'name="_save"' in page


def has_delete(page: str) -> bool:
    return "deletelink" in page


def test_add_page_shows_the_form_only(client_as):
    page = client_as("superuser").get(reverse("admin:campaigns_campaign_add")).content.decode()
    assert 'name="name"' in page and 'name="lists"' in page and has_save(page)
    for internal in (*INTERNAL, "Audience size", "Sent by", "Pause reason"):
        assert internal not in page, internal


def test_draft_shows_audience_preview_test_and_send(client_as, campaign_of):
    campaign = campaign_of("draft")
    page = page_of(client_as("superuser"), campaign)
    assert 'data-field="audience">4<' in page
    for url in ("preview", "test", "send"):
        assert reverse(f"admin:campaigns_campaign_{url}", args=[campaign.pk]) in page
    assert has_save(page) and has_delete(page)
    assert "mh-progress" not in page and "data-progress-url" not in page
    for internal in INTERNAL:
        assert internal not in page, internal


def test_sending_shows_progress_pause_and_cancel_and_nothing_to_save(client_as, campaign_of):
    campaign = campaign_of("sending")
    Campaign.objects.filter(pk=campaign.pk).update(
        sent=1, failed=1, started_at=timezone.now() - timedelta(seconds=10)
    )
    client = client_as("superuser")
    page = page_of(client, campaign)
    assert 'role="progressbar"' in page and 'aria-valuenow="50"' in page
    assert 'data-field="sent">1</span> of <span data-field="total">4<' in page
    assert "Time left" in page and 'data-field="rate">0.2<' in page
    assert controls(page) == ["Preview", "Pause", "Cancel campaign"]
    # Each button's form stands after the admin's form (a nested form would be dropped).
    admin_form_end = page.index("</form>", page.index('id="campaign_form"'))
    assert page.index('<form id="campaign-control-') > admin_form_end
    assert reverse("admin:campaigns_campaign_progress", args=[campaign.pk]) in page
    assert not has_save(page) and not has_delete(page)
    for internal in INTERNAL:
        assert internal not in page, internal
    # The form is not there, and a POST to it is refused with nothing changed.
    url = reverse("admin:campaigns_campaign_change", args=[campaign.pk])
    response = client.post(url, {"name": "Renamed", "attribute_filter": "{}"})
    assert response.status_code == 403
    assert Campaign.objects.get(pk=campaign.pk).name == "Spring"
    delete = reverse("admin:campaigns_campaign_delete", args=[campaign.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert Campaign.objects.filter(pk=campaign.pk).exists()


def test_paused_offers_resume_and_shows_why(client_as, campaign_of):
    campaign = campaign_of("paused")
    Campaign.objects.filter(pk=campaign.pk).update(pause_reason="hard bounces at 9%")
    page = page_of(client_as("superuser"), campaign)
    assert controls(page) == ["Preview", "Resume", "Cancel campaign"]
    assert "hard bounces at 9%" in page
    assert not has_save(page) and not has_delete(page)


def test_finished_shows_statistics_and_no_controls(client_as, campaign_of):
    campaign = campaign_of("sent")
    now = timezone.now()
    Campaign.objects.filter(pk=campaign.pk).update(
        sent=4, delivered=4, opened=2, clicked=1, bounced_hard=0, started_at=now, finished_at=now
    )
    CampaignLink.objects.create(
        campaign=campaign, url="https://example.com/spring", clicks=3, unique_clicks=1
    )
    DailyStats.objects.create(date=timezone.localdate(), sent=41, delivered=40, opened=17)
    page = page_of(client_as("superuser"), campaign)
    assert "From Resend&#x27;s webhooks" in page or "From Resend's webhooks" in page
    assert '<td>Delivered</td><td class="num">4</td><td class="num">100.0% of sent' in page
    assert '<td>Opened</td><td class="num">2</td><td class="num">50.0% of delivered' in page
    assert "https://example.com/spring" in page
    assert '<td class="num">41</td>' in page  # the day's figures
    assert 'aria-valuenow="100"' in page and "data-progress-url" not in page
    assert controls(page) == ["Preview"]
    assert not has_save(page) and not has_delete(page)


def test_cancelled_has_no_save_no_delete_no_controls(client_as, campaign_of):
    page = page_of(client_as("superuser"), campaign_of("cancelled"))
    assert not has_save(page) and not has_delete(page) and controls(page) == ["Preview"]


def test_a_viewer_sees_no_controls(client_as, campaign_of):
    viewer = client_as("viewer")
    draft = campaign_of("draft")
    page = page_of(viewer, draft)
    assert reverse("admin:campaigns_campaign_preview", args=[draft.pk]) in page
    for url in ("test", "send"):
        assert reverse(f"admin:campaigns_campaign_{url}", args=[draft.pk]) not in page
    assert not has_save(page) and not has_delete(page)
    Campaign.objects.filter(pk=draft.pk).update(status="sending")
    page = page_of(viewer, draft)
    assert 'role="progressbar"' in page
    assert controls(page) == ["Preview"] and '<form id="campaign-control' not in page


def test_a_sender_sees_send_and_test_but_may_not_delete_a_sent_one(client_as, campaign_of):
    sender = client_as("sender")
    draft = campaign_of("draft")
    page = page_of(sender, draft)
    assert reverse("admin:campaigns_campaign_send", args=[draft.pk]) in page
    assert reverse("admin:campaigns_campaign_test", args=[draft.pk]) in page
    assert has_save(page) and not has_delete(page)  # deleting is the manager's


def test_progress_json(client_as, campaign_of):
    campaign = campaign_of("sending")
    Campaign.objects.filter(pk=campaign.pk).update(
        sent=3, started_at=timezone.now() - timedelta(seconds=3)
    )
    url = reverse("admin:campaigns_campaign_progress", args=[campaign.pk])
    response = client_as("viewer").get(url)
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    data = json.loads(response.content)
    assert data["status"] == "sending" and (data["sent"], data["total"]) == (3, 4)
    assert data["percent"] == 75.0 and data["eta_seconds"] is not None and data["eta_text"]
    missing = reverse("admin:campaigns_campaign_progress", args=[campaign.pk + 100])
    assert client_as("manager").get(missing).status_code == 404


def test_no_bulk_delete_on_the_list(client_as, campaign_of):
    campaign = campaign_of("sent")
    client = client_as("superuser")
    url = reverse("admin:campaigns_campaign_changelist")
    page = client.get(url).content.decode()
    assert (
        "delete_selected" not in page
        and '<span class="mh-badge mh-badge--success">Sent</span>' in page
    )
    assert '<time class="mh-time mh-time--short" datetime="' in page  # the shared local time
    client.post(url, {"action": "delete_selected", "_selected_action": [campaign.pk]})
    assert Campaign.objects.filter(pk=campaign.pk).exists()


def test_campaign_preview_uses_its_subject(client_as, campaign_of):
    campaign = campaign_of("draft")
    url = reverse("admin:campaigns_campaign_preview", args=[campaign.pk])
    page = client_as("viewer").get(url).content.decode()
    assert "Spring news" in page and 'sandbox=""' in page and "Hello Sample!" in page


def test_template_page_has_a_preview_button(client_as, template):
    url = reverse("admin:campaigns_template_change", args=[template.pk])
    page = client_as("viewer").get(url).content.decode()
    assert reverse("admin:campaigns_template_preview", args=[template.pk]) in page
