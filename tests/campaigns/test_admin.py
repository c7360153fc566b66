"""Admin pages, through the test client as a superuser."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from campaigns.models import Campaign, Template
from queueing.models import Message

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def admin_client(client):
    user = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw")
    client.force_login(user)
    return client


def test_template_with_errors_is_not_saved(admin_client):
    url = reverse("admin:campaigns_template_add")
    data = {
        "name": "Bad",
        "slug": "bad",
        "subject": "Hi",
        "body_format": "mjml",
        "body": "<mjml><mj-body><mj-section>",
        "text_body": "",
        "strict_variables": "on",
    }
    response = admin_client.post(url, data)
    assert response.status_code == 200 and "MJML error" in response.content.decode()
    data["body"] = "<mjml><mj-body>{% for %}</mj-body></mjml>"
    response = admin_client.post(url, data)
    assert "Template syntax error" in response.content.decode()
    assert not Template.objects.exists()
    data["body"] = (
        "<mjml><mj-body><mj-section><mj-column><mj-text>Hi</mj-text></mj-column></mj-section></mj-body></mjml>"
    )
    assert admin_client.post(url, data).status_code == 302
    assert Template.objects.get().slug == "bad"


def test_preview_in_a_sandboxed_frame(admin_client, template, make_list, subscribe):
    (person,) = subscribe(make_list(), 1)
    url = reverse("admin:campaigns_template_preview", args=[template.pk])
    page = admin_client.get(url).content.decode()
    assert 'sandbox=""' in page and "srcdoc=" in page and "Hello Sample!" in page
    page = admin_client.get(url, {"recipient": person.email}).content.decode()
    assert "Hello User0!" in page and "News for User0" in page


def test_send_confirmation_shows_the_audience_then_sends(
    admin_client, make_campaign, make_list, subscribe
):
    news = make_list()
    subscribe(news, 7)
    campaign = make_campaign([news])
    url = reverse("admin:campaigns_campaign_send", args=[campaign.pk])
    assert "Yes, send to 7 recipients" in admin_client.get(url).content.decode()
    campaign.refresh_from_db()
    assert campaign.status == "draft"
    response = admin_client.post(url, {"scheduled_at": ""})
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == "sending" and campaign.sent_by.username == "boss"
    # A second confirmation (another tab) is refused with the reason.
    assert "never sent twice" in admin_client.get(url).content.decode()


def test_change_page_shows_progress_and_pause_resume_cancel(
    admin_client, make_campaign, make_list, subscribe
):
    from campaigns import fanout
    from campaigns.services import campaign_send

    news = make_list()
    subscribe(news, 5)
    campaign = make_campaign([news])
    campaign_send(campaign=campaign)
    fanout.fanout_run(campaign_id=campaign.pk)
    change = reverse("admin:campaigns_campaign_change", args=[campaign.pk])
    page = admin_client.get(change).content.decode()
    assert 'data-field="sent">0</span> of <span data-field="total">5<' in page
    assert ">Pause</button>" in page
    for action, status in (("pause", "paused"), ("resume", "sending"), ("cancel", "cancelled")):
        response = admin_client.post(
            reverse(f"admin:campaigns_campaign_{action}", args=[campaign.pk])
        )
        assert response.status_code == 302
        campaign.refresh_from_db()
        assert campaign.status == status
    assert campaign.cancelled == 5
    response = admin_client.post(
        reverse("admin:campaigns_campaign_pause", args=[campaign.pk]), follow=True
    )
    assert "Cannot pause" in response.content.decode()


def test_test_send_from_the_admin(admin_client, make_campaign, make_list):
    campaign = make_campaign([make_list()])
    url = reverse("admin:campaigns_campaign_test", args=[campaign.pk])
    response = admin_client.post(url, {"to": "a@example.com, b@example.com", "recipient": ""})
    assert response.status_code == 302
    tests = Message.objects.filter(campaign=campaign, is_test=True)
    assert sorted(m.to[0] for m in tests) == ["a@example.com", "b@example.com"]
    assert all(m.subject.startswith("[TEST] ") for m in tests)
    campaign.refresh_from_db()
    assert campaign.queued == 0 and campaign.status == "draft"


def test_campaign_add_refuses_a_foreign_sender(admin_client, template, make_list, settings):
    settings.MAILHUB_ALLOWED_SENDER_DOMAINS = ["example.com"]
    news = make_list()
    response = admin_client.post(
        reverse("admin:campaigns_campaign_add"),
        {
            "name": "X",
            "template": template.pk,
            "from_email": "x@evil.test",
            "lists": [news.pk],
            "attribute_filter": "{}",
        },
    )
    assert "not allowed" in response.content.decode() and not Campaign.objects.exists()
