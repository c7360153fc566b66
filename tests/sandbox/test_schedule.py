"""Scheduled emails: PATCH /emails/{id} (reschedule) and POST /emails/{id}/cancel."""

import requests
import resend

from sandbox import SandboxServer
from sandbox.testing import TEST_API_KEY, resend_pointed_at, sample_email

AUTH = {"Authorization": f"Bearer {TEST_API_KEY}"}


def send(http: requests.Session, server: SandboxServer, **overrides) -> str:
    response = http.post(f"{server.url}/emails", json=sample_email(**overrides))
    assert response.status_code == 200
    return response.json()["id"]


def test_reschedule_a_scheduled_email(server: SandboxServer, http) -> None:
    email_id = send(http, server, scheduled_at="2030-01-01T09:00:00Z")
    assert http.get(f"{server.url}/emails/{email_id}").json()["last_event"] == "scheduled"

    response = http.patch(
        f"{server.url}/emails/{email_id}", json={"scheduled_at": "2030-02-01T09:00:00Z"}
    )
    assert response.status_code == 200
    assert response.json() == {"object": "email", "id": email_id}
    got = http.get(f"{server.url}/emails/{email_id}").json()
    assert got["scheduled_at"] == "2030-02-01T09:00:00Z"
    assert got["last_event"] == "scheduled"


def test_cancel_a_scheduled_email(server: SandboxServer, http) -> None:
    email_id = send(http, server, scheduled_at="in 1 hour")
    response = http.post(f"{server.url}/emails/{email_id}/cancel")
    assert response.json() == {"object": "email", "id": email_id}
    assert http.get(f"{server.url}/emails/{email_id}").json()["last_event"] == "canceled"
    # Canceled is final: neither a second cancel nor a reschedule applies.
    again = http.post(f"{server.url}/emails/{email_id}/cancel")
    assert again.status_code == 422
    assert "Only scheduled emails can be canceled" in again.json()["message"]
    patch = http.patch(f"{server.url}/emails/{email_id}", json={"scheduled_at": "in 2 hours"})
    assert patch.status_code == 422


def test_sent_emails_cannot_be_rescheduled_or_canceled(server: SandboxServer, http) -> None:
    email_id = send(http, server)
    patch = http.patch(f"{server.url}/emails/{email_id}", json={"scheduled_at": "in 1 hour"})
    assert patch.status_code == 422
    assert patch.json()["name"] == "validation_error"
    assert "Only scheduled emails can be rescheduled" in patch.json()["message"]
    cancel = http.post(f"{server.url}/emails/{email_id}/cancel")
    assert cancel.status_code == 422
    assert http.get(f"{server.url}/emails/{email_id}").json()["last_event"] == "delivered"


def test_unknown_email_and_bad_patch_bodies(server: SandboxServer, http) -> None:
    assert http.post(f"{server.url}/emails/nope/cancel").status_code == 404
    assert http.patch(f"{server.url}/emails/nope", json={"scheduled_at": "x"}).status_code == 404
    email_id = send(http, server, scheduled_at="in 1 hour")
    missing = http.patch(f"{server.url}/emails/{email_id}", json={})
    assert missing.json()["name"] == "missing_required_field"
    extra = http.patch(f"{server.url}/emails/{email_id}", json={"scheduled_at": "x", "to": "a"})
    assert extra.status_code == 422


def test_sdk_update_and_cancel(server: SandboxServer) -> None:
    with resend_pointed_at(server.url):
        email_id = resend.Emails.send(sample_email(scheduled_at="in 1 hour"))["id"]
        updated = resend.Emails.update({"id": email_id, "scheduled_at": "in 2 hours"})
        canceled = resend.Emails.cancel(email_id)
        got = resend.Emails.get(email_id)
    assert updated["id"] == canceled["id"] == email_id
    assert got["scheduled_at"] == "in 2 hours"
    assert got["last_event"] == "canceled"
