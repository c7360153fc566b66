"""GET /emails/{id}, GET /emails, PATCH /emails/{id}, POST /emails/{id}/cancel: a key sees and
changes only its own messages, in Resend's words."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from queueing.models import Message, MessageStatus, SendBatch
from tests.api.conftest import assert_error, email

pytestmark = pytest.mark.django_db


def _send(client, **overrides) -> str:
    response = client.post("/emails", email(**overrides))
    assert response.status_code == 200, response.content
    return response.json()["id"]


def test_get_is_resends_email_object(api):
    email_id = _send(api, cc=["c@example.org"], text="Hi")
    body = api.get(f"/emails/{email_id}").json()
    assert body["object"] == "email" and body["id"] == email_id
    assert body["from"] == "Billing <billing@example.com>"
    assert body["to"] == ["ada@example.org"] and body["cc"] == ["c@example.org"]
    assert body["last_event"] == "queued" and body["scheduled_at"] is None


@pytest.mark.parametrize(
    ("status", "word"),
    [
        (MessageStatus.SENDING, "queued"),
        (MessageStatus.CANCELLED, "canceled"),
        (MessageStatus.DELIVERED, "delivered"),
        (MessageStatus.FAILED, "failed"),
    ],
)
def test_last_event_uses_resends_words(api, status, word):
    email_id = _send(api)
    Message.objects.filter(uuid=email_id).update(status=status)
    assert api.get(f"/emails/{email_id}").json()["last_event"] == word


def test_another_keys_message_is_not_found(api, api_as, make_key):
    email_id = _send(api)
    other = api_as(make_key(name="other").secret)
    for response in (
        other.get(f"/emails/{email_id}"),
        other.patch(f"/emails/{email_id}", {"scheduled_at": "in 1 hour"}),
        other.post(f"/emails/{email_id}/cancel"),
    ):
        assert_error(response, 404, "not_found", "Email not found")
    assert other.get("/emails").json()["data"] == []
    assert_error(api.get(f"/emails/{uuid.uuid4()}"), 404, "not_found")
    assert_error(api.get("/emails/not-a-uuid"), 404, "not_found")


def test_list_is_newest_first_with_cursors(api):
    ids = [_send(api, subject=f"n{i}") for i in range(5)]
    first = api.get("/emails?limit=2").json()
    assert first["object"] == "list" and first["has_more"] is True
    assert [e["id"] for e in first["data"]] == [ids[4], ids[3]]
    second = api.get(f"/emails?limit=2&after={ids[3]}").json()
    assert [e["id"] for e in second["data"]] == [ids[2], ids[1]] and second["has_more"]
    last = api.get(f"/emails?limit=2&after={ids[1]}").json()
    assert [e["id"] for e in last["data"]] == [ids[0]] and not last["has_more"]
    back = api.get(f"/emails?limit=2&before={ids[1]}").json()
    assert [e["id"] for e in back["data"]] == [ids[3], ids[2]] and back["has_more"]


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=x", f"after={uuid.uuid4()}"])
def test_list_refuses_bad_pagination(api, query):
    assert_error(api.get(f"/emails?{query}"), 422, "validation_error")


def test_reschedule_a_scheduled_email(api):
    email_id = _send(api, scheduled_at="in 1 hour")
    response = api.patch(f"/emails/{email_id}", {"scheduled_at": "in 2 days"})
    assert response.status_code == 200, response.content
    assert response.json() == {"object": "email", "id": email_id}
    message = Message.objects.get(uuid=email_id)
    assert message.status == MessageStatus.SCHEDULED
    assert message.scheduled_at > timezone.now() + timedelta(days=1, hours=23)
    assert message.events.filter(detail__startswith="rescheduled for").exists()


def test_reschedule_to_now_queues_it(api):
    email_id = _send(api, scheduled_at="in 1 hour")
    assert api.patch(f"/emails/{email_id}", {"scheduled_at": "now"}).status_code == 200
    assert Message.objects.get(uuid=email_id).status == MessageStatus.QUEUED


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"scheduled_at": "2020-01-01T00:00:00Z"}, "in the past"),
        ({"scheduled_at": "next blue moon"}, "not a date"),
        ({}, "Missing `scheduled_at`"),
        ({"scheduled_at": "in 1 hour", "subject": "x"}, "Unknown field `subject`"),
        ({"scheduled_at": "in 1 hour", "id": str(uuid.UUID(int=1))}, "does not match"),
    ],
)
def test_reschedule_refuses_bad_input(api, body, fragment):
    email_id = _send(api, scheduled_at="in 1 hour")
    before = Message.objects.get(uuid=email_id).scheduled_at
    assert api.patch(f"/emails/{email_id}", body).status_code == 422
    assert fragment in api.patch(f"/emails/{email_id}", body).json()["message"]
    assert Message.objects.get(uuid=email_id).scheduled_at == before


def test_reschedule_refuses_an_email_that_is_not_scheduled(api):
    email_id = _send(api)
    response = api.patch(f"/emails/{email_id}", {"scheduled_at": "in 1 hour"})
    assert_error(response, 422, "validation_error", "only a scheduled email", "`queued`")


def test_cancel_a_scheduled_or_queued_email(api):
    for overrides in ({"scheduled_at": "in 1 hour"}, {}):
        email_id = _send(api, **overrides)
        response = api.post(f"/emails/{email_id}/cancel")
        assert response.status_code == 200, response.content
        assert api.get(f"/emails/{email_id}").json()["last_event"] == "canceled"


def test_cancel_refuses_a_message_being_sent(api):
    email_id = _send(api)
    Message.objects.filter(uuid=email_id).update(status=MessageStatus.SENDING)
    response = api.post(f"/emails/{email_id}/cancel")
    assert_error(response, 422, "validation_error", "cannot be canceled", "sending it")


def test_cancel_refuses_a_member_of_a_frozen_batch(api):
    ids = [_send(api, to=f"p{i}@example.org") for i in range(2)]
    members = list(Message.objects.filter(uuid__in=ids).order_by("pk"))
    # A frozen batch whose call ended unclear: it waits to go again, members queued in it.
    batch = SendBatch.objects.create(
        idempotency_key="batch-1",
        priority="transactional",
        status="queued",
        member_ids=[m.pk for m in members],
        size=2,
    )
    Message.objects.filter(pk__in=[m.pk for m in members]).update(batch=batch)
    response = api.post(f"/emails/{ids[0]}/cancel")
    assert_error(response, 422, "validation_error", "part of a batch")
    assert Message.objects.get(uuid=ids[0]).status == MessageStatus.QUEUED


def test_cancel_refuses_a_sent_email(api):
    email_id = _send(api)
    Message.objects.filter(uuid=email_id).update(status=MessageStatus.SENT)
    assert_error(api.post(f"/emails/{email_id}/cancel"), 422, "validation_error", "`sent`")
