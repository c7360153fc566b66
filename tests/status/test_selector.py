"""The status selector against real rows and real Redis: right figures, bounded queries."""

import json
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rq import Worker
from rq.worker import WorkerStatus

from campaigns.models import Campaign
from campaigns.services.statistics import daily_stats_add
from mailhub.status import system_status
from mailhub.status.selectors import capped_count, failures_status
from queueing import ratelimit, sending_gate
from queueing.connection import get_redis
from queueing.live_rates import live_rates_add
from queueing.models import (
    BatchStatus,
    FailureCode,
    Message,
    MessageStatus,
    SendBatch,
    SenderDomainPause,
)
from queueing.services import message_create

pytestmark = pytest.mark.django_db


def queued(n: int, priority: str = "transactional") -> list[Message]:
    return [
        message_create(to=[f"p{i}@example.com"], subject="Hi", text="Hi", priority=priority)
        for i in range(n)
    ]


def fail(message: Message, code: str = FailureCode.REJECTED, error: str = "422 bad") -> None:
    Message.objects.filter(pk=message.pk).update(
        status=MessageStatus.FAILED, failure_code=code, last_error=error
    )


def test_backlog_counts_each_priority_scheduled_and_frozen_batches():
    queued(3)
    queued(2, "bulk")
    message_create(
        to=["later@example.com"],
        subject="Later",
        text="Hi",
        scheduled_at=timezone.now() + timedelta(hours=2),
    )
    SendBatch.objects.create(
        idempotency_key="k1", priority="bulk", status=BatchStatus.QUEUED, size=2
    )
    SendBatch.objects.create(idempotency_key="k2", priority="bulk", status=BatchStatus.DONE, size=2)
    fail(queued(1)[0])  # failed: not in the backlog

    backlog = system_status().backlog
    assert {p: c.count for p, c in backlog.queued.items()} == {"transactional": 3, "bulk": 2}
    assert not any(c.capped for c in backlog.queued.values())
    assert backlog.scheduled.count == 1
    assert backlog.next_scheduled_at > timezone.now() + timedelta(hours=1)
    assert backlog.frozen_batches_waiting.count == 1
    assert 0 <= backlog.oldest_queued_age_seconds < 60


def test_oldest_queued_is_the_first_in_claim_order_and_its_wait():
    old, _new = queued(2)
    long_ago = timezone.now() - timedelta(minutes=30)
    Message.objects.filter(pk=old.pk).update(queued_at=long_ago)
    backlog = system_status().backlog
    assert backlog.oldest_queued_at == long_ago
    assert 29 * 60 < backlog.oldest_queued_age_seconds < 31 * 60


def test_a_count_stops_at_its_cap():
    queued(3)
    rows = Message.objects.filter(status=MessageStatus.QUEUED)
    assert capped_count(rows, cap=2).count == 2 and capped_count(rows, cap=2).capped
    assert str(capped_count(rows, cap=2)) == "2+"
    assert capped_count(rows, cap=3).count == 3 and not capped_count(rows, cap=3).capped


def test_totals_and_throughput_come_from_the_live_rates_and_daily_rows():
    now = timezone.now()
    live_rates_add({"sent": 7, "failed": 1}, at=now)
    live_rates_add({"sent": 5}, at=now - timedelta(minutes=1))
    live_rates_add({"sent": 100}, at=now - timedelta(minutes=61))  # outside the hour
    daily_stats_add(day=timezone.localdate(), counts={"sent": 40, "failed": 3})

    status = system_status(now=now)
    assert status.totals.sent_last_hour == 12
    assert status.totals.failed_last_hour == 1
    assert (status.totals.sent_today, status.totals.failed_today) == (40, 3)
    assert len(status.throughput.sent) == 60 and len(status.throughput.minutes) == 60
    assert status.throughput.sent[-2:] == [5, 7]
    assert status.throughput.failed[-1] == 1
    assert status.throughput.sent_per_minute_now == 5
    assert status.throughput.minutes[-1] == now.replace(second=0, microsecond=0)


def test_workers_from_rq_heartbeats_and_what_each_holds():
    redis = get_redis()
    worker = Worker(["transactional", "bulk"], connection=redis, name="w-alive")
    worker.register_birth()
    worker.set_state(WorkerStatus.IDLE)
    worker.heartbeat()
    lease = timezone.now() + timedelta(seconds=30)
    alone, *members = queued(4)
    Message.objects.filter(pk=alone.pk).update(
        status=MessageStatus.SENDING, claimed_by="w-alive", lease_expires_at=lease
    )
    SendBatch.objects.create(
        idempotency_key="b",
        priority="transactional",
        status=BatchStatus.SENDING,
        size=3,
        claimed_by="w-alive",
        lease_expires_at=lease + timedelta(seconds=5),
    )
    # A claim by a worker RQ no longer knows (killed): shown as gone.
    Message.objects.filter(pk=members[0].pk).update(
        status=MessageStatus.SENDING, claimed_by="w-killed", lease_expires_at=lease
    )
    try:
        workers = {w.name: w for w in system_status().workers}
    finally:
        worker.register_death()
    alive, gone = workers["w-alive"], workers["w-killed"]
    assert alive.alive and alive.queues == ["transactional", "bulk"]
    assert alive.state == "idle"  # RQ's word, not its enum's name
    assert (alive.holding.messages, alive.holding.batches, alive.holding.batch_messages) == (
        1,
        1,
        3,
    )
    assert alive.holding.lease_expires_at == lease
    assert not gone.alive and gone.state == "gone" and gone.holding.messages == 1


def test_limiter_pauses_and_domain_pauses(settings, django_user_model):
    settings.RESEND_RATE_LIMIT = 5
    ratelimit.pause(30, "Resend answered 429: too many requests")
    sending_gate.pause_sending("Resend quota used up", 120)
    manager = django_user_model.objects.create_user("boss", is_staff=True)
    sending_gate.operator_pause(reason="DNS move", actor=manager)
    SenderDomainPause.objects.create(domain="shop.example", reason="domain not verified")

    status = system_status()
    assert status.limiter.rate == 5
    assert status.limiter.paused_until > timezone.now() + timedelta(seconds=25)
    assert status.limiter.next_free_slot_at >= status.limiter.paused_until - timedelta(seconds=1)
    assert "429" in status.limiter.pause_reason
    assert [(p.source, p.reason, p.by) for p in status.pauses] == [
        ("operator", "DNS move", "boss"),
        ("provider", "Resend quota used up", ""),
    ]
    assert status.pauses[0].until is None
    assert status.sending_paused
    assert [d.domain for d in status.domain_pauses] == ["shop.example"]


def test_campaigns_in_flight_with_progress(settings):
    started = timezone.now() - timedelta(seconds=100)
    sending = Campaign.objects.create(
        name="Autumn", status="sending", audience_size=1000, queued=1000, sent=200, failed=50,
        started_at=started,
    )  # fmt: skip
    Campaign.objects.create(name="Paused", status="paused", queued=10, started_at=started)
    Campaign.objects.create(name="Done", status="sent", queued=10, sent=10, started_at=started)
    Campaign.objects.create(name="Draft")

    found = {c.name: c for c in system_status().campaigns}
    assert set(found) == {"Autumn", "Paused"}
    autumn = found["Autumn"]
    assert (autumn.id, autumn.total, autumn.sent, autumn.done) == (sending.pk, 1000, 200, 250)
    assert autumn.percent == 25.0
    assert 2.0 < autumn.rate_per_second < 3.0
    assert 250 < autumn.seconds_left < 350


def test_latest_failures_newest_first_with_why_not_retryable():
    first, second, _third = queued(3)
    fail(first)
    fail(second, FailureCode.IDEMPOTENCY_CONFLICT, "409 invalid_idempotent_request")
    failures = system_status().failures
    assert [f.id for f in failures] == [second.pk, first.pk]
    assert failures[0].retry_refusal and not failures[1].retry_refusal
    assert failures[1].to == ["p0@example.com"] and failures[1].error == "422 bad"


def test_json_form_is_plain_json():
    fail(queued(2)[0])
    data = system_status().to_json()
    assert json.loads(json.dumps(data)) == data
    assert set(data) >= {
        "generated_at", "backlog", "totals", "throughput", "workers", "limiter", "pauses",
        "domain_pauses", "campaigns", "failures", "sending_paused",
    }  # fmt: skip
    assert data["backlog"]["queued"]["transactional"] == {"count": 1, "capped": False}
    assert re.match(r"\d{4}-\d\d-\d\dT", data["failures"][0]["created_at"])


def _reads(captured) -> list[str]:
    """Each read of messages or batches (a subquery of a combined statement counts alone):
    the text from its FROM to the next SELECT."""
    reads = []
    for query in captured:
        for table in ('"queueing_message"', '"queueing_sendbatch"'):
            for chunk in query["sql"].split(f"FROM {table}")[1:]:
                reads.append(f"FROM {table}" + chunk.split("SELECT")[0])
    return reads


def test_no_query_reads_the_message_table_unbounded():
    """Every read of messages or batches is filtered (an index's condition) and limited: no
    full-table count, however many rows there are."""
    queued(3)
    fail(queued(1)[0])
    with CaptureQueriesContext(connection) as captured:
        system_status()
    reads = _reads(captured)
    assert len(reads) >= 12  # the backlog's nine, the holdings, the failures
    for sql in reads:
        assert "WHERE" in sql, sql
        assert "LIMIT" in sql, sql
    assert len(captured) < 20


def test_latest_failures_take_one_query_however_many():
    """The retry button's check reads only loaded fields: ten failures, one query."""
    for message in queued(10):
        fail(message)
    with CaptureQueriesContext(connection) as captured:
        failures = failures_status()
    assert len(failures) == 10 and len(captured) == 1, [q["sql"] for q in captured]
