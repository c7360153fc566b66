"""POST /webhooks/resend: verified with resend.Webhooks.verify, signed here by `svix`."""

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest

from queueing.models import ProviderWebhookEvent
from tests.events.conftest import OLD_SECRET, SECRET, event, signed_headers

pytestmark = pytest.mark.django_db(transaction=True)


def stored() -> int:
    return ProviderWebhookEvent.objects.count()


def test_a_signed_event_is_stored_once_and_answered_at_once(post_webhook, clean_redis):
    answer = post_webhook(event("delivered", email_id="re_1"), svix_id="msg_one")
    assert answer.status_code == 200 and answer.json() == {"stored": True}
    row = ProviderWebhookEvent.objects.get()
    assert (row.svix_id, row.type, row.processed_at) == ("msg_one", "email.delivered", None)
    assert row.body["data"]["email_id"] == "re_1"
    # Processing is asked for on the events queue, once.
    assert clean_redis.llen("rq:queue:events") == 1


def test_the_same_svix_id_again_changes_nothing(post_webhook, clean_redis):
    body = event("delivered", email_id="re_1")
    for _ in range(3):
        answer = post_webhook(body, svix_id="msg_dup")
        assert answer.status_code == 200
    assert stored() == 1
    assert answer.json() == {"stored": False}
    assert clean_redis.llen("rq:queue:events") == 1


@pytest.mark.parametrize("missing", ["HTTP_SVIX_ID", "HTTP_SVIX_TIMESTAMP", "HTTP_SVIX_SIGNATURE"])
def test_missing_signature_headers_are_400_and_nothing_is_stored(
    client, webhook_secrets, missing, caplog
):
    body = json.dumps(event("delivered", email_id="re_1"))
    headers = signed_headers(body)
    del headers[missing]
    with caplog.at_level(logging.WARNING, logger="queueing.webhooks"):
        answer = client.post("/webhooks/resend", body, "application/json", **headers)
    assert answer.status_code == 400
    assert "missing header" in answer.json()["error"]
    assert stored() == 0
    assert len([r for r in caplog.records if r.name == "queueing.webhooks"]) == 1


def test_a_tampered_body_is_401_and_nothing_is_stored(client, webhook_secrets, caplog):
    body = json.dumps(event("delivered", email_id="re_1"))
    headers = signed_headers(body)
    tampered = body.replace("re_1", "re_2")
    with caplog.at_level(logging.WARNING, logger="queueing.webhooks"):
        answer = client.post("/webhooks/resend", tampered, "application/json", **headers)
    assert answer.status_code == 401
    assert stored() == 0
    assert [r.levelname for r in caplog.records if r.name == "queueing.webhooks"] == ["WARNING"]


def test_a_signature_made_with_another_secret_is_401(post_webhook):
    other = "whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="
    assert post_webhook(event("delivered"), secret=other).status_code == 401
    assert stored() == 0


@pytest.mark.parametrize("minutes", [6, -6])
def test_a_stale_or_future_timestamp_is_401(post_webhook, minutes):
    at = datetime.now(UTC) - timedelta(minutes=minutes)
    answer = post_webhook(event("delivered"), at=at)
    assert answer.status_code == 401
    assert "window" in answer.json()["error"]
    assert stored() == 0


def test_a_timestamp_within_five_minutes_is_accepted(post_webhook):
    at = datetime.now(UTC) - timedelta(minutes=4)
    assert post_webhook(event("delivered"), at=at).status_code == 200


def test_rotation_both_secrets_are_accepted_while_both_are_set(post_webhook, settings):
    settings.RESEND_WEBHOOK_SECRETS = [SECRET, OLD_SECRET]
    assert post_webhook(event("delivered"), secret=OLD_SECRET).status_code == 200
    assert post_webhook(event("opened"), secret=SECRET).status_code == 200
    settings.RESEND_WEBHOOK_SECRETS = [SECRET]  # the old one retired
    assert post_webhook(event("clicked"), secret=OLD_SECRET).status_code == 401
    assert stored() == 2


def test_several_signatures_in_the_header_any_one_matching_is_enough(client, webhook_secrets):
    body = json.dumps(event("delivered"))
    headers = signed_headers(body)
    headers["HTTP_SVIX_SIGNATURE"] = "v1,bm90LXRoaXMtb25l " + headers["HTTP_SVIX_SIGNATURE"]
    assert client.post("/webhooks/resend", body, "application/json", **headers).status_code == 200


def test_no_secret_configured_refuses_everything(post_webhook, settings):
    settings.RESEND_WEBHOOK_SECRETS = []
    assert post_webhook(event("delivered")).status_code == 401
    assert stored() == 0


def test_a_body_over_the_limit_is_413_before_verification(post_webhook, settings):
    settings.RESEND_WEBHOOK_MAX_BYTES = 1000
    big = event("delivered", subject="x" * 2000)
    assert post_webhook(big).status_code == 413
    assert stored() == 0


@pytest.mark.parametrize("body", ["not json", "[1, 2]", ""])
def test_a_body_that_is_not_a_json_object_is_400(post_webhook, body):
    assert post_webhook(body).status_code == 400
    assert stored() == 0


def test_only_post(client):
    assert client.get("/webhooks/resend").status_code == 405


def test_the_endpoint_is_exempt_from_the_https_redirect(post_webhook, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert post_webhook(event("delivered")).status_code == 200
