"""Entry-point rules: bad input is refused with a clear message and nothing is stored."""

from datetime import timedelta

import django_rq
import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from queueing.models import Message, MessageAttachment, MessageEvent, MessageStatus
from queueing.services import AttachmentInput, message_cancel, message_create

pytestmark = pytest.mark.django_db(transaction=True)


def create(**overrides):
    fields = {"to": ["ada@example.com"], "subject": "Hello", "text": "Hi Ada"}
    fields.update(overrides)
    return message_create(**fields)


def assert_refused(field: str, fragment: str, **overrides) -> None:
    with pytest.raises(ValidationError) as info:
        create(**overrides)
    errors = info.value.message_dict
    assert field in errors, errors
    assert fragment in " ".join(errors[field])
    assert Message.objects.count() == 0
    assert MessageEvent.objects.count() == 0
    assert MessageAttachment.objects.count() == 0
    assert django_rq.get_queue("transactional").count == 0


def test_valid_message_is_stored_queued_and_enqueued_once():
    message = create(to=["Ada Lovelace <Ada@Example.COM>"], cc="bob@example.com")
    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED
    assert message.to == ["Ada Lovelace <Ada@example.com>"]
    assert message.cc == ["bob@example.com"]
    assert message.idempotency_key == f"mailhub-message-{message.uuid}"
    assert message.queued_at is not None
    assert list(message.events.values_list("kind", flat=True)) == ["queued"]
    queue = django_rq.get_queue("transactional")
    (job,) = queue.jobs
    assert job.func_name == "queueing.jobs.drain_queue"
    assert job.args == ("transactional",)  # jobs carry a queue name, never message content


def test_a_burst_of_accepts_enqueues_one_job_not_one_per_message():
    for i in range(30):
        create(to=[f"user{i}@example.com"])
    assert django_rq.get_queue("transactional").count == 1


def test_bulk_priority_goes_to_the_bulk_queue():
    create(priority="bulk")
    assert django_rq.get_queue("bulk").count == 1
    assert django_rq.get_queue("transactional").count == 0


def test_scheduled_message_waits_without_a_job():
    at = timezone.now() + timedelta(hours=1)
    message = create(scheduled_at=at)
    assert message.status == MessageStatus.SCHEDULED
    assert message.scheduled_at == at
    assert django_rq.get_queue("transactional").count == 0


@pytest.mark.parametrize(
    ("field", "fragment", "overrides"),
    [
        ("to", "not a valid address", {"to": ["not-an-address"]}),
        ("to", "At least one recipient", {"to": []}),
        ("to", "at most 50", {"to": [f"u{i}@example.com" for i in range(51)]}),
        ("to", "line break", {"to": ["a@example.com\r\nBcc: b@example.com"]}),
        ("cc", "not a valid address", {"cc": ["bad@"]}),
        ("subject", "empty", {"subject": "   "}),
        ("subject", "line break", {"subject": "Hi\r\nBcc: x@example.com"}),
        ("subject", "limit is 998", {"subject": "x" * 999}),
        ("html", "no body", {"text": "", "html": ""}),
        ("headers", "line break", {"headers": {"X-Test": "a\nb"}}),
        ("headers", "not a valid header name", {"headers": {"Bad Name": "x"}}),
        ("tags", "may only contain", {"tags": [{"name": "plan", "value": "gold plan"}]}),
        ("tags", "reserved", {"tags": [{"name": "mailhub_message", "value": "x"}]}),
        ("priority", "Unknown priority", {"priority": "urgent"}),
        ("from_email", "not a valid address", {"from_email": "nobody"}),
    ],
)
def test_bad_input_is_refused_and_nothing_is_stored(field, fragment, overrides):
    assert_refused(field, fragment, **overrides)


def test_schedule_in_the_past_is_refused():
    assert_refused("scheduled_at", "in the past", scheduled_at=timezone.now() - timedelta(hours=1))


def test_naive_schedule_is_refused():
    naive = (timezone.now() + timedelta(hours=1)).replace(tzinfo=None)
    assert_refused("scheduled_at", "time zone", scheduled_at=naive)


def test_sender_outside_allowed_domains_is_refused(settings):
    settings.MAILHUB_ALLOWED_SENDER_DOMAINS = ["mail.example.com"]
    assert_refused("from_email", "not allowed", from_email="Sales <sales@other.org>")
    assert create(from_email="News <news@MAIL.example.com>").from_email == (
        "News <news@mail.example.com>"
    )


def test_oversized_attachments_are_refused(settings):
    settings.MAILHUB_MAX_ATTACHMENTS_BYTES = 1000
    big = AttachmentInput("big.bin", b"x" * 1001, "application/octet-stream")
    assert_refused("attachments", "limit is 1,000 bytes", attachments=[big])


def test_attachments_are_stored_with_the_message():
    files = [
        AttachmentInput("a.txt", b"alpha", "text/plain"),
        AttachmentInput("b.bin", b"\x00\x01"),
    ]
    message = create(attachments=files)
    stored = list(message.attachments.values_list("filename", "size", "position"))
    assert stored == [("a.txt", 5, 0), ("b.bin", 2, 1)]
    assert bytes(message.attachments.get(filename="b.bin").content) == b"\x00\x01"


def test_cancel_only_before_sending():
    message = create()
    assert message_cancel(message=message, reason="changed my mind")
    message.refresh_from_db()
    assert message.status == MessageStatus.CANCELLED
    assert not message_cancel(message=message)
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.SENDING)
    assert not message_cancel(message=message)


def test_redis_down_at_accept_still_stores_the_message(settings, caplog):
    settings.RQ_QUEUES = {
        name: {**conf, "URL": "redis://127.0.0.1:1/0"} for name, conf in settings.RQ_QUEUES.items()
    }
    message = create()
    assert Message.objects.filter(pk=message.pk, status=MessageStatus.QUEUED).exists()
    assert "Redis unreachable; transactional messages stay queued for the reconciler" in caplog.text


def test_many_messages_are_stored_together_with_one_drain():
    from queueing.services import messages_create_many

    messages = messages_create_many(
        [{"to": [f"user{i}@example.com"], "subject": f"Hi {i}", "text": "x"} for i in range(250)]
    )
    assert len({m.pk for m in messages}) == 250
    assert Message.objects.filter(status=MessageStatus.QUEUED).count() == 250
    assert MessageEvent.objects.filter(kind="queued").count() == 250
    assert django_rq.get_queue("transactional").count == 1


def test_one_bad_item_refuses_the_whole_group_and_names_it():
    from queueing.services import messages_create_many

    items = [{"to": ["a@example.com"], "subject": "ok", "text": "x"} for _ in range(3)]
    items[2] = {"to": ["broken"], "subject": "ok", "text": "x"}
    with pytest.raises(ValidationError) as info:
        messages_create_many(items)
    assert "emails[2].to" in info.value.message_dict
    assert Message.objects.count() == 0
    assert django_rq.get_queue("transactional").count == 0
