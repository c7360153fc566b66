"""Each validation rule answers with Resend's status, name and a message naming the field."""

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from sandbox import SandboxServer
from sandbox.testing import TEST_API_KEY, running_sandbox, sample_email

AUTH = {"Authorization": f"Bearer {TEST_API_KEY}"}
FORMAT = (
    "email address needs to follow the `email@example.com` or `Name <email@example.com>` format"
)


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with running_sandbox() as server:
        yield server


@pytest.mark.parametrize(
    ("overrides", "status", "name", "message"),
    [
        ({"from_": None}, 422, "missing_required_field", "Missing `from` field."),
        ({"to": None}, 422, "missing_required_field", "Missing `to` field."),
        ({"subject": None}, 422, "missing_required_field", "Missing `subject` field."),
        ({"html": None, "text": None}, 422, "missing_required_field", "`html` or `text`"),
        (
            {"from_": "not-an-address"},
            422,
            "invalid_from_address",
            f"Invalid `from` field. The {FORMAT}",
        ),
        ({"from_": ["a@example.com"]}, 422, "invalid_from_address", "Invalid `from` field."),
        ({"to": "ada@"}, 422, "validation_error", f"Invalid `to` field. The {FORMAT}"),
        ({"to": "Ada <ada@example.com"}, 422, "validation_error", "Invalid `to` field."),
        ({"to": "ada@example.com\r\nBcc: x@example.com"}, 422, "validation_error", "`to`"),
        ({"to": "Ada\n <ada@example.com>"}, 422, "validation_error", "Invalid `to` field."),
        ({"to": []}, 422, "validation_error", "at least one address"),
        ({"to": [f"u{i}@example.com" for i in range(51)]}, 422, "validation_error", "at most 50"),
        ({"to": 42}, 422, "validation_error", "Invalid `to` field."),
        ({"cc": ["ok@example.com", "bad"]}, 422, "validation_error", "Invalid `cc` field."),
        ({"bcc": "bad@"}, 422, "validation_error", "Invalid `bcc` field."),
        ({"reply_to": {"a": 1}}, 422, "validation_error", "Invalid `reply_to` field."),
        ({"subject": ""}, 422, "validation_error", "Invalid `subject` field."),
        ({"subject": "a\nb"}, 422, "validation_error", "line breaks"),
        ({"html": 5}, 422, "validation_error", "Invalid `html` field."),
        ({"template": {"id": "t1"}}, 422, "validation_error", "Invalid `template` field."),
        ({"headers": ["X-A"]}, 422, "validation_error", "Invalid `headers` field."),
        ({"headers": {"X-A": 1}}, 422, "validation_error", "The value of `X-A`"),
        ({"headers": {"X-A": "a\r\nB: c"}}, 422, "validation_error", "line breaks"),
        ({"headers": {"Bad Name": "x"}}, 422, "validation_error", "not a valid header name"),
        ({"tags": {"name": "a"}}, 422, "validation_error", "Invalid `tags` field."),
        ({"tags": [{"name": "has space", "value": "v"}]}, 422, "validation_error", "tag name"),
        ({"tags": [{"name": "n", "value": "ü"}]}, 422, "validation_error", "tag value"),
        ({"tags": [{"name": "n" * 257, "value": "v"}]}, 422, "validation_error", "256"),
        ({"tags": [{"value": "v"}]}, 422, "validation_error", "tag name"),
        ({"attachments": [{"filename": "a.txt"}]}, 422, "validation_error", "`content` or `path`"),
        (
            {"attachments": [{"content": "aGVsbG8="}]},
            422,
            "missing_required_field",
            "Missing `attachments[0].filename` field.",
        ),
        (
            {"attachments": [{"filename": "a.txt", "content": "%%%"}]},
            422,
            "validation_error",
            "base64",
        ),
        ({"attachments": {"filename": "a"}}, 422, "validation_error", "Invalid `attachments`"),
        ({"scheduled_at": 12}, 422, "validation_error", "Invalid `scheduled_at` field."),
        ({"Subject": "dup"}, 422, "validation_error", "Unknown field `Subject`"),
        ({"react": "<Email/>"}, 422, "validation_error", "Unknown field `react`"),
    ],
)
def test_invalid_send_is_rejected(
    server: SandboxServer, overrides: dict[str, Any], status: int, name: str, message: str
) -> None:
    before = server.state.email_count()
    response = requests.post(f"{server.url}/emails", json=sample_email(**overrides), headers=AUTH)
    assert response.status_code == status, response.text
    body = response.json()
    assert body == {"statusCode": status, "name": name, "message": body["message"]}
    assert message in body["message"]
    assert server.state.email_count() == before


def test_body_must_be_an_object(server: SandboxServer) -> None:
    response = requests.post(f"{server.url}/emails", json=[sample_email()], headers=AUTH)
    assert response.status_code == 422
    assert response.json()["name"] == "validation_error"


@pytest.mark.parametrize(
    "overrides",
    [
        {"to": "Ada Lovelace <ada@example.com>"},
        {"to": '"Lovelace, Ada" <ada@example.com>'},
        {"to": [f"u{i}@example.com" for i in range(50)]},
        {"from_": "news@mail.acme.example.co.uk", "reply_to": ["a@example.com", "b@example.com"]},
        {"html": None},
        {"text": None},
        {"html": None, "text": None, "template": {"id": "t1", "variables": {"name": "A", "n": 2}}},
        {"headers": {"X-Entity-Ref-ID": "123", "List-Unsubscribe": "<https://x.example/u>"}},
        {"tags": [{"name": "campaign_id", "value": "c-42"}, {"name": "only-name"}]},
        {"attachments": [{"filename": "a.txt", "content": "aGVsbG8="}]},
        {"attachments": [{"filename": "a.bin", "content": [104, 105]}]},
        {"attachments": [{"path": "https://example.com/a.pdf", "content_type": "application/pdf"}]},
        {"scheduled_at": "in 1 hour"},
        {"topic_id": "topic_1", "bcc": "x@example.com"},
    ],
)
def test_valid_variants_are_accepted(server: SandboxServer, overrides: dict[str, Any]) -> None:
    response = requests.post(f"{server.url}/emails", json=sample_email(**overrides), headers=AUTH)
    assert response.status_code == 200, response.text


def test_validate_false_accepts_anything_shaped_like_an_object() -> None:
    with running_sandbox(validate=False) as server:
        odd = {"to": "not an address", "whatever": 1}
        response = requests.post(f"{server.url}/emails", json=odd, headers=AUTH)
        assert response.status_code == 200
        assert server.state.emails()[0]["request"] == odd
        response = requests.post(f"{server.url}/emails", json="text", headers=AUTH)
        assert response.status_code == 422
