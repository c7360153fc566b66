"""The operator's sending pause lives in the database: it survives a Redis flush, stops real
drains, is seen by other processes within the cache time, and leaves the provider's
automatic pauses working."""

import time

import pytest
from django.core.management import call_command
from django.utils import timezone

from audit.models import AuditEntry
from queueing import sending_gate
from queueing.delivery import DrainReport, Request, prepare_next, send_request
from queueing.models import EventKind, Message, MessageStatus, OperatorPause
from queueing.reconciler import reconcile
from queueing.services import message_create
from tests.conftest import run_worker_burst, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def queue(n: int) -> list[Message]:
    return [message_create(to=[f"p{i}@example.com"], subject="Hi", text="Hi") for i in range(n)]


def test_the_pause_survives_a_redis_flush_and_stops_a_real_drain(sandbox, clean_redis):
    call_command("pause_sending", "--reason", "provider maintenance")
    clean_redis.flushdb()
    messages = queue(3)
    reconcile()  # asks for drains, as a worker's reconciler would
    run_worker_burst()  # a real RQ worker: its drain finds sending paused and stops
    assert sandbox.emails() == []
    assert set(Message.objects.values_list("status", flat=True)) == {MessageStatus.QUEUED}
    assert sending_gate.current_pause().reason == "provider maintenance"

    call_command("resume_sending")
    reconcile()
    run_worker_burst()
    assert len(sandbox.emails()) == 3
    for message in messages:
        message.refresh_from_db()
        assert message.status == MessageStatus.SENT
        assert message.attempts == 1  # the pause spent no attempt


def test_other_processes_see_a_pause_within_the_cache_time(settings):
    """A pause written elsewhere (another web node) is read again once the cache expires;
    until then this process uses its last read, one query per interval."""
    settings.MAILHUB_PAUSE_CACHE_SECONDS = 0.3
    sending_gate._forget_cached()
    assert sending_gate.current_pause() is None  # read and cached
    OperatorPause.objects.create(reason="from another node")  # not through this process
    assert sending_gate.current_pause() is None  # still the cached read
    assert wait_until(lambda: sending_gate.current_pause() is not None, 3, interval=0.05)
    assert sending_gate.current_pause().source == sending_gate.OPERATOR


def test_a_timed_pause_ends_by_itself():
    sending_gate.operator_pause(reason="short", minutes=0.01)
    assert sending_gate.current_pause() is not None
    assert wait_until(lambda: sending_gate.current_pause() is None, 5, interval=0.1)


def test_the_provider_pause_still_works_and_resume_lifts_both(django_user_model):
    sending_gate.pause_sending("Resend daily quota used up", 600)
    assert [p.source for p in sending_gate.current_pauses()] == ["provider"]
    manager = django_user_model.objects.create_user("ops", is_staff=True)
    sending_gate.operator_pause(reason="and a DNS move", actor=manager)
    assert [p.source for p in sending_gate.current_pauses()] == ["operator", "provider"]
    assert sending_gate.resume_sending(actor=manager)
    assert sending_gate.current_pauses() == []
    assert list(AuditEntry.objects.order_by("id").values_list("action", flat=True)) == [
        "sending.pause",
        "sending.resume",
    ]


def test_work_prepared_when_the_pause_came_is_released_without_an_attempt(sandbox):
    """The drain checks the gate again right before each call (queueing.delivery)."""
    (message,) = queue(1)
    request = prepare_next(("transactional",), "w1", DrainReport())
    assert isinstance(request, Request) and (request.alone or request.batch)
    sending_gate.operator_pause(reason="stop now", minutes=60)
    result = send_request(request)
    assert not result.requested
    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED and message.attempts == 0
    # Due again at once, not in an hour: an early resume must not leave it waiting.
    assert message.next_attempt_at is None or message.next_attempt_at <= timezone.now()
    assert message.events.filter(kind=EventKind.PAUSED, detail="stop now").exists()
    assert sandbox.emails() == []


@pytest.mark.slow
def test_a_pause_stops_a_running_worker_process(sandbox, start_worker):
    start_worker()
    (first,) = queue(1)
    assert wait_until(lambda: Message.objects.get(pk=first.pk).status == MessageStatus.SENT, 30)
    call_command("pause_sending", "--reason", "stop the fleet")
    time.sleep(1.5)  # the worker's cached read of the gate expires (1 s)
    held = queue(3)
    time.sleep(3)  # its drain (and the reconciler's) start and stop on the pause
    assert Message.objects.filter(pk__in=[m.pk for m in held], status="queued").count() == 3
    call_command("resume_sending")
    assert wait_until(
        lambda: Message.objects.filter(pk__in=[m.pk for m in held], status="sent").count() == 3,
        30,
    )
    assert len(sandbox.emails()) == 4
