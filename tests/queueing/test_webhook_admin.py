"""Webhook endpoints and their delivery log in the admin: the manager's alone (part of API
keys); the secret is shown once; the log is read-only with a "retry now" action."""

import pytest
from django.urls import reverse

from queueing.api_keys import api_key_create
from queueing.forwarding.endpoints import webhook_endpoint_create
from queueing.forwarding.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db

ENDPOINTS = reverse("admin:queueing_webhookendpoint_changelist")
DELIVERIES = reverse("admin:queueing_webhookdelivery_changelist")


@pytest.fixture
def client_for(client_as):
    return client_as  # tests/conftest.py's signed-in client for a role


@pytest.fixture
def key():
    return api_key_create(name="shop", scopes=["send"]).api_key


@pytest.fixture
def made(key):
    return webhook_endpoint_create(api_key=key, url="https://hooks.example.com/resend")


@pytest.fixture
def failed_delivery(made) -> WebhookDelivery:
    return WebhookDelivery.objects.create(
        endpoint=made.endpoint,
        raw_event_id=1,
        event_type="email.bounced",
        msg_id="msg_test1",
        payload={"type": "email.bounced", "created_at": "2026-11-30T12:00:00Z", "data": {}},
        status=DeliveryStatus.FAILED,
        attempts=8,
        last_status_code=500,
        last_error="HTTP 500: down (gave up after 8 attempt(s))",
    )


def test_manager_makes_an_endpoint_and_sees_its_secret_once(client_for, key) -> None:
    manager = client_for("manager")
    response = manager.post(
        reverse("admin:queueing_webhookendpoint_add"),
        {
            "api_key": key.pk,
            "url": "https://hooks.example.com/resend",
            "event_types": ["email.bounced", "email.complained"],
            "active": "on",
        },
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.event_types == ["email.bounced", "email.complained"]
    assert endpoint.created_by.username == "manager"
    assert endpoint.secret.startswith("whsec_") and endpoint.secret in response.content.decode()
    # Never again: not in the list, the change page, or a message.
    assert endpoint.secret not in manager.get(ENDPOINTS).content.decode()
    change = reverse("admin:queueing_webhookendpoint_change", args=[endpoint.pk])
    assert endpoint.secret not in manager.get(change).content.decode()


def test_a_private_url_is_refused_in_the_form(client_for, key, settings) -> None:
    settings.MAILHUB_WEBHOOK_ALLOW_PRIVATE_URLS = False
    response = client_for("manager").post(
        reverse("admin:queueing_webhookendpoint_add"),
        {"api_key": key.pk, "url": "https://169.254.169.254/latest", "active": "on"},
    )
    assert response.status_code == 200
    assert "not a public address" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_manager_edits_and_rolls_the_secret(client_for, made) -> None:
    manager = client_for("manager")
    endpoint = made.endpoint
    change = reverse("admin:queueing_webhookendpoint_change", args=[endpoint.pk])
    response = manager.post(
        change, {"url": "https://hooks.example.com/v2", "event_types": ["email.opened"]}
    )
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.event_types, endpoint.active) == (
        "https://hooks.example.com/v2",
        ["email.opened"],
        False,
    )
    assert endpoint.secret == made.secret

    response = manager.post(
        ENDPOINTS, {"action": "roll_secret", "_selected_action": [endpoint.pk], "index": 0}
    )
    endpoint.refresh_from_db()
    assert endpoint.secret != made.secret
    assert endpoint.secret in response.content.decode()


def test_manager_reads_the_log_and_retries_now(client_for, failed_delivery) -> None:
    manager = client_for("manager")
    listing = manager.get(f"{DELIVERIES}?endpoint__id__exact={failed_delivery.endpoint_id}")
    assert listing.status_code == 200 and "msg_test1" in listing.content.decode()
    page = manager.get(reverse("admin:queueing_webhookdelivery_change", args=[failed_delivery.pk]))
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert "gave up after 8" in page.content.decode()
    assert manager.get(reverse("admin:queueing_webhookdelivery_add")).status_code == 403

    manager.post(
        DELIVERIES, {"action": "retry_now", "_selected_action": [failed_delivery.pk], "index": 0}
    )
    failed_delivery.refresh_from_db()
    assert failed_delivery.status == DeliveryStatus.PENDING
    assert failed_delivery.next_attempt_at is not None


@pytest.mark.parametrize("role", ["viewer", "sender"])
def test_viewer_and_sender_see_no_endpoint_secret_or_delivery(
    client_for, made, failed_delivery, role: str
) -> None:
    client = client_for(role)
    endpoint = made.endpoint
    for url in (
        ENDPOINTS,
        reverse("admin:queueing_webhookendpoint_add"),
        reverse("admin:queueing_webhookendpoint_change", args=[endpoint.pk]),
        DELIVERIES,
        reverse("admin:queueing_webhookdelivery_change", args=[failed_delivery.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 403, url
        assert made.secret not in response.content.decode()
    client.post(
        DELIVERIES, {"action": "retry_now", "_selected_action": [failed_delivery.pk], "index": 0}
    )
    client.post(ENDPOINTS, {"action": "roll_secret", "_selected_action": [endpoint.pk], "index": 0})
    failed_delivery.refresh_from_db()
    endpoint.refresh_from_db()
    assert failed_delivery.status == DeliveryStatus.FAILED
    assert endpoint.secret == made.secret
    index = client.get(reverse("admin:index")).content.decode()
    assert "webhookendpoint" not in index and "webhookdelivery" not in index
