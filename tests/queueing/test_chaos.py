"""Chaos: a 5,000-recipient campaign and 1,000 transactional messages, while workers are
SIGKILLed mid-send, Redis is flushed, and the provider fails, throttles and drops answers.
Every message still ends sent (or failed with a reason), exactly once, and the campaign's
counters match its rows."""

import random
import time
from collections import Counter

import pytest

from campaigns.services import campaign_create, campaign_send, template_create
from queueing.models import PENDING_STATUSES, Message, MessageStatus
from queueing.services import messages_create_many
from recipients.models import List, Recipient, Subscription
from recipients.tokens import new_unsubscribe_tokens
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


def audience(size: int) -> List:
    news = List.objects.create(slug="news", name="News")
    tokens = new_unsubscribe_tokens(size)
    people = Recipient.objects.bulk_create(
        Recipient(email=f"fan{i}@example.com", first_name=f"Fan{i}", unsubscribe_token=tokens[i])
        for i in range(size)
    )
    Subscription.objects.bulk_create(
        Subscription(recipient=p, list=news, status="subscribed", source="admin") for p in people
    )
    return news


def test_chaos_loses_nothing_and_duplicates_nothing(sandbox, start_worker, clean_redis):
    sandbox.configure(fail_rate=0.10, rate_limit_fault_rate=0.05, drop_rate=0.02, seed=7)
    template = template_create(
        name="News",
        slug="news",
        subject="News for {{ recipient.first_name }}",
        body="<p>Hi {{ recipient.first_name }}</p><p><a href='{{ unsubscribe_url }}'>Leave</a></p>",
        body_format="html",
    )
    campaign = campaign_create(name="Chaos", template=template, lists=[audience(BULK)])
    campaign_send(campaign=campaign)  # the fan-out itself runs as a job, under the same chaos
    accept(TRANSACTIONAL, "transactional", "user")
    # 1 request/s (up to 100 emails/s: each request is full, transactional mail first and
    # bulk filling it) keeps the send going for the whole chaos phase: at 2/s a send made
    # faster finished before the last kill round.
    workers = [start_worker(MAILHUB_TEST_RATE_LIMIT="1") for _ in range(2)]
    rng = random.Random(7)
    pending_at_kill = []

    for round_ in range(4):
        time.sleep(2 + rng.random() * 2)
        pending_at_kill.append(Message.objects.filter(status__in=PENDING_STATUSES).count())
        victim = workers.pop(rng.randrange(len(workers)))
        kill_worker(victim)
        if round_ == 1:
            clean_redis.flushdb()  # every job, flag, lock and pause is gone
        workers.append(start_worker(MAILHUB_TEST_RATE_LIMIT="1"))
    assert all(pending_at_kill), f"a kill found nothing in flight: {pending_at_kill}"

    def done() -> bool:
        campaign.refresh_from_db()
        pending = Message.objects.filter(status__in=PENDING_STATUSES).exists()
        return campaign.status == "sent" and not pending

    finished = wait_until(done, 240, 1.0)
    stuck = Counter(Message.objects.values_list("status", flat=True))
    assert finished, f"still pending: {stuck}, campaign {campaign.status}"

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
    campaign.refresh_from_db()
    rows = Counter(
        Message.objects.filter(campaign=campaign, is_test=False).values_list("status", flat=True)
    )
    assert rows[MessageStatus.SENT] == BULK
    assert (campaign.queued, campaign.sent, campaign.failed, campaign.suppressed) == (
        BULK,
        rows[MessageStatus.SENT],
        rows[MessageStatus.FAILED],
        rows[MessageStatus.SUPPRESSED],
    )
    assert campaign.status == "sent"
    faults = sandbox.stats()["faults"]
    assert faults["error_500"] and faults["rate_limit_429"] and faults["drop"]  # chaos happened
