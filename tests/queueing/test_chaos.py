"""Chaos: workers SIGKILLed mid-send, Redis flushed, and a provider that fails, throttles and
drops answers. Every message still ends sent (or failed with a reason), exactly once."""

import random
import time
from collections import Counter

import pytest

from queueing.models import PENDING_STATUSES, Message, MessageStatus
from queueing.services import messages_create_many
from tests.conftest import kill_worker, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

BULK, TRANSACTIONAL = 5000, 1000


def accept(count: int, priority: str, prefix: str) -> None:
    for start in range(0, count, 100):
        messages_create_many(
            [
                {
                    "to": [f"{prefix}{i}@example.com"],
                    "subject": f"#{i}",
                    "text": "x",
                    "priority": priority,
                }
                for i in range(start, min(start + 100, count))
            ]
        )


def test_chaos_loses_nothing_and_duplicates_nothing(sandbox, start_worker, clean_redis):
    sandbox.configure(fail_rate=0.10, rate_limit_fault_rate=0.05, drop_rate=0.02, seed=7)
    accept(BULK, "bulk", "fan")
    accept(TRANSACTIONAL, "transactional", "user")
    # 4 requests/s (up to 400 emails/s) keeps the send going for the whole chaos phase.
    workers = [start_worker(MAILHUB_TEST_RATE_LIMIT="4") for _ in range(2)]
    rng = random.Random(7)
    pending_at_kill = []

    for round_ in range(4):
        time.sleep(2 + rng.random() * 2)
        pending_at_kill.append(Message.objects.filter(status__in=PENDING_STATUSES).count())
        victim = workers.pop(rng.randrange(len(workers)))
        kill_worker(victim)
        if round_ == 1:
            clean_redis.flushdb()  # every job, flag, lock and pause is gone
        workers.append(start_worker(MAILHUB_TEST_RATE_LIMIT="4"))
    assert all(pending_at_kill), f"a kill found nothing in flight: {pending_at_kill}"

    finished = wait_until(
        lambda: not Message.objects.filter(status__in=PENDING_STATUSES).exists(), 240, 1.0
    )
    stuck = Counter(Message.objects.values_list("status", flat=True))
    assert finished, f"messages still pending: {stuck}"

    failed = list(
        Message.objects.filter(status=MessageStatus.FAILED).values(
            "id", "failure_code", "last_error"
        )
    )
    assert all(f["failure_code"] and f["last_error"] for f in failed)
    sent = {
        str(u)
        for u in Message.objects.filter(status=MessageStatus.SENT).values_list("uuid", flat=True)
    }
    assert len(sent) + len(failed) == BULK + TRANSACTIONAL

    per_message = Counter(
        next(t["value"] for t in e["request"]["tags"] if t["name"] == "mailhub_message")
        for e in sandbox.emails()
    )
    duplicates = {k: v for k, v in per_message.items() if v > 1}
    assert not duplicates, f"{len(duplicates)} messages reached the provider more than once"
    lost = sent - per_message.keys()
    assert not lost, f"{len(lost)} messages marked sent were never accepted"
    assert not failed, f"with 8 attempts each, no message should fail here: {failed[:3]}"
    faults = sandbox.stats()["faults"]
    assert faults["error_500"] and faults["rate_limit_429"] and faults["drop"]  # chaos happened
