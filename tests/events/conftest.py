"""Webhooks signed by the independent `svix` package and posted to the real endpoint."""

import base64
import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from svix.webhooks import Webhook

from queueing import hooks
from queueing.hooks import ProviderEvent

# Campaigns' fixtures, for the counters tests.
from tests.campaigns.conftest import make_campaign, make_list, subscribe, template  # noqa: F401

SECRET = "whsec_" + base64.b64encode(b"mailhub-test-webhook-secret-0001").decode()
OLD_SECRET = "whsec_" + base64.b64encode(b"mailhub-test-webhook-secret-0000").decode()


def signed_headers(
    body: str, *, secret: str = SECRET, svix_id: str | None = None, at: datetime | None = None
) -> dict[str, str]:
    svix_id = svix_id or f"msg_{uuid.uuid4().hex}"
    at = at or datetime.now(UTC)
    signature = Webhook(secret).sign(svix_id, at, body)
    return {
        "HTTP_SVIX_ID": svix_id,
        "HTTP_SVIX_TIMESTAMP": str(int(at.timestamp())),
        "HTTP_SVIX_SIGNATURE": signature,
    }


def event(kind: str, *, email_id: str = "", uuid_tag: str = "", **data: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": kind if "." in kind else f"email.{kind}",
        "created_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "data": {
            "email_id": email_id,
            "from": "mailhub <mailhub@example.com>",
            "to": ["ada@example.com"],
            "subject": "Welcome",
            **({"tags": {"mailhub_message": uuid_tag}} if uuid_tag else {}),
            **data,
        },
    }
    return body


@pytest.fixture
def webhook_secrets(settings) -> list[str]:
    settings.RESEND_WEBHOOK_SECRETS = [SECRET]
    return settings.RESEND_WEBHOOK_SECRETS


@pytest.fixture
def post_webhook(client, webhook_secrets) -> Callable[..., Any]:
    """POST an event (a dict, or a raw str) signed with SECRET unless told otherwise."""

    def post(payload: dict | str, *, svix_id: str | None = None, **signing: Any):
        body = payload if isinstance(payload, str) else json.dumps(payload)
        headers = signed_headers(body, svix_id=svix_id, **signing)
        return client.post(
            "/webhooks/resend", data=body, content_type="application/json", **headers
        )

    return post


@pytest.fixture
def heard() -> Iterator[list[list[ProviderEvent]]]:
    """A listener registered for the test: the batches it was given."""
    batches: list[list[ProviderEvent]] = []
    hooks.register_event_listener("test-listener", batches.append)
    yield batches
    hooks._event_listeners.pop("test-listener", None)


def after(seconds: float) -> datetime:
    return datetime.now(UTC) - timedelta(seconds=seconds)
