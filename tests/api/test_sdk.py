"""The official Python `resend` package as the client, against a live mailhub: the SDK's base
URL is http://HOST/api, and nothing else changes for a service written against Resend."""

from collections.abc import Iterator

import pytest
import requests
import resend
from resend.exceptions import InvalidApiKeyError, MissingApiKeyError, RateLimitError, ResendError
from resend.exceptions import ValidationError as ResendValidationError

from queueing.api_keys import api_key_create
from queueing.models import ApiScope, Message, MessageStatus

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sdk(live_server) -> Iterator[str]:
    """Point the SDK at the live server with a send key; put its globals back afterwards
    (mailhub's own outbound client uses the same module)."""
    saved = (resend.api_key, resend.api_url)
    secret = api_key_create(name="sdk", scopes=[ApiScope.SEND]).secret
    resend.api_key, resend.api_url = secret, f"{live_server.url}/api"
    yield secret
    resend.api_key, resend.api_url = saved


def params(**overrides):
    base = {
        "from": "Shop <shop@example.com>",
        "to": ["ada@example.org"],
        "subject": "Your order",
        "html": "<p>Thanks</p>",
    }
    return {**base, **overrides}


def test_send_get_list_reschedule_cancel(sdk):
    sent = resend.Emails.send(params())
    message = Message.objects.get(uuid=sent["id"])
    assert message.status == MessageStatus.QUEUED
    got = resend.Emails.get(sent["id"])
    assert got["id"] == sent["id"] and got["last_event"] == "queued"
    assert got["from"] == "Shop <shop@example.com>"

    later = resend.Emails.send(params(scheduled_at="in 1 hour"))
    listed = resend.Emails.list({"limit": 1})
    assert [e["id"] for e in listed["data"]] == [later["id"]] and listed["has_more"]
    rest = resend.Emails.list({"limit": 5, "after": later["id"]})
    assert [e["id"] for e in rest["data"]] == [sent["id"]]

    updated = resend.Emails.update({"id": later["id"], "scheduled_at": "tomorrow at 9am"})
    assert updated["id"] == later["id"]
    assert Message.objects.get(uuid=later["id"]).status == MessageStatus.SCHEDULED
    canceled = resend.Emails.cancel(later["id"])
    assert canceled["id"] == later["id"]
    assert resend.Emails.get(later["id"])["last_event"] == "canceled"


def test_batch_strict_and_permissive(sdk):
    strict = resend.Batch.send([params(), params(to=["b@example.org"])])
    assert len(strict["data"]) == 2
    permissive = resend.Batch.send(
        [params(), params(to=["not an address"])], {"batch_validation": "permissive"}
    )
    assert len(permissive["data"]) == 1
    assert [e["index"] for e in permissive["errors"]] == [1]
    with pytest.raises(ResendValidationError) as refused:
        resend.Batch.send([params(), params(to=["not an address"])])
    assert "index 1" in refused.value.message
    assert Message.objects.count() == 3


def test_idempotent_retry(sdk):
    first = resend.Emails.send(params(), {"idempotency_key": "order-77"})
    again = resend.Emails.send(params(), {"idempotency_key": "order-77"})
    assert first["id"] == again["id"] and Message.objects.count() == 1
    with pytest.raises(ResendError) as conflict:
        resend.Emails.send(params(subject="Else"), {"idempotency_key": "order-77"})
    assert conflict.value.code == 409
    assert conflict.value.error_type == "invalid_idempotent_request"


def test_error_classes(sdk):
    with pytest.raises(ResendValidationError) as invalid:
        resend.Emails.send(params(to=[f"p{i}@example.org" for i in range(51)]))
    assert invalid.value.code == 422
    resend.api_key = "mh_unknown_key"
    with pytest.raises(InvalidApiKeyError) as forbidden:
        resend.Emails.send(params())
    assert forbidden.value.code == 403
    resend.api_key = api_key_create(name="people", scopes=[ApiScope.RECIPIENTS]).secret
    with pytest.raises(ResendError) as restricted:
        resend.Emails.send(params())
    assert restricted.value.code == 401 and restricted.value.error_type == "restricted_api_key"
    assert not Message.objects.exists()


def test_missing_key_is_401(sdk, live_server):
    answer = requests.post(f"{live_server.url}/api/emails", json=params(), timeout=5)
    assert answer.status_code == 401 and answer.json()["name"] == "missing_api_key"
    resend.api_key = ""  # the SDK then sends `Authorization: Bearer ` with nothing after it
    with pytest.raises(MissingApiKeyError):
        resend.Emails.send(params())


def test_rate_limited_key_raises_rate_limit_error(sdk):
    resend.api_key = api_key_create(name="slow", scopes=[ApiScope.SEND], rate_limit=1).secret
    with pytest.raises(RateLimitError) as limited:
        for _ in range(5):
            resend.Emails.list({"limit": 1})
    assert limited.value.code == 429
    assert int(limited.value.headers["retry-after"]) >= 1
