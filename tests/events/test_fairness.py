"""Webhooks must not starve campaigns: one real worker (`transactional events bulk`, served
in that order), a campaign waiting in `bulk`, and a steady trickle of signed webhooks posted
to the real endpoint. Both make progress: the campaign is sent while the trickle goes on,
and the events are processed while it goes on too (queueing/enqueue.py
`request_event_processing`: after a few events jobs in a row kept a drain waiting, the next
one queues behind it)."""

import time

import pytest

from campaigns.models import Campaign
from campaigns.services import campaign_send
from queueing.enqueue import (
    DRAIN_FUNC,
    EVENTS_AHEAD_OF_BULK,
    EVENTS_FUNC,
    EVENTS_QUEUE,
    drain_started,
    event_processing_started,
    queue_named,
    request_drain,
    request_event_processing,
)
from queueing.models import Priority, ProviderWebhookEvent
from tests.conftest import wait_until
from tests.events.conftest import SECRET, event

pytestmark = pytest.mark.django_db(transaction=True)

TRICKLE_SECONDS = 15
EVERY = 0.0  # back to back: one always arrives while a job runs


def test_a_campaign_is_sent_during_a_steady_trickle_of_webhooks(
    sandbox, start_worker, post_webhook, make_list, subscribe, make_campaign
):
    news = make_list("news")
    subscribe(news, 300)
    campaign = make_campaign([news], name="Steady")
    worker = start_worker(MAILHUB_TEST_RATE_LIMIT="2", RESEND_WEBHOOK_SECRETS=SECRET)
    posted = 0

    def post_one() -> None:
        nonlocal posted
        answer = post_webhook(event("delivered", email_id=f"trickle-{posted}"))
        assert answer.status_code == 200, answer.content
        posted += 1

    # The worker is kept busy with webhooks first, then the campaign joins the bulk queue.
    started = time.monotonic()
    while time.monotonic() - started < 2:
        post_one()
        time.sleep(EVERY)
    assert wait_until(lambda: ProviderWebhookEvent.objects.exclude(processed_at=None).exists(), 20)
    campaign_send(campaign=campaign)
    started = time.monotonic()
    while time.monotonic() - started < TRICKLE_SECONDS:
        post_one()
        time.sleep(EVERY)
    campaign.refresh_from_db()
    sent_during = campaign.sent
    processed_during = ProviderWebhookEvent.objects.exclude(processed_at=None).count()
    assert worker.poll() is None
    # The campaign went out while webhooks kept coming, and so did the events' processing.
    assert sent_during == 300, (sent_during, campaign.status)
    assert processed_during >= posted // 2, (processed_during, posted)

    # And every stored event is processed once the trickle stops.
    def all_processed() -> bool:
        return not ProviderWebhookEvent.objects.filter(processed_at=None).exists()

    assert wait_until(all_processed, timeout=30)
    assert ProviderWebhookEvent.objects.count() == posted
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENT


def test_events_go_ahead_of_bulk_until_several_jobs_in_a_row_kept_a_drain_waiting(db):
    """The rule itself, on real Redis: events are queued ahead of bulk (a bounce applies
    before the next campaign's mail goes); after EVENTS_AHEAD_OF_BULK events jobs in a row
    started while a drain waited, the next one joins `bulk` behind that drain, one job
    however often asked; the drain's start gives events their place back."""
    events, bulk = queue_named(EVENTS_QUEUE), queue_named("bulk")
    assert request_drain(Priority.BULK) is True
    for _ in range(EVENTS_AHEAD_OF_BULK):
        assert request_event_processing() is True
        assert events.count == 1 and bulk.count == 1
        events.empty()
        event_processing_started()  # that job started while the drain waited
    assert request_event_processing() is True
    assert request_event_processing() is False  # kept to one while it waits
    assert events.count == 0
    assert [job.func_name for job in bulk.jobs] == [DRAIN_FUNC, EVENTS_FUNC]

    bulk.empty()
    drain_started(Priority.BULK)
    event_processing_started()  # the queued-behind job runs; nothing waits in bulk now
    assert request_drain(Priority.BULK) is True
    assert request_event_processing() is True
    assert events.count == 1  # ahead of bulk again
