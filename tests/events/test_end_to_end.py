"""Issue 13 end to end, through the real parts only: real RQ workers send to the sandbox, the
sandbox posts Resend's signed webhooks to the real endpoint on pytest-django's live server,
real workers process them and the listeners (statistics, suppression rules, guard rails,
forwarding) do the rest. The expected figures are read from the sandbox's own webhook log,
never from mailhub."""

import json
import subprocess
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

import pytest
import requests
import resend
from django.db.models import Sum
from django_rq import get_worker
from svix.webhooks import Webhook as SvixWebhook
from svix.webhooks import WebhookVerificationError

from campaigns import fanout
from campaigns.models import Campaign, CampaignLink, DailyStats
from campaigns.services import campaign_send, template_create
from queueing.addresses import bare_address
from queueing.api_keys import api_key_create
from queueing.forwarding.endpoints import webhook_endpoint_create
from queueing.models import (
    DeliveryStatus,
    Message,
    MessageStatus,
    ProviderWebhookEvent,
    WebhookDelivery,
)
from recipients.models import Subscription, Suppression
from sandbox.webhook_payloads import CHAINS
from tests.conftest import run_worker_burst, wait_until
from tests.events.conftest import SECRET
from tests.queueing.webhook_receiver import start_receiver

pytestmark = pytest.mark.django_db(transaction=True)

SHOP = "https://shop.example.com/spring?utm=mail"
MJML = f"""<mjml><mj-body><mj-section><mj-column>
<mj-text>Hello {{{{ recipient.first_name }}}}!</mj-text>
<mj-button href="{SHOP}">Shop the spring sale</mj-button>
<mj-button href="{{{{ unsubscribe_url }}}}">Unsubscribe</mj-button>
</mj-column></mj-section></mj-body></mjml>"""

# What each counted figure means in Resend's event types (an email reached it if any of its
# events is one of these): the statistics' rule that later events imply the earlier ones.
REACHED = {
    "delivered": {"email.delivered", "email.opened", "email.clicked"},
    "opened": {"email.opened", "email.clicked"},
    "clicked": {"email.clicked"},
    "complained": {"email.complained"},
}
FINAL_STATUS = {
    "delivered": MessageStatus.DELIVERED,
    "delivery_delayed": MessageStatus.DELIVERED,
    "opened": MessageStatus.OPENED,
    "clicked": MessageStatus.CLICKED,
    "bounced_permanent": MessageStatus.BOUNCED,
    "bounced_transient": MessageStatus.BOUNCED,
    "complained": MessageStatus.COMPLAINED,
    "failed": MessageStatus.FAILED,
    "suppressed": MessageStatus.SUPPRESSED,
}


@pytest.fixture
def webhooks_on(sandbox, live_server, settings) -> Callable[..., None]:
    """Point the sandbox's webhooks at the live server's endpoint, with the shared secret."""
    settings.RESEND_WEBHOOK_SECRETS = [SECRET]

    def configure(**config: Any) -> None:
        sandbox.configure(
            webhook_url=f"{live_server.url}/webhooks/resend", webhook_secret=SECRET, **config
        )

    return configure


@pytest.fixture
def shop_template():
    return template_create(
        name="Spring sale",
        slug="spring-sale",
        subject="Spring for {{ recipient.first_name }}",
        body=MJML,
    )


def work_events() -> None:
    """A real RQ worker on the `events` queue only (no mail is sent meanwhile)."""
    get_worker("events", worker_class="queueing.worker.MailhubSimpleWorker").work(
        burst=True, logging_level="WARNING"
    )


def settle(sandbox, *, worker: Callable[[], None] = run_worker_burst, timeout: float = 60) -> list:
    """Wait until the sandbox has posted every webhook, then work until mailhub has processed
    every stored one; returns the sandbox's delivery log."""
    log = sandbox.wait_for_webhooks(timeout=timeout)
    assert log, "the sandbox posted no webhooks"
    assert all(d["state"] == "delivered" for d in log), [
        (d["type"], d["attempts"]) for d in log if d["state"] != "delivered"
    ]
    assert all(200 <= d["attempts"][-1]["status"] < 300 for d in log)
    deadline = time.monotonic() + timeout
    while True:
        worker()
        if not ProviderWebhookEvent.objects.filter(processed_at__isnull=True).exists():
            break
        assert time.monotonic() < deadline, list(
            ProviderWebhookEvent.objects.filter(processed_at__isnull=True).values(
                "id", "type", "error", "attempts"
            )
        )
        time.sleep(0.1)
    # Every distinct webhook (a duplicate shares its svix-id) is stored exactly once.
    assert set(ProviderWebhookEvent.objects.values_list("svix_id", flat=True)) == {
        d["svix_id"] for d in log
    }
    assert ProviderWebhookEvent.objects.filter(error="").count() == len({d["svix_id"] for d in log})
    return log


def message_to(campaign: Campaign, address: str) -> Message:
    return next(
        m
        for m in Message.objects.filter(campaign=campaign, is_test=False)
        if bare_address(m.to[0]) == address
    )


def svix_id_of(log: list[dict], email_id: str, type_: str) -> str:
    (found,) = {d["svix_id"] for d in log if d["email_id"] == email_id and d["type"] == type_}
    return found


# 1. Campaign statistics -------------------------------------------------------------------


def test_campaign_statistics_equal_what_the_sandbox_sent(
    sandbox, webhooks_on, deliver_all, make_list, subscribe, make_campaign, shop_template
):
    webhooks_on(
        seed=13,
        webhook_mix={
            "delivered": 3,
            "delivery_delayed": 1,
            "opened": 3,
            "clicked": 3,
            "bounced_permanent": 2,
            "bounced_transient": 2,
            "complained": 1,
            "failed": 1,
            "suppressed": 1,
        },
        webhook_duplicates=0.3,
        webhook_out_of_order=0.5,
        webhook_delay_max=0.02,
    )
    news = make_list("news")
    subscribe(news, 36)
    campaign = make_campaign([news], name="Spring sale", template=shop_template)
    campaign_send(campaign=campaign)
    deliver_all(timeout=60)
    log = settle(sandbox)

    # What the sandbox sent, per email: its outcome, its distinct events, the clicked links.
    emails = {e["id"] for e in sandbox.emails()}
    assert len(emails) == 36
    outcome: dict[str, str] = {}
    types: dict[str, set[str]] = defaultdict(set)
    bounce_type: dict[str, str] = {}
    clicks: Counter = Counter()  # link → distinct click events
    clickers: dict[str, set[str]] = defaultdict(set)  # link → emails
    seen: set[str] = set()
    for d in log:
        outcome[d["email_id"]] = d["outcome"]
        types[d["email_id"]].add(d["type"])
        data = d["payload"]["data"]
        if d["type"] == "email.bounced":
            bounce_type.setdefault(d["email_id"], data["bounce"]["type"])
        if d["type"] == "email.clicked" and d["svix_id"] not in seen:
            clicks[data["click"]["link"]] += 1
            clickers[data["click"]["link"]].add(d["email_id"])
        seen.add(d["svix_id"])
    assert set(outcome) == emails
    # The run really was mixed, with duplicates and events out of order.
    assert set(outcome.values()) == set(FINAL_STATUS), Counter(outcome.values())
    assert any(d["duplicate"] for d in log)
    assert any(_out_of_order(log, e, outcome[e]) for e in emails)

    expected = {
        figure: sum(1 for t in types.values() if t & wanted) for figure, wanted in REACHED.items()
    }
    expected["bounced_hard"] = sum(1 for t in bounce_type.values() if t == "Permanent")
    expected["bounced_soft"] = sum(1 for t in bounce_type.values() if t != "Permanent")
    expected["bounced"] = len(bounce_type)
    failed = sum(1 for o in outcome.values() if o == "failed")

    campaign.refresh_from_db()
    figures = {f: getattr(campaign, f) for f in expected}
    assert figures == expected
    assert campaign.status == Campaign.Status.SENT
    assert (campaign.sent, campaign.failed) == (36 - failed, failed)
    assert expected["clicked"] > 0 and expected["bounced_hard"] > 0 and expected["bounced_soft"] > 0

    # Clicks per link: every distinct click, and each email once.
    assert set(clicks) == {SHOP}
    links = {link.url: (link.clicks, link.unique_clicks) for link in CampaignLink.objects.all()}
    assert links == {url: (clicks[url], len(clickers[url])) for url in clicks}

    # Every message ends where its outcome leads, whatever order its events came in.
    for message in Message.objects.filter(campaign=campaign):
        assert message.status == FINAL_STATUS[outcome[message.provider_id]], message.provider_id

    # The system's days agree (this campaign is all the mail there is).
    days = DailyStats.objects.aggregate(
        **{
            f: Sum(f)
            for f in ("sent", "failed", "delivered", "bounced", "complained", "opened", "clicked")
        }
    )
    assert days == {
        "sent": 36,  # messages reaching `sent`: a later provider failure does not undo it
        "failed": failed,
        "delivered": expected["delivered"],
        "bounced": expected["bounced"],
        "complained": expected["complained"],
        "opened": expected["opened"],
        "clicked": expected["clicked"],
    }


def _out_of_order(log: list[dict], email_id: str, outcome: str) -> bool:
    """True when this email's events were first posted in another order than their chain."""
    order: list[str] = []
    for d in log:
        if d["email_id"] == email_id and d["type"] not in order:
            order.append(d["type"])
    return order != list(CHAINS[outcome])


# 2. Suppression rules -----------------------------------------------------------------------


def test_a_hard_bounce_and_a_complaint_stop_the_next_campaign(
    sandbox, webhooks_on, deliver_all, make_list, subscribe, make_campaign
):
    webhooks_on(webhook_mix={"delivered": 1})
    news, offers = make_list("news"), make_list("offers")
    subscribe(news, 3)
    subscribe(offers, 3)
    first = make_campaign([news], name="A")
    campaign_send(campaign=first)
    deliver_all(timeout=60)
    settle(sandbox)
    bounced, complained = (
        message_to(first, "user1@example.com"),
        message_to(first, "user2@example.com"),
    )

    # The next campaign's messages exist before the bounce and the complaint are processed.
    second = make_campaign([news, offers], name="B")
    campaign_send(campaign=second)
    assert fanout.fanout_run(campaign_id=second.pk) == 3

    sandbox.emit_webhooks(bounced.provider_id, "bounced_permanent")
    sandbox.emit_webhooks(complained.provider_id, "complained")
    log = settle(sandbox, worker=work_events)

    hard = Suppression.objects.get(email="user1@example.com")
    raw = ProviderWebhookEvent.objects.get(
        svix_id=svix_id_of(log, bounced.provider_id, "email.bounced")
    )
    assert (hard.reason, hard.scope) == ("hard_bounce", "all")
    assert (hard.raw_event_id, hard.message_id, hard.campaign_id) == (raw.pk, bounced.pk, first.pk)
    spam = Suppression.objects.get(email="user2@example.com")
    raw = ProviderWebhookEvent.objects.get(
        svix_id=svix_id_of(log, complained.provider_id, "email.complained")
    )
    assert (spam.reason, spam.raw_event_id, spam.campaign_id) == ("complaint", raw.pk, first.pk)
    # A complaint takes the person off every list, not only the campaign's.
    assert set(
        Subscription.objects.filter(recipient__email="user2@example.com").values_list(
            "list__slug", "status"
        )
    ) == {("news", "unsubscribed"), ("offers", "unsubscribed")}
    assert not Suppression.objects.filter(email="user0@example.com").exists()

    deliver_all(timeout=60)
    assert message_to(second, "user1@example.com").status == MessageStatus.SUPPRESSED
    assert message_to(second, "user2@example.com").status == MessageStatus.SUPPRESSED
    assert message_to(second, "user0@example.com").status in (
        MessageStatus.SENT,
        MessageStatus.DELIVERED,
    )
    # The sandbox never received them: one email each, campaign A's.
    assert len(sandbox.emails(to="user1@example.com")) == 1
    assert len(sandbox.emails(to="user2@example.com")) == 1
    assert len(sandbox.emails(to="user0@example.com")) == 2
    second.refresh_from_db()
    assert (second.sent, second.suppressed) == (1, 2)

    # A later campaign leaves both out at fan-out.
    third = make_campaign([news, offers], name="C")
    assert campaign_send(campaign=third).audience == 1


# 3. The guard rail --------------------------------------------------------------------------


@pytest.mark.e2e  # about 15 s: three rate-limited requests and two worker processes
def test_bounces_arriving_while_sending_pause_the_campaign(
    sandbox, webhooks_on, start_worker, make_list, subscribe, make_campaign
):
    """300 recipients go in three batch requests of 100; the workers may make one request
    every 5 s (RESEND_RATE_LIMIT), so the first batch's bounces arrive and are processed by
    the other worker while the campaign is still sending."""
    webhooks_on(seed=7, webhook_mix={"delivered": 4, "bounced_permanent": 1})
    news = make_list("news")
    subscribe(news, 300)
    campaign = make_campaign([news], name="Risky")
    env = {"MAILHUB_TEST_RATE_LIMIT": "0.2", "MAILHUB_GUARD_MIN_SENT": "50"}
    workers: list[subprocess.Popen] = [start_worker(**env), start_worker(**env)]
    campaign_send(campaign=campaign)

    def stopped() -> bool:
        campaign.refresh_from_db()
        return campaign.status != Campaign.Status.SENDING

    assert wait_until(stopped, timeout=60, interval=0.2), (campaign.sent, campaign.bounced_hard)
    assert campaign.status == Campaign.Status.PAUSED
    assert campaign.pause_reason.startswith("guard rail: hard bounces ")
    assert "over 5.00%" in campaign.pause_reason
    assert 50 <= campaign.sent < 300
    assert campaign.bounced_hard / campaign.sent > 0.05

    # Nothing new starts: only a batch already frozen when it paused may still go (the drain
    # prepares the next request while one is with the provider); the rest wait, held.
    time.sleep(7)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.PAUSED
    assert len(sandbox.emails()) == campaign.sent <= 200
    assert Message.objects.filter(campaign=campaign, status=MessageStatus.QUEUED).count() == (
        300 - campaign.sent
    )
    assert all(w.poll() is None for w in workers)
    sandbox.wait_for_webhooks(timeout=30)  # none left in flight for the next test


# 4. Forwarding --------------------------------------------------------------------------------


@pytest.fixture
def receiver():
    yield from start_receiver()


def test_an_api_send_has_its_events_forwarded_signed_with_the_endpoints_secret(
    sandbox, webhooks_on, live_server, receiver, deliver_all
):
    webhooks_on(webhook_mix={"opened": 1})
    key = api_key_create(name="shop", scopes=["send"])
    endpoint = webhook_endpoint_create(api_key=key.api_key, url=f"{receiver.url}/hooks/resend")
    answer = requests.post(
        f"{live_server.url}/api/emails",
        json={
            "from": "Shop <shop@example.com>",
            "to": ["ann@example.org"],
            "subject": "Your order",
            "html": "<p>Thanks</p>",
            "tags": [{"name": "category", "value": "order"}],
        },
        headers={"Authorization": f"Bearer {key.secret}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    email_id = answer.json()["id"]
    deliver_all(timeout=30)
    settle(sandbox)
    # The forwarding job runs on the `events` queue, in the same worker bursts.
    assert wait_until(lambda: len(receiver.received) >= 3, timeout=10), receiver.received

    got = sorted(receiver.received, key=lambda r: r.json["type"])
    assert [r.json["type"] for r in got] == ["email.delivered", "email.opened", "email.sent"]
    message = Message.objects.get()
    assert str(message.uuid) == email_id and message.status == MessageStatus.OPENED
    for r in got:
        assert r.path == "/hooks/resend"
        SvixWebhook(endpoint.secret).verify(r.body, r.headers)
        headers = {k: r.headers[f"svix-{k}"] for k in ("id", "timestamp", "signature")}
        assert resend.Webhooks.verify(
            {"payload": r.body.decode(), "headers": headers, "webhook_secret": endpoint.secret}
        )
        # Not the sandbox's (Resend's) signature passed along.
        with pytest.raises(WebhookVerificationError):
            SvixWebhook(SECRET).verify(r.body, r.headers)
        body = r.json
        assert list(body) == ["type", "created_at", "data"]
        assert body["data"]["email_id"] == email_id
        assert body["data"]["to"] == ["ann@example.org"]
        assert body["data"]["subject"] == "Your order"
        assert body["data"]["tags"] == {"category": "order"}
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {
        DeliveryStatus.DELIVERED
    }
    assert json.loads(got[0].body)["data"]["email_id"] != message.provider_id
