"""The dashboard page, its JSON endpoint and its controls: who may read and use what, and
that bad requests change nothing."""

import json

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from campaigns.models import Campaign
from queueing.models import FailureCode, Message, MessageStatus, OperatorPause

pytestmark = pytest.mark.django_db

JSON = {"HTTP_ACCEPT": "application/json"}


def page_data(response) -> dict:
    html = response.content.decode()
    start = html.index('<script id="mailhub-dashboard-data" type="application/json">')
    body = html[start:].split(">", 1)[1].split("</script>", 1)[0]
    return json.loads(body)


def test_anonymous_and_non_staff_are_sent_to_the_login(django_user_model):
    url = reverse("admin:mailhub_status_json")
    response = Client().get(url)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    client = Client()
    client.force_login(django_user_model.objects.create_user("outsider", is_staff=False))
    assert client.get(url).status_code == 302
    assert client.get(reverse("admin:index")).status_code == 302


def test_staff_without_read_permission_gets_403_and_the_plain_index(client_for):
    client = client_for("noperm")
    assert client.get(reverse("admin:mailhub_status_json")).status_code == 403
    response = client.get(reverse("admin:index"))
    assert response.status_code == 200
    assert b"mailhub-dashboard-data" not in response.content


def test_a_viewer_reads_the_figures_and_is_offered_no_control(client_for, failed_message):
    client = client_for("viewer")
    response = client.get(reverse("admin:mailhub_status_json"))
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    assert response.json()["failures"][0]["id"] == failed_message.pk
    page = client.get(reverse("admin:index"))
    assert b"<title>Dashboard | mailhub</title>" in page.content
    data = page_data(page)
    assert data["can"] == {"pause_sending": False, "retry": False, "campaigns": False}
    assert set(data["urls"]) == {"status", "message", "campaign_page"}
    for url in ("/retry/", "/sending/resume/", "/sending/pause/", "/dashboard/campaigns/"):
        assert url not in page.content.decode()


def test_a_manager_is_offered_every_control(client_for):
    data = page_data(client_for("manager").get(reverse("admin:index")))
    assert data["can"] == {"pause_sending": True, "retry": True, "campaigns": True}
    assert {"resume", "pause", "retry", "campaign"} <= set(data["urls"])


def test_a_sender_retries_but_may_not_pause_sending(client_for):
    data = page_data(client_for("sender").get(reverse("admin:index")))
    assert data["can"] == {"pause_sending": False, "retry": True, "campaigns": True}


def test_the_page_embeds_the_endpoint_document(client_for, failed_message):
    client = client_for("manager")
    embedded = page_data(client.get(reverse("admin:index")))["status"]
    served = client.get(reverse("admin:mailhub_status_json")).json()
    for data in (embedded, served):
        data.pop("generated_at")
        data["limiter"].pop("next_free_slot_at")
    assert embedded == served


def test_command_json_is_the_endpoint_json(client_for, failed_message, capsys):
    Campaign.objects.create(name="Live", status="sending", queued=10, sent=3)
    served = client_for("viewer").get(reverse("admin:mailhub_status_json")).json()
    call_command("mailhub_status", "--json")
    printed = json.loads(capsys.readouterr().out)
    for data in (served, printed):
        data.pop("generated_at")
        data["limiter"].pop("next_free_slot_at")
        data["throughput"].pop("minutes")  # may cross a minute between the two reads
    assert printed == served
    assert printed["campaigns"][0]["name"] == "Live"


def test_retry_from_the_dashboard(client_for, failed_message):
    url = reverse("admin:mailhub_message_retry", args=[failed_message.pk])
    response = client_for("sender").post(url, **JSON)
    assert response.status_code == 200 and response.json()["ok"]
    assert Message.objects.get(pk=failed_message.pk).status == MessageStatus.QUEUED
    again = client_for("manager").post(url, **JSON)  # no longer failed
    assert "not failed" in again.json()["message"]
    assert again.status_code == 409 and not again.json()["ok"]


def test_a_refused_retry_changes_nothing(client_for, failed_message):
    Message.objects.filter(pk=failed_message.pk).update(
        failure_code=FailureCode.IDEMPOTENCY_CONFLICT
    )
    url = reverse("admin:mailhub_message_retry", args=[failed_message.pk])
    client = client_for("manager")
    response = client.post(url, **JSON)
    assert response.status_code == 409 and "cannot be retried" in response.json()["message"]
    assert Message.objects.get(pk=failed_message.pk).status == MessageStatus.FAILED
    missing = client.post(reverse("admin:mailhub_message_retry", args=[999999]), **JSON)
    assert missing.status_code == 404


def test_refusals_answer_403_json_to_the_script(client_for, failed_message):
    url = reverse("admin:mailhub_message_retry", args=[failed_message.pk])
    response = client_for("viewer").post(url, **JSON)
    assert response.status_code == 403 and response.json() == {
        "ok": False,
        "message": "You may not do this.",
    }
    assert Message.objects.get(pk=failed_message.pk).status == MessageStatus.FAILED


def test_a_pause_needs_a_reason_and_get_changes_nothing(client_for):
    client = client_for("manager")
    url = reverse("admin:mailhub_sending_pause")
    assert client.post(url, {"reason": "  "}, **JSON).status_code == 400
    assert client.post(url, {"reason": "x" * 501}, **JSON).status_code == 400
    assert client.get(url).status_code == 405
    assert not OperatorPause.objects.exists()
    response = client.post(url, {"reason": "DNS move"})  # the form without the script
    assert response.status_code == 302 and response["Location"] == reverse("admin:index")
    pause = OperatorPause.objects.get()
    assert pause.reason == "DNS move" and pause.created_by.username == "manager"
    data = client.get(reverse("admin:mailhub_status_json")).json()
    assert data["sending_paused"] and data["pauses"][0]["by"] == "manager"


def test_campaign_controls(client_for):
    campaign = Campaign.objects.create(name="Live", status="sending", queued=10)
    client = client_for("sender")

    def post(action: str):
        url = reverse("admin:mailhub_campaign_action", args=[campaign.pk, action])
        return client.post(url, **JSON)

    assert post("pause").status_code == 200
    assert Campaign.objects.get(pk=campaign.pk).status == "paused"
    refused = post("pause")  # already paused
    assert refused.status_code == 409 and "only a sending campaign" in refused.json()["message"]
    assert post("explode").status_code == 404
    assert post("resume").status_code == 200
    assert post("cancel").status_code == 200
    assert Campaign.objects.get(pk=campaign.pk).status == "cancelled"


def test_site_header_view_site_and_favicon(client_for):
    page = client_for("viewer").get(reverse("admin:queueing_message_changelist"))
    html = page.content.decode()
    assert '<div id="site-name"><a href="/admin/">mailhub</a></div>' in html
    assert 'rel="icon" href="/static/mailhub/favicon.svg"' in html
    assert "Django administration" not in html
    assert 'href="/admin/">View site' in html
    icon = Client().get("/favicon.ico")
    assert icon.status_code == 200 and icon["Content-Type"] == "image/x-icon"
    assert b"".join(icon.streaming_content)[:4] == b"\x00\x00\x01\x00"
