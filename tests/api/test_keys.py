"""Keys: Bearer auth in Resend's answers, scopes, revocation, the per-key rate limit, the
command and the admin."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from queueing.api_keys import api_key_find, api_key_revoke, digest_of
from queueing.models import ApiKey, ApiScope, Message
from tests.api.conftest import assert_error, email

pytestmark = pytest.mark.django_db


def test_missing_key_is_401(api_as):
    assert_error(api_as(None).post("/emails", email()), 401, "missing_api_key")
    assert_error(
        api_as(None).get("/emails", headers={"Authorization": "Basic x"}), 401, "missing_api_key"
    )


def test_unknown_key_is_403(api_as, send_key):
    assert_error(api_as("mh_nope_nope").post("/emails", email()), 403, "invalid_api_key")
    assert_error(api_as("re_123").get("/emails"), 403, "invalid_api_key")
    assert not Message.objects.exists()


def test_revoked_key_is_403(api_as, send_key):
    api_key_revoke(api_key=send_key.api_key)
    assert_error(api_as(send_key.secret).post("/emails", email()), 403, "invalid_api_key")


def test_key_without_the_send_scope_is_401_restricted(api_as, make_key):
    key = make_key(scopes=[ApiScope.RECIPIENTS])
    response = api_as(key.secret).post("/emails", email())
    assert_error(response, 401, "restricted_api_key", "`send` scope")
    assert not Message.objects.exists()


def test_rate_limit_answers_429_with_resends_headers(api_as, make_key):
    client = api_as(make_key(rate_limit=2).secret)
    first = client.get("/emails")
    assert first.status_code == 200
    assert first["ratelimit-limit"] == "2" and first["ratelimit-remaining"] in ("0", "1")
    statuses = [client.get("/emails") for _ in range(3)]
    refused = [r for r in statuses if r.status_code == 429]
    assert refused, [r.status_code for r in statuses]
    assert_error(refused[0], 429, "rate_limit_exceeded")
    assert int(refused[0]["retry-after"]) >= 1
    assert refused[0]["ratelimit-remaining"] == "0"


def test_no_rate_limit_by_default(api):
    assert all(api.get("/emails").status_code == 200 for _ in range(10))
    assert "ratelimit-limit" not in api.get("/emails")


def test_rate_limit_lets_requests_through_when_redis_is_down(api_as, make_key, settings):
    from queueing import connection

    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    connection._clients.clear()
    try:
        client = api_as(make_key(rate_limit=1).secret)
        assert all(client.get("/emails").status_code == 200 for _ in range(3))
    finally:
        connection._clients.clear()


def test_create_api_key_prints_the_key_alone_on_its_last_line(capsys):
    call_command(
        "create_api_key",
        "--name",
        "billing",
        "--scope",
        "send",
        "--scope",
        "recipients",
        "--allowed-from-domain",
        "Example.com",
        "--rate-limit",
        "5",
    )
    secret = capsys.readouterr().out.strip().splitlines()[-1]
    key = api_key_find(secret)
    assert key is not None and key.digest == digest_of(secret)
    assert key.scopes == ["recipients", "send"]
    assert key.allowed_from_domains == ["example.com"] and key.rate_limit == 5


def test_create_api_key_refuses_bad_settings():
    with pytest.raises(CommandError, match="not a domain"):
        call_command(
            "create_api_key", "--name", "x", "--scope", "send", "--allowed-from-domain", "nodot"
        )
    assert not ApiKey.objects.exists()


def test_admin_makes_a_key_shows_it_once_and_revokes(admin_client):
    response = admin_client.post(
        "/admin/queueing/apikey/add/",
        {
            "name": "shop",
            "scopes": ["send"],
            "allowed_from_domains": "shop.example.com",
            "rate_limit": "",
        },
    )
    assert response.status_code == 200, response.content
    key = ApiKey.objects.get()
    secret = response.context["secret"]
    assert secret.startswith(key.prefix) and key.digest == digest_of(secret)
    assert secret in response.content.decode()
    assert key.allowed_from_domains == ["shop.example.com"]
    assert "no-store" in response["Cache-Control"]
    listing = admin_client.get("/admin/queueing/apikey/").content.decode()
    assert key.prefix in listing and secret not in listing
    assert (
        secret not in admin_client.get(f"/admin/queueing/apikey/{key.pk}/change/").content.decode()
    )
    admin_client.post("/admin/queueing/apikey/", {"action": "revoke", "_selected_action": [key.pk]})
    key.refresh_from_db()
    assert key.revoked_at is not None and api_key_find(secret) is None


def test_admin_refuses_a_key_without_scopes(admin_client):
    response = admin_client.post("/admin/queueing/apikey/add/", {"name": "shop"})
    assert response.status_code == 200 and not ApiKey.objects.exists()
