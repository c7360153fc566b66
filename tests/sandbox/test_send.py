"""POST /emails and GET /emails/{id} over real HTTP, with `requests` and the `resend` SDK."""

import pytest
import requests
import resend
from resend.exceptions import InvalidApiKeyError, MissingApiKeyError, ResendError

from sandbox import SandboxConfig, SandboxControl, SandboxServer
from sandbox.testing import TEST_API_KEY, resend_pointed_at, running_sandbox, sample_email

AUTH = {"Authorization": f"Bearer {TEST_API_KEY}"}


def assert_error(response: requests.Response, status: int, name: str, message: str = "") -> None:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body["statusCode"] == status
    assert body["name"] == name
    assert message in body["message"]


def test_valid_send_is_stored_once_and_readable(server: SandboxServer, http) -> None:
    email = sample_email(cc="Bob <bob@example.com>", tags=[{"name": "kind", "value": "welcome"}])
    response = http.post(f"{server.url}/emails", json=email)

    assert response.status_code == 200
    email_id = response.json()["id"]
    assert set(response.json()) == {"id"}
    stored = server.state.emails()
    assert [e["id"] for e in stored] == [email_id]
    assert stored[0]["request"] == email
    assert stored[0]["via"] == "single"

    got = http.get(f"{server.url}/emails/{email_id}").json()
    assert got["object"] == "email"
    assert got["id"] == email_id
    assert got["from"] == email["from"]
    assert got["to"] == ["ada@example.com"]
    assert got["cc"] == ["Bob <bob@example.com>"]
    assert got["bcc"] is None
    assert got["subject"] == "Hello"
    assert got["html"] == "<p>Hello</p>"
    assert got["last_event"] == "delivered"
    assert got["scheduled_at"] is None
    assert got["tags"] == [{"name": "kind", "value": "welcome"}]
    assert got["created_at"].endswith("+00:00")


def test_sdk_send_and_get(server: SandboxServer) -> None:
    with resend_pointed_at(server.url):
        sent = resend.Emails.send(sample_email(to="ada@example.com"))
        got = resend.Emails.get(sent["id"])
    assert got["id"] == sent["id"]
    assert got["to"] == ["ada@example.com"]
    assert SandboxControl(server.url).stats()["accepted_emails"] == 1


def test_every_api_answer_has_rate_limit_headers(server: SandboxServer, http) -> None:
    for response in (
        http.post(f"{server.url}/emails", json=sample_email()),
        http.post(f"{server.url}/emails", json={}),
        http.get(f"{server.url}/nowhere"),
        requests.post(f"{server.url}/emails", json=sample_email()),  # no auth
    ):
        assert {"ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"} <= set(
            k.lower() for k in response.headers
        )
        assert int(response.headers["Content-Length"]) == len(response.content)


def test_unknown_email_is_404(server: SandboxServer, http) -> None:
    assert_error(http.get(f"{server.url}/emails/nope"), 404, "not_found", "Email not found.")


def test_unknown_path_and_method(server: SandboxServer, http) -> None:
    assert_error(http.get(f"{server.url}/domains"), 404, "not_found")
    assert_error(http.delete(f"{server.url}/emails"), 405, "method_not_allowed")
    assert_error(http.get(f"{server.url}/emails/batch"), 405, "method_not_allowed")


def test_body_that_is_not_json_is_400(server: SandboxServer, http) -> None:
    response = http.post(f"{server.url}/emails", data=b"{not json")
    assert_error(response, 400, "validation_error", "not valid JSON")
    assert server.state.emails() == []


def test_missing_api_key_is_401(server: SandboxServer) -> None:
    for headers in (
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer "},
        {"Authorization": "x"},
    ):
        response = requests.post(f"{server.url}/emails", json=sample_email(), headers=headers)
        assert_error(response, 401, "missing_api_key", "Missing API key")
    assert server.state.emails() == []


def test_configured_api_key_is_enforced() -> None:
    with running_sandbox(SandboxConfig(api_key="re_right")) as server:
        wrong = requests.post(
            f"{server.url}/emails", json=sample_email(), headers={"Authorization": "Bearer re_x"}
        )
        assert_error(wrong, 403, "invalid_api_key", "API key is invalid")
        right = requests.post(
            f"{server.url}/emails",
            json=sample_email(),
            headers={"Authorization": "Bearer re_right"},
        )
        assert right.status_code == 200
        assert len(server.state.emails()) == 1


def test_sdk_raises_resend_errors(server: SandboxServer) -> None:
    with resend_pointed_at(server.url, api_key=""), pytest.raises(MissingApiKeyError):
        resend.Emails.send(sample_email())
    server.configure(api_key="re_right")
    with resend_pointed_at(server.url, api_key="re_wrong"), pytest.raises(InvalidApiKeyError):
        resend.Emails.send(sample_email())
    with resend_pointed_at(server.url, api_key="re_right"), pytest.raises(ResendError) as caught:
        resend.Emails.send(sample_email(to="not an address"))
    assert str(caught.value.code) == "422"
    assert caught.value.error_type == "validation_error"


def test_keep_alive_connection_serves_many_requests(server: SandboxServer, http) -> None:
    for _ in range(20):
        assert http.post(f"{server.url}/emails", json=sample_email()).status_code == 200
    assert SandboxControl(server.url).stats()["accepted_emails"] == 20
