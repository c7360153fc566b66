"""Campaign statistics from provider events (campaigns.event_stats), the system's daily figures
and the live per-minute rates.

The listener is called with ProviderEvent values built here, on real messages: a campaign sent
to the sandbox by a real worker. `Timeline` plays queueing's part of keeping each message's
kinds so far (`kinds_before`), as the events processing does.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.event_stats import campaign_events_apply
from campaigns.models import Campaign, CampaignLink, DailyStats
from campaigns.services import campaign_test_send
from queueing import hooks
from queueing.hooks import ProviderEvent
from queueing.live_rates import live_rates
from queueing.services import message_create
from tests.campaigns.provider_events import Timeline

pytestmark = pytest.mark.django_db(transaction=True)


def figures(campaign: Campaign) -> dict[str, int]:
    campaign.refresh_from_db()
    names = (
        "delivered", "bounced", "bounced_hard", "bounced_soft", "complained", "opened", "clicked",
        "unsubscribed",
    )  # fmt: skip
    return {name: getattr(campaign, name) for name in names}


def test_the_listener_is_registered():
    assert dict(hooks.event_listeners())["campaigns.statistics"] is campaign_events_apply


def test_mixed_outcome_gives_exact_statistics(sent_campaign):
    campaign, m = sent_campaign(10)
    t = Timeline()
    batch = [t.event(x, "sent") for x in m]
    batch += [t.event(x, "delivered") for x in m[:7]]
    batch += [
        t.event(m[7], "bounced", bounce_type="Permanent", bounce_subtype="General"),
        t.event(m[8], "bounced", bounce_type="Transient", bounce_subtype="MailboxFull"),
        t.event(m[9], "bounced", bounce_type="Undetermined"),
        t.event(m[0], "opened"),
        t.event(m[1], "opened"),
        t.event(m[2], "delivery_delayed"),
        t.event(m[1], "clicked", link="https://example.com/a"),
        t.event(m[6], "complained"),
    ]
    campaign_events_apply(batch)
    assert figures(campaign) == {
        "delivered": 7,
        "bounced": 3,
        "bounced_hard": 1,
        "bounced_soft": 2,
        "complained": 1,
        "opened": 2,
        "clicked": 1,
        "unsubscribed": 0,
    }


def test_each_message_counts_once_per_kind_even_out_of_order(sent_campaign):
    campaign, m = sent_campaign(4)
    t = Timeline()
    # m0: opened before delivered, then delivered late, then opened again: delivered once.
    campaign_events_apply([t.event(m[0], "opened")])
    campaign_events_apply([t.event(m[0], "delivered"), t.event(m[0], "opened")])
    # m1: a click with no open (images blocked): delivered, opened and clicked once each.
    campaign_events_apply([t.event(m[1], "clicked", link="https://example.com/x")])
    campaign_events_apply([t.event(m[1], "opened"), t.event(m[1], "delivered")])
    # m2: delivered twice (two webhooks), bounced twice: once each; the first bounce decides.
    campaign_events_apply(
        [
            t.event(m[2], "delivered"),
            t.event(m[2], "delivered"),
            t.event(m[2], "bounced", bounce_type="Transient"),
        ]
    )
    campaign_events_apply([t.event(m[2], "bounced", bounce_type="Permanent")])
    assert figures(campaign) == {
        "delivered": 3,
        "bounced": 1,
        "bounced_hard": 0,
        "bounced_soft": 1,
        "complained": 0,
        "opened": 2,
        "clicked": 1,
        "unsubscribed": 0,
    }


def test_clicks_per_link_count_every_click_and_each_person_once(sent_campaign):
    campaign, m = sent_campaign(3)
    t = Timeline()
    a, b = "https://example.com/a", "https://example.com/b"
    campaign_events_apply(
        [
            t.event(m[0], "clicked", link=a),
            t.event(m[0], "clicked", link=a),
            t.event(m[0], "clicked", link=b),
            t.event(m[1], "clicked", link=a),
        ]
    )
    campaign_events_apply([t.event(m[1], "clicked", link=a), t.event(m[2], "clicked", link="")])
    links = {link.url: (link.clicks, link.unique_clicks) for link in CampaignLink.objects.all()}
    assert links == {a: (4, 2), b: (1, 1)}
    assert figures(campaign)["clicked"] == 3  # people who clicked anything


def test_test_sends_and_unknown_messages_never_count(sent_campaign, deliver_all):
    campaign, _m = sent_campaign(2)
    (test_message,) = campaign_test_send(campaign=campaign, to=["tester@example.com"])
    deliver_all()
    test_message.refresh_from_db()
    assert test_message.is_test and test_message.status == "sent"
    t = Timeline()
    before_daily = DailyStats.objects.get(date=timezone.localdate())
    campaign_events_apply(
        [
            t.event(test_message, "delivered"),
            t.event(test_message, "clicked", link="https://example.com/t"),
            t.event(test_message, "complained"),
            ProviderEvent(
                raw_event_id=999,
                type="email.bounced",
                kind="bounced",
                occurred_at=timezone.now(),
                message_id=None,
                bounce_type="Permanent",
            ),
        ]
    )
    assert set(figures(campaign).values()) == {0}
    assert not CampaignLink.objects.exists()
    after_daily = DailyStats.objects.get(date=timezone.localdate())
    assert after_daily.sent == before_daily.sent == 2  # the test send is not in the day's sent
    assert (after_daily.delivered, after_daily.complained, after_daily.bounced) == (0, 0, 0)


def test_daily_stats_follow_sends_and_events_by_the_event_day(sent_campaign):
    _campaign, m = sent_campaign(5)
    today = timezone.localdate()
    t = Timeline()
    yesterday = timezone.now() - timedelta(days=1)
    campaign_events_apply(
        [
            t.event(m[0], "delivered"),
            t.event(m[1], "opened"),
            t.event(m[2], "clicked", link="https://example.com/a"),
            t.event(m[3], "bounced", bounce_type="Permanent", occurred_at=yesterday),
            t.event(m[4], "delivered", occurred_at=yesterday),
            t.event(m[4], "complained", occurred_at=yesterday),
        ]
    )
    rows = {
        row["date"]: row
        for row in DailyStats.objects.values("date", *DailyStats.FIELDS).order_by("date")
    }
    day, before = rows[today], rows[timezone.localdate(yesterday)]
    assert {f: day[f] for f in DailyStats.FIELDS} == {
        "sent": 5,
        "delivered": 3,
        "bounced": 0,
        "complained": 0,
        "opened": 2,
        "clicked": 1,
        "failed": 0,
        "unsubscribed": 0,
    }
    assert (before["delivered"], before["bounced"], before["complained"], before["sent"]) == (
        1,
        1,
        1,
        0,
    )


def test_transactional_mail_counts_in_the_daily_figures(sandbox, deliver_all):
    for i in range(3):
        message_create(
            from_email="app@example.com", to=[f"t{i}@example.com"], subject="Hi", text="Hello"
        )
    deliver_all()
    assert DailyStats.objects.get(date=timezone.localdate()).sent == 3
    assert sum(live_rates("sent", minutes=2)) == 3


def test_live_rates_count_sends_and_events_and_survive_redis_down(sent_campaign, settings):
    campaign, m = sent_campaign(4)
    t = Timeline()
    campaign_events_apply([t.event(x, "delivered") for x in m] + [t.event(m[0], "opened")])
    assert sum(live_rates("sent", minutes=2)) == 4
    assert sum(live_rates("events", minutes=2)) == 5
    assert sum(live_rates("failed", minutes=2)) == 0
    assert len(live_rates("sent", minutes=60)) == 60
    # Redis gone: the figures are lost, the statistics in the database are not.
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    campaign_events_apply([t.event(m[1], "opened")])
    assert live_rates("events", minutes=2) == [0, 0]
    assert figures(campaign)["opened"] == 2
