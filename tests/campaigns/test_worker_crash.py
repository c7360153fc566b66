"""A worker SIGKILLed mid-campaign: another worker finishes it, every recipient once."""

import contextlib
import os
import signal

import pytest

from campaigns.models import Campaign
from campaigns.services import campaign_send
from tests.conftest import child_pids, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_killed_worker_mid_campaign_still_sends_everyone_exactly_once(
    sandbox, start_worker, make_campaign, make_list, subscribe
):
    news = make_list()
    people = subscribe(news, 600)
    campaign = make_campaign([news])
    sandbox.configure(slow_rate=1.0, slow_seconds=1.0)  # every batch call takes a second
    worker = start_worker()
    campaign_send(campaign=campaign)
    assert wait_until(lambda: len(sandbox.emails()) >= 100, 60)
    horses = child_pids(worker.pid)
    os.killpg(worker.pid, signal.SIGKILL)
    for child in horses:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child, signal.SIGKILL)
    worker.wait(timeout=10)
    sandbox.configure(slow_rate=0.0)
    start_worker()
    assert wait_until(lambda: Campaign.objects.get(pk=campaign.pk).status == "sent", 120)
    campaign.refresh_from_db()
    assert wait_until(lambda: len(sandbox.emails()) >= 600, 10)
    addresses = [e["request"]["to"][0] for e in sandbox.emails()]
    assert sorted(addresses) == sorted(p.email for p in people)  # each exactly once
    assert (campaign.queued, campaign.sent) == (600, 600)
