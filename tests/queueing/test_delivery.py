"""One message's path through real Redis, a real RQ worker and the sandbox over HTTP."""

import hashlib
import json
import time

import django_rq
import pytest
from django.utils import timezone

from queueing import sending_gate
from queueing.enqueue import request_drain
from queueing.models import EventKind, FailureCode, Message, MessageStatus, SendBatch
from queueing.resend.payload import build_payload
from queueing.services import AttachmentInput, message_create
from recipients.models import Suppression
from tests.conftest import run_worker_burst

pytestmark = pytest.mark.django_db(transaction=True)


def send(**overrides) -> Message:
    fields = {"to": ["ada@example.com"], "subject": "Welcome", "html": "<p>Hi Ada</p>"}
    fields.update(overrides)
    return message_create(**fields)


def kinds(message: Message) -> list[str]:
    return list(message.events.values_list("kind", flat=True))


def test_message_goes_queued_sending_sent_and_sandbox_holds_it_once(sandbox, deliver_all):
    message = send(cc=["bob@example.com"], headers={"X-Entity-Ref": "42"})
    deliver_all()
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert message.attempts == 1
    assert message.sent_at is not None
    assert kinds(message) == ["queued", "attempt", "sent"]

    emails = sandbox.emails()
    assert len(emails) == 1
    stored = emails[0]
    assert stored["id"] == message.provider_id
    assert stored["idempotency_key"] == message.idempotency_key
    request = stored["request"]
    assert request["to"] == ["ada@example.com"]
    assert request["cc"] == ["bob@example.com"]
    assert request["headers"] == {"X-Entity-Ref": "42"}
    assert {"name": "mailhub_message", "value": str(message.uuid)} in request["tags"]
    # Empty fields are left out, never sent as null.
    assert "bcc" not in request and "text" not in request
    assert None not in request.values()


def test_request_body_is_identical_on_every_attempt(sandbox, deliver_all):
    message = send(headers={"X-B": "2", "X-A": "1"}, tags=[{"name": "kind", "value": "welcome"}])
    sandbox.configure(fail_rate=1.0)
    run_worker_burst()  # attempt 1: a 500, nothing kept
    sandbox.configure(fail_rate=0.0, drop_rate=1.0)
    deliver_all_once = run_worker_burst
    _make_due(message)
    deliver_all_once()  # attempt 2: accepted, answer lost; the key now holds this body
    sandbox.configure(drop_rate=0.0)
    deliver_all()  # attempt 3: a different body would get 409 invalid_idempotent_request
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert message.attempts == 3, list(message.events.values_list("kind", "detail"))
    (email,) = sandbox.emails()
    # The bytes the sandbox hashed are the bytes mailhub builds from the stored row.
    rebuilt = json.dumps(build_payload(message)).encode()
    assert email["raw_body_sha256"] == hashlib.sha256(rebuilt).hexdigest()


def _make_due(message: Message) -> None:
    Message.objects.filter(pk=message.pk).update(next_attempt_at=None)
    request_drain(message.priority)


def test_500_then_success_gives_one_delivery_and_two_attempts(sandbox, deliver_all):
    sandbox.configure(fail_rate=1.0)
    message = send()
    run_worker_burst()
    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED
    assert message.attempts == 1
    assert "500" in message.last_error
    assert message.next_attempt_at > timezone.now() - timezone.timedelta(seconds=5)

    sandbox.configure(fail_rate=0.0)
    deliver_all()
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert message.attempts == 2
    assert kinds(message) == ["queued", "attempt", "retry", "attempt", "sent"]
    assert len(sandbox.emails()) == 1


def test_422_fails_at_once_without_retry(sandbox, deliver_all):
    message = send()
    # The sandbox validates like Resend: an address our rules let through but it refuses.
    Message.objects.filter(pk=message.pk).update(to=["not an address"])
    deliver_all()
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert message.failure_code == FailureCode.REJECTED
    assert message.attempts == 1
    assert "422" in message.last_error
    assert sandbox.emails() == []


def test_429_waits_for_retry_after_without_using_attempts(sandbox, deliver_all):
    sandbox.configure(rate_limit_fault_rate=1.0)
    message = send()
    before = timezone.now()
    run_worker_burst()
    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED
    assert message.attempts == 0
    # The sandbox's retry-after is at least one second, and the next attempt waits for it.
    assert message.next_attempt_at >= before + timezone.timedelta(seconds=1)
    assert EventKind.RATE_LIMITED in kinds(message)

    sandbox.configure(rate_limit_fault_rate=0.0)
    deliver_all()
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert message.attempts == 1
    assert len(sandbox.emails()) == 1


def test_dropped_answer_then_retry_gives_one_delivery(sandbox, deliver_all):
    sandbox.configure(drop_rate=1.0)
    message = send()
    run_worker_burst()
    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED  # the worker saw a connection error
    assert len(sandbox.emails()) == 1  # but Resend (the sandbox) accepted it

    sandbox.configure(drop_rate=0.0)
    deliver_all()
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    emails = sandbox.emails()
    assert len(emails) == 1
    assert message.provider_id == emails[0]["id"]


def test_attempts_used_up_fail_the_message(sandbox, deliver_all):
    sandbox.configure(fail_rate=1.0)
    message = send(max_attempts=2)
    deliver_all()
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert message.failure_code == FailureCode.ATTEMPTS_EXHAUSTED
    assert message.attempts == 2


def test_retry_window_of_24_hours_expires_the_message(sandbox, deliver_all):
    message = send()
    Message.objects.filter(pk=message.pk).update(
        first_attempt_at=timezone.now() - timezone.timedelta(hours=23, minutes=1)
    )
    deliver_all()
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert message.failure_code == FailureCode.EXPIRED
    assert sandbox.emails() == []


def test_idempotency_conflict_is_held_for_a_person(sandbox, deliver_all):
    message = send()
    deliver_all()
    # Another body under the same key: what a changed render would do.
    Message.objects.filter(pk=message.pk).update(
        status=MessageStatus.QUEUED, subject="Changed", attempts=0
    )
    request_drain(message.priority)
    deliver_all()
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert message.failure_code == FailureCode.IDEMPOTENCY_CONFLICT
    assert "will not send this message again" in message.last_error
    assert len(sandbox.emails()) == 1


def test_bad_api_key_pauses_sending_and_fails_nothing(sandbox, deliver_all):
    sandbox.configure(api_key="re_the_right_key")
    first, second = send(), send(to=["bob@example.com"])
    run_worker_burst()
    for message in (first, second):
        message.refresh_from_db()
        assert message.status == MessageStatus.QUEUED
        assert message.attempts == 0
    pause = sending_gate.current_pause()
    assert pause is not None and "RESEND_API_KEY" in pause.reason
    # One request was made (the two went as one batch); nothing was failed or retried.
    assert len([r for r in sandbox.requests() if r["path"].startswith("/emails")]) == 1

    # The key is fixed and the pause lifted: the same batch goes, and both are sent.
    sandbox.configure(api_key=None)
    sending_gate.resume_sending()
    SendBatch.objects.update(next_attempt_at=None)
    deliver_all()
    assert set(Message.objects.values_list("status", flat=True)) == {MessageStatus.SENT}
    assert len(sandbox.emails()) == 2


def test_suppressed_address_is_not_sent(sandbox, deliver_all):
    Suppression.objects.create(email="gone@example.com", reason=Suppression.Reason.HARD_BOUNCE)
    message = send(to=["Gone <Gone@example.com>"])
    deliver_all()
    message.refresh_from_db()
    assert message.status == MessageStatus.SUPPRESSED
    assert message.attempts == 0
    assert "Hard bounce" in message.last_error
    assert sandbox.emails() == []


def test_attachments_reach_the_sandbox(sandbox, deliver_all):
    send(attachments=[AttachmentInput("hello.txt", b"hello", "text/plain")])
    deliver_all()
    (email,) = sandbox.emails()
    assert email["request"]["attachments"] == [
        {"filename": "hello.txt", "content": "aGVsbG8=", "content_type": "text/plain"}
    ]


def test_a_hanging_provider_times_out_and_the_retry_sends_once(sandbox, deliver_all, settings):
    settings.RESEND_READ_TIMEOUT = 1.0
    sandbox.configure(slow_rate=1.0, slow_seconds=2.5)
    message = send()
    started = time.monotonic()
    run_worker_burst()
    assert time.monotonic() - started < 2.4  # the worker gave up at its timeout, not stuck
    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED and "timed out" in message.last_error.lower()

    sandbox.configure(slow_rate=0.0)
    time.sleep(2.0)  # the hung request completes at the sandbox meanwhile
    deliver_all()
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    (email,) = sandbox.emails()
    assert email["id"] == message.provider_id


def test_redis_down_at_accept_then_back_sends_the_message(sandbox, deliver_all, settings):
    good_queues = settings.RQ_QUEUES
    good_redis = settings.REDIS_URL
    settings.RQ_QUEUES = {
        name: {**conf, "URL": "redis://127.0.0.1:1/0"} for name, conf in good_queues.items()
    }
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    message = send()  # stored although no job could be enqueued
    settings.RQ_QUEUES, settings.REDIS_URL = good_queues, good_redis
    assert django_rq.get_queue("transactional").count == 0
    deliver_all()  # the reconciler notices the queued row and asks for a drain
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert len(sandbox.emails()) == 1


def test_daily_quota_pauses_sending_without_spending_attempts(sandbox, client, django_user_model):
    sandbox.configure(daily_quota=1)
    first = send()
    run_worker_burst()
    second = send(to=["bob@example.com"])
    run_worker_burst()
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == MessageStatus.SENT
    assert second.status == MessageStatus.QUEUED and second.attempts == 0
    pause = sending_gate.current_pause()
    assert pause is not None and "quota" in pause.reason
    assert pause.seconds_left > 60  # until the quota resets (next UTC midnight)
    assert second.next_attempt_at > timezone.now() + timezone.timedelta(minutes=1)

    # Staff see why nothing leaves.
    client.force_login(django_user_model.objects.create_superuser("staff", "s@example.com", "pw"))
    page = client.get("/admin/queueing/message/").content.decode()
    assert "Sending is paused" in page and "quota" in page


def test_status_changes_recorded_together_are_announced_once():
    # One announcement per prepared group: counters then lock campaigns in one order.
    from queueing.recording import announce as recording
    from queueing.signals import campaign_messages_changed

    received: list[dict] = []

    def receiver(sender, changes, **kwargs):
        received.append(dict(changes))

    class Row:
        def __init__(self, campaign_id):
            self.campaign_id, self.is_test = campaign_id, False

    campaign_messages_changed.connect(receiver, dispatch_uid="test-combined")
    try:
        with recording.notifications_combined():
            recording.notify_campaigns([Row(2), Row(1)], MessageStatus.FAILED)
            recording.notify_campaigns([Row(1)], MessageStatus.SUPPRESSED)
            assert received == []
        recording.notify_campaigns([Row(3)], MessageStatus.SENT)
    finally:
        campaign_messages_changed.disconnect(dispatch_uid="test-combined")
    assert received == [
        {
            (2, MessageStatus.FAILED): 1,
            (1, MessageStatus.FAILED): 1,
            (1, MessageStatus.SUPPRESSED): 1,
        },
        {(3, MessageStatus.SENT): 1},
    ]
