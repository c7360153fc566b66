"""The Prometheus endpoint: what it shows after real sends, who may read it, what it costs.

Real parts only: a real `rqworker` subprocess (a forked job process per drain) sends to the
sandbox, the sandbox posts its signed webhooks to the live server, the worker processes them,
and the scrape reads what every job process added to Redis.
"""

import os
import re
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from campaigns.models import Campaign
from queueing import sending_gate
from queueing.metrics import catalogue, tally
from queueing.models import PENDING_STATUSES, Message, MessageStatus, Priority, ProviderWebhookEvent
from queueing.services import message_create
from tests.conftest import wait_until
from tests.events.conftest import SECRET

TOKEN = "metrics-test-token-0123456789"


def scrape(client, token: str = TOKEN) -> dict[tuple[str, tuple], float]:
    """Every sample of the scrape: (sample name, sorted labels) → value."""
    response = client.get(reverse("metrics"), HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == CONTENT_TYPE_LATEST
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name: str, /, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def total(samples, name: str, /, **labels) -> float:
    """Sum over every series of `name` whose labels include `labels`."""
    return sum(
        v for (n, got), v in samples.items() if n == name and set(labels.items()) <= set(got)
    )


@pytest.fixture
def token(settings) -> str:
    settings.MAILHUB_METRICS_TOKEN = TOKEN
    return TOKEN


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_scrape_after_real_sends_through_a_worker(
    client, token, sandbox, start_worker, live_server, settings, tmp_path
) -> None:
    settings.RESEND_WEBHOOK_SECRETS = [SECRET]
    sandbox.configure(
        webhook_url=f"{live_server.url}/webhooks/resend",
        webhook_secret=SECRET,
        webhook_mix={"delivered": 1.0},
    )
    sandbox.answer("validation_error", 422, to="refused@example.com")
    start_worker()

    def sent(n: int) -> bool:
        return Message.objects.filter(status__in=PENDING_STATUSES).count() == 0 and (
            Message.objects.exclude(status__in=PENDING_STATUSES).count() == n
        )

    # One at a time: each is sent by a drain job of its own (a job process of its own).
    addresses = ["a@example.com", "b@example.com", "refused@example.com"]
    for n, to in enumerate(addresses, start=1):
        message_create(to=[to], subject=f"Hello {n}", text="Hi")
        assert wait_until(lambda n=n: sent(n), 20), list(Message.objects.values("status"))
    message_create(to=["c@example.com"], subject="Bulk", text="Hi", priority=Priority.BULK)
    assert wait_until(lambda: sent(4), 20)
    # The sandbox posts sent + delivered for each accepted email; the worker processes them.
    assert wait_until(
        lambda: ProviderWebhookEvent.objects.filter(processed_at__isnull=False).count() >= 6, 30
    )
    assert wait_until(lambda: total(scrape(client), "mailhub_webhook_events_total") >= 6, 10), (
        "the processed events were not counted"
    )
    samples = scrape(client)

    assert Message.objects.filter(status=MessageStatus.FAILED).count() == 1
    # Counted by four job processes, read back as one figure each.
    assert value(samples, "mailhub_messages_total", status="sent", priority="transactional") == 2
    assert value(samples, "mailhub_messages_total", status="sent", priority="bulk") == 1
    assert value(samples, "mailhub_messages_total", status="failed", priority="transactional") == 1
    assert total(samples, "mailhub_provider_requests_total") == 4
    assert value(samples, "mailhub_provider_requests_total", kind="single", outcome="sent") == 3
    assert value(samples, "mailhub_provider_requests_total", kind="single", outcome="failed") == 1
    answers = "mailhub_provider_answers_total"
    assert value(samples, answers, provider="resend", status="200", error="none") == 3
    assert value(samples, answers, provider="resend", status="422", error="validation_error") == 1
    # One latency sample per message sent, in a bucket that holds all three.
    assert total(samples, "mailhub_send_latency_seconds_count") == 3
    assert value(samples, "mailhub_send_latency_seconds_bucket", priority="bulk", le="+Inf") == 1
    assert 0 < total(samples, "mailhub_send_latency_seconds_sum") < 60
    assert total(samples, "mailhub_provider_request_duration_seconds_count") == 4
    assert value(samples, "mailhub_ratelimit_wait_seconds_count") == 4
    assert value(samples, "mailhub_webhook_events_total", type="sent") == 3
    assert value(samples, "mailhub_webhook_events_total", type="delivered") == 3
    assert value(samples, "mailhub_webhook_events_pending") == 0
    assert value(samples, "mailhub_redis_up") == 1
    # Gauges read now: nothing waits, a worker beats, nothing is paused, today's figures.
    assert value(samples, "mailhub_queued_messages", priority="transactional") == 0
    assert value(samples, "mailhub_oldest_queued_message_age_seconds") == 0
    assert value(samples, "mailhub_workers_alive") == 1
    assert time.time() - value(samples, "mailhub_worker_last_heartbeat_timestamp_seconds") < 120
    assert value(samples, "mailhub_sending_paused", source="provider") == 0
    assert value(samples, "mailhub_messages_sent_today") == 3
    assert value(samples, "mailhub_messages_failed_today") == 1

    # The worker's own log: a line per provider request, none of RQ's per-job INFO lines.
    log = (tmp_path / "worker-0.log").read_text()
    requests = [line for line in log.splitlines() if "provider request" in line]
    assert len(requests) == 4, log[-3000:]
    assert any("outcome=failed status=422 error=validation_error" in line for line in requests)
    assert all(re.search(r"duration_ms=\d", line) for line in requests)
    for rq_line in ("Job OK", "result is kept", "drain_queue(", "Listening on"):
        assert rq_line not in log, f"RQ's INFO line {rq_line!r} leaked:\n{log[-3000:]}"


@pytest.mark.django_db(transaction=True)
def test_counters_from_many_processes_add_up(client, token) -> None:
    """Figures counted in forked processes (as RQ's job processes are) are all read back."""

    children = []
    for n in range(4):
        pid = os.fork()
        if pid == 0:  # a job process: count, then exit without any cleanup
            try:
                with tally.request_tally():
                    tally.count(catalogue.PROVIDER_REQUESTS, kind="batch", outcome="sent")
                    tally.observe(catalogue.PROVIDER_REQUEST_SECONDS, 0.2 * n, kind="batch")
            finally:
                os._exit(0)
        children.append(pid)
    for pid in children:
        assert os.waitpid(pid, 0)[1] == 0
    samples = scrape(client)
    assert value(samples, "mailhub_provider_requests_total", kind="batch", outcome="sent") == 4
    histogram = "mailhub_provider_request_duration_seconds"
    assert value(samples, f"{histogram}_count", kind="batch") == 4
    assert value(samples, f"{histogram}_sum", kind="batch") == pytest.approx(1.2)
    # 0, 0.2, 0.4, 0.6: cumulative buckets as Prometheus expects them.
    assert value(samples, f"{histogram}_bucket", kind="batch", le="0.1") == 1
    assert value(samples, f"{histogram}_bucket", kind="batch", le="0.25") == 2
    assert value(samples, f"{histogram}_bucket", kind="batch", le="0.5") == 3
    assert value(samples, f"{histogram}_bucket", kind="batch", le="1.0") == 4
    assert value(samples, f"{histogram}_bucket", kind="batch", le="+Inf") == 4


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_change_is_not_counted(client, token) -> None:
    with transaction.atomic():
        tally.count_on_commit(catalogue.MESSAGES, Counter({("sent", "bulk"): 2}))
    try:
        with transaction.atomic():
            tally.count_on_commit(catalogue.MESSAGES, Counter({("sent", "bulk"): 5}))
            raise RuntimeError("rolled back")
    except RuntimeError:
        pass
    assert value(scrape(client), "mailhub_messages_total", status="sent", priority="bulk") == 2


@pytest.mark.django_db
def test_flushed_redis_starts_the_counters_again(client, token, clean_redis) -> None:
    tally.count(catalogue.RATELIMIT_PAUSES)
    tally.count(catalogue.SENDING_PAUSES, reason="quota")
    assert value(scrape(client), "mailhub_ratelimit_pauses_total") == 1
    clean_redis.flushdb()
    samples = scrape(client)
    # A counter that went down is a reset for Prometheus; label-less ones show 0, not nothing.
    assert ("mailhub_ratelimit_pauses_total", ()) in samples
    assert value(samples, "mailhub_ratelimit_pauses_total") == 0
    assert total(samples, "mailhub_sending_pauses_total") == 0


@pytest.mark.django_db
def test_protection(client, settings, django_user_model) -> None:
    url = reverse("metrics")
    settings.MAILHUB_METRICS_TOKEN = ""
    # Token access off: any bearer token is refused.
    assert client.get(url, HTTP_AUTHORIZATION="Bearer ").status_code == 401
    assert client.get(url, HTTP_AUTHORIZATION="Bearer anything").status_code == 401

    settings.MAILHUB_METRICS_TOKEN = TOKEN
    anonymous = client.get(url)
    assert anonymous.status_code == 401
    assert anonymous["WWW-Authenticate"].startswith("Bearer")
    assert client.get(url, HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {TOKEN}x").status_code == 401
    assert client.get(url, HTTP_AUTHORIZATION=f"Basic {TOKEN}").status_code == 401
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200
    assert client.post(url, HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 405

    staff = django_user_model.objects.create_user("staff", password="pw", is_staff=True)
    client.force_login(staff)
    assert client.get(url).status_code == 403
    # A token shown is judged alone, even with a session.
    assert client.get(url, HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    staff.user_permissions.add(Permission.objects.get(codename="view_metrics"))
    staff = django_user_model.objects.get(pk=staff.pk)
    client.force_login(staff)
    assert client.get(url).status_code == 200
    staff.is_staff = False
    staff.save()
    assert client.get(url).status_code == 403


@pytest.mark.django_db
def test_no_scrape_counts_the_message_table(client, token) -> None:
    """Every read of the message table is bounded: a capped count (LIMIT) or an index walk
    with a LIMIT; none counts or scans the whole table."""
    for n in range(30):
        message_create(to=[f"p{n}@example.com"], subject="x", text="y")
    table = Message._meta.db_table
    with CaptureQueriesContext(connection) as queries:
        scrape(client)
    on_messages = [q["sql"] for q in queries.captured_queries if f'"{table}"' in q["sql"]]
    assert len(on_messages) >= 3  # the backlog is read: the check below has queries to judge
    for sql in on_messages:
        assert "WHERE" in sql.upper(), sql
        if "COUNT(" in sql.upper():
            assert "LIMIT" in sql.upper(), f"an uncapped count: {sql}"


def test_every_declared_metric_is_exposed(client, token, db) -> None:
    names = {name for name, _ in scrape(client)}
    for metric in catalogue.ALL:
        if metric.kind == catalogue.COUNTER and not metric.labels:
            assert f"{metric.name}_total" in names


@pytest.mark.django_db
def test_backlog_pauses_and_campaigns_in_flight(client, token, make_campaign) -> None:
    for n in range(3):
        message_create(to=[f"q{n}@example.com"], subject="x", text="y")
    message_create(to=["bulk@example.com"], subject="x", text="y", priority=Priority.BULK)
    five_minutes_ago = timezone.now() - timedelta(minutes=5)
    Message.objects.update(created_at=five_minutes_ago, queued_at=five_minutes_ago)
    sending_gate.pause_sending("quota exhausted (test)", 60)
    campaign = make_campaign(name="Spring sale")
    Campaign.objects.filter(pk=campaign.pk).update(
        status="sending", audience_size=10, sent=4, failed=1, started_at=timezone.now()
    )
    samples = scrape(client)
    assert value(samples, "mailhub_queued_messages", priority="transactional") == 3
    assert value(samples, "mailhub_queued_messages", priority="bulk") == 1
    assert value(samples, "mailhub_oldest_queued_message_age_seconds") >= 299
    assert value(samples, "mailhub_backlog_count_capped") == 0
    assert value(samples, "mailhub_sending_paused", source="provider") == 1
    assert value(samples, "mailhub_sending_paused", source="operator") == 0
    assert value(samples, "mailhub_workers_alive") == 0
    assert value(samples, "mailhub_campaigns_in_flight") == 1
    labels = {"campaign": str(campaign.pk), "name": "Spring sale"}
    assert value(samples, "mailhub_campaign_messages", figure="sent", **labels) == 4
    assert value(samples, "mailhub_campaign_messages", figure="failed", **labels) == 1
    assert value(samples, "mailhub_campaign_messages", figure="total", **labels) == 10
    assert 0 < value(samples, "mailhub_campaign_progress_ratio", status="sending", **labels) <= 1


@pytest.mark.django_db
def test_scrape_while_redis_is_unreachable(client, token, settings) -> None:
    """The scrape still answers, says Redis is down (the alert's figure), and keeps the
    database's gauges; the workers' counters are simply absent."""
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    message_create(to=["waiting@example.com"], subject="x", text="y")
    samples = scrape(client)
    assert value(samples, "mailhub_redis_up") == 0
    assert value(samples, "mailhub_queued_messages", priority="transactional") == 1
    assert value(samples, "mailhub_workers_alive") == 0
    assert not any(name == "mailhub_messages_total" for name, _ in samples)
