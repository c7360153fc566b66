"""Transactional mail keeps priority over a running bulk send, at Resend's 2 requests/s."""

import time

import pytest

from queueing.models import Message, MessageStatus
from queueing.services import message_create, messages_create_many
from tests.conftest import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_password_reset_leaves_within_seconds_during_a_bulk_send(sandbox, start_worker):
    sandbox.configure(rate_limit=2)
    for start in range(0, 3000, 100):
        messages_create_many(
            [
                {"to": [f"fan{i}@example.com"], "subject": "News", "text": "x", "priority": "bulk"}
                for i in range(start, start + 100)
            ]
        )
    start_worker(MAILHUB_TEST_RATE_LIMIT="2")
    assert wait_until(lambda: len(sandbox.emails()) >= 200, 30)  # the bulk send is running

    accepted = time.monotonic()
    reset = message_create(to=["ada@example.com"], subject="Reset your password", text="123456")
    assert wait_until(
        lambda: Message.objects.filter(pk=reset.pk, status=MessageStatus.SENT).exists(), 10
    )
    waited = time.monotonic() - accepted
    assert waited < 5, f"the password reset waited {waited:.1f} s behind the bulk send"
    # The bulk send was still far from done: it did not just finish first.
    assert Message.objects.filter(priority="bulk", status=MessageStatus.QUEUED).count() > 1000
    assert sandbox.stats()["rate_limited"] == 0  # and the shared limiter kept us under 2/s
