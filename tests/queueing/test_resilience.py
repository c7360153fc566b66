"""Nothing is lost and nothing is sent twice when Redis is flushed or a worker is SIGKILLed.

These tests start real `manage.py rqworker` processes against the test database, test Redis
and the sandbox, and recover by the workers alone (their built-in reconciler).
"""

import contextlib
import os
import signal

import django_rq
import pytest

from queueing.models import Message, MessageStatus
from queueing.services import message_create
from tests.conftest import child_pids, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

RECOVERY_TIMEOUT = 120  # the promise: every affected message is sent within two minutes


def statuses() -> set[str]:
    return set(Message.objects.values_list("status", flat=True))


def test_flushed_redis_loses_nothing(sandbox, start_worker, clean_redis):
    [message_create(to=[f"user{i}@example.com"], subject=f"Hello {i}", text="Hi") for i in range(5)]
    assert django_rq.get_queue("transactional").count == 1  # one drain job for all five
    clean_redis.flushdb()  # every job is gone; only the rows know about the messages

    start_worker()
    assert wait_until(lambda: statuses() == {MessageStatus.SENT}, RECOVERY_TIMEOUT), statuses()
    emails = sandbox.emails()
    assert sorted(e["request"]["to"][0] for e in emails) == [
        f"user{i}@example.com" for i in range(5)
    ]


def test_sigkilled_worker_mid_send_loses_nothing_and_sends_once(sandbox, start_worker):
    # Every answer takes 4 s, so the worker is surely in the middle of the call when killed.
    sandbox.configure(slow_rate=1.0, slow_seconds=4.0)
    worker = start_worker()
    message = message_create(to=["ada@example.com"], subject="Mid-send", text="Hi")

    assert wait_until(
        lambda: Message.objects.filter(pk=message.pk, status=MessageStatus.SENDING).exists(), 30
    )
    assert wait_until(lambda: child_pids(worker.pid) != [], 10)
    horses = child_pids(worker.pid)
    # RQ runs each job in a child with its own process group: kill the worker and the job.
    os.killpg(worker.pid, signal.SIGKILL)
    for child in horses:  # the job process leads its own group; the scheduler died above
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child, signal.SIGKILL)
    worker.wait(timeout=10)

    sandbox.configure(slow_rate=0.0)
    start_worker()
    assert wait_until(
        lambda: Message.objects.filter(pk=message.pk, status=MessageStatus.SENT).exists(),
        RECOVERY_TIMEOUT,
    )
    message.refresh_from_db()
    assert message.attempts == 2
    assert "lease_expired" in message.events.values_list("kind", flat=True)
    # The killed attempt may or may not have reached the sandbox; either way, one copy.
    assert wait_until(lambda: len(sandbox.emails()) >= 1, 5)
    emails = sandbox.emails()
    assert len(emails) == 1
    assert emails[0]["id"] == message.provider_id
