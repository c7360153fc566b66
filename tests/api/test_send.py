"""POST /emails and /emails/batch through Django's test client: what is stored, and every bad
input refused with Resend's name and message and nothing stored."""

import base64
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.models import Template
from queueing.models import Message, MessageStatus, Priority, Source
from tests.api.conftest import assert_error, email

pytestmark = pytest.mark.django_db


def test_send_stores_a_queued_message_with_its_key(api, send_key):
    response = api.post(
        "/emails",
        email(cc="cc@example.org", tags=[{"name": "kind", "value": "invoice"}], text="Hello"),
    )
    assert response.status_code == 200, response.content
    message = Message.objects.get()
    assert response.json() == {"id": str(message.uuid)}
    assert message.api_key == send_key.api_key
    assert message.source == Source.API
    assert message.status == MessageStatus.QUEUED
    assert message.to == ["ada@example.org"] and message.cc == ["cc@example.org"]
    assert message.tags == [{"name": "kind", "value": "invoice"}]
    assert message.priority == Priority.TRANSACTIONAL


def test_priority_extension_and_attachments(api):
    content = base64.b64encode(b"%PDF-1.4 invoice").decode()
    response = api.post(
        "/emails",
        email(
            priority="bulk",
            attachments=[{"filename": "invoice.pdf", "content": content}],
        ),
    )
    assert response.status_code == 200, response.content
    message = Message.objects.get()
    assert message.priority == Priority.BULK
    assert bytes(message.attachments.get().content) == b"%PDF-1.4 invoice"


@pytest.mark.parametrize(
    ("text", "delta"),
    [("in 1 hour", timedelta(hours=1)), ("in 30 minutes", timedelta(minutes=30))],
)
def test_scheduled_at_in_plain_words(api, text, delta):
    before = timezone.now()
    assert api.post("/emails", email(scheduled_at=text)).status_code == 200
    message = Message.objects.get()
    assert message.status == MessageStatus.SCHEDULED
    assert before + delta <= message.scheduled_at <= timezone.now() + delta


def test_scheduled_at_iso_with_zone(api):
    when = (timezone.now() + timedelta(days=2)).replace(microsecond=0)
    assert api.post("/emails", email(scheduled_at=when.isoformat())).status_code == 200
    assert Message.objects.get().scheduled_at == when


def test_template_by_slug_renders_through_campaigns(api):
    Template.objects.create(
        name="Welcome",
        slug="welcome",
        subject="Welcome",
        body_format="html",
        body="<p>Hello {{ first_name }}, order {{ order }}</p>",
    )
    response = api.post(
        "/emails",
        email(
            html=None, template={"id": "welcome", "variables": {"first_name": "Ada", "order": 42}}
        ),
    )
    assert response.status_code == 200, response.content
    message = Message.objects.get()
    assert "Hello Ada, order 42" in message.html
    assert "Hello Ada, order 42" in message.text


@pytest.mark.parametrize(
    ("body", "status", "name", "fragment"),
    [
        (email(to=[f"p{i}@example.org" for i in range(51)]), 422, "validation_error", "at most 50"),
        (email(**{"from": None}), 422, "missing_required_field", "Missing `from` field"),
        (
            email(template={"id": "welcome"}),
            422,
            "validation_error",
            "Do not include `html` or `text` when using a template",
        ),
        (email(colour="blue"), 422, "validation_error", "Unknown field `colour`"),
        (email(scheduled_at="someday"), 422, "validation_error", "`scheduled_at`"),
        (email(scheduled_at="2020-01-01T00:00:00Z"), 422, "validation_error", "in the past"),
        (email(scheduled_at="2031-01-01T09:00:00"), 422, "validation_error", "no time zone"),
        (email(priority="urgent"), 422, "validation_error", "priority"),
        (email(template={"id": "nope"}, html=None), 422, "validation_error", "not found"),
        (email(topic_id="t1"), 422, "validation_error", "topic_id"),
        (
            email(attachments=[{"path": "https://example.org/a.pdf", "filename": "a.pdf"}]),
            422,
            "validation_error",
            "does not fetch",
        ),
        (
            email(tags=[{"name": "mailhub_message", "value": "x"}]),
            422,
            "validation_error",
            "reserved",
        ),
        (email(subject="x" * 1000), 422, "validation_error", "subject"),
        ([email()], 422, "validation_error", "JSON object"),
        # NUL characters: PostgreSQL cannot store them (this was a 500 there).
        (email(subject="Your\x00invoice"), 422, "validation_error", "`subject` field. The"),
        (email(html="<p>\x00</p>"), 422, "validation_error", "`html` field. The html contains"),
        (email(html=None, text="Hi\x00"), 422, "validation_error", "a NUL character"),
        (
            email(**{"from": "Bil\x00ling <b@example.com>"}),
            422,
            "validation_error",
            "control character",
        ),
        (email(headers={"X-Ref": "a\x00b"}), 422, "validation_error", "'X-Ref' contains a NUL"),
        (
            email(attachments=[{"content": "aGk=", "filename": "a\x00.txt"}]),
            422,
            "validation_error",
            "a NUL character",
        ),
    ],
)
def test_bad_input_is_refused_and_nothing_is_stored(api, body, status, name, fragment):
    assert_error(api.post("/emails", body), status, name, fragment)
    assert not Message.objects.exists()


def test_malformed_json(api):
    assert_error(api.post("/emails", b'{"from": '), 400, "validation_error", "not valid JSON")
    assert not Message.objects.exists()


def test_wrong_content_type(api):
    response = api.post("/emails", json.dumps(email()), content_type="text/plain")
    assert_error(response, 415, "validation_error", "application/json")
    assert not Message.objects.exists()


def test_body_over_the_api_limit_is_413(api, settings):
    settings.MAILHUB_API_MAX_BODY_BYTES = 2000
    assert_error(api.post("/emails", email(html="x" * 3000)), 413, "validation_error", "limit")
    assert not Message.objects.exists()


def test_api_accepts_bodies_larger_than_the_admins_limit(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000  # the admin's limit; /api has its own
    assert api.post("/emails", email(html="x" * 5000)).status_code == 200


def test_sender_outside_the_keys_domains_is_403(api_as, make_key):
    client = api_as(make_key(allowed_from_domains=["mail.example.net"]).secret)
    assert_error(client.post("/emails", email()), 403, "validation_error", "example.com")
    assert not Message.objects.exists()
    ok = client.post("/emails", email(**{"from": "a@mail.example.net"}))
    assert ok.status_code == 200


def test_sender_outside_the_fleets_domains_is_refused(api, settings):
    settings.MAILHUB_ALLOWED_SENDER_DOMAINS = ["example.net"]
    assert_error(api.post("/emails", email()), 422, "validation_error", "`from`")
    assert not Message.objects.exists()


# --- batch ---


def test_strict_batch_stores_all(api, send_key):
    response = api.post("/emails/batch", [email(), email(to="b@example.org")])
    assert response.status_code == 200, response.content
    ids = [item["id"] for item in response.json()["data"]]
    assert len(ids) == 2 and "errors" not in response.json()
    stored = Message.objects.filter(api_key=send_key.api_key)
    assert {str(m.uuid) for m in stored} == set(ids)


def test_strict_batch_refuses_whole_for_one_bad_email(api):
    response = api.post("/emails/batch", [email(), email(to="not an address")])
    assert_error(response, 422, "validation_error", "Email at index 1", "`to`")
    assert not Message.objects.exists()


def test_strict_batch_refuses_whole_for_mailhubs_own_rule(api):
    body = [email(), email(tags=[{"name": "mailhub_campaign", "value": "1"}])]
    assert_error(api.post("/emails/batch", body), 422, "validation_error", "index 1", "reserved")
    assert not Message.objects.exists()


def test_permissive_batch_stores_the_valid_ones_and_lists_errors_by_index(api):
    body = [
        email(to="a@example.org"),
        email(to="bad"),
        email(to="c@example.org"),
        email(tags=[{"name": "mailhub_message", "value": "1"}]),
    ]
    response = api.post("/emails/batch", body, headers={"x-batch-validation": "permissive"})
    assert response.status_code == 200, response.content
    answer = response.json()
    assert len(answer["data"]) == 2
    assert [e["index"] for e in answer["errors"]] == [1, 3]
    assert "reserved" in answer["errors"][1]["message"]
    assert sorted(m.to[0] for m in Message.objects.all()) == ["a@example.org", "c@example.org"]


@pytest.mark.parametrize(
    ("body", "headers", "status", "fragment"),
    [
        ([email(scheduled_at="in 1 hour")], {}, 422, "`scheduled_at` field is not supported"),
        (
            [email(attachments=[{"filename": "a.txt", "content": "aGk="}])],
            {},
            422,
            "`attachments` field is not supported",
        ),
        ([], {}, 422, "between 1 and 100"),
        ([email()] * 101, {}, 422, "between 1 and 100"),
        (email(), {}, 422, "JSON array"),
        ([email()], {"x-batch-validation": "lenient"}, 422, "x-batch-validation"),
    ],
)
def test_bad_batches_are_refused_and_nothing_is_stored(api, body, headers, status, fragment):
    assert_error(
        api.post("/emails/batch", body, headers=headers), status, "validation_error", fragment
    )
    assert not Message.objects.exists()


def test_a_body_without_a_key_is_refused_before_it_is_read(client):
    response = client.generic("POST", "/api/emails", b"x" * 1024, content_type="application/json")
    assert response.status_code == 401
    assert response.json()["name"] == "missing_api_key"
