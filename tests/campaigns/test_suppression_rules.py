"""Suppression by rule end to end: a bounce or a complaint on one campaign's message stops the
next campaign's message to that address, through real RQ workers and the sandbox. The events
are handed to recipients' listener as queueing's event processing hands them over (the lead's
test through the real webhook endpoint can replace `apply_events`)."""

import pytest
from django.db import transaction
from django.utils import timezone

from campaigns import fanout
from campaigns.services import campaign_send
from queueing.addresses import bare_address
from queueing.hooks import ProviderEvent, event_listeners
from queueing.models import Message, MessageStatus
from recipients.models import Subscription, Suppression

pytestmark = pytest.mark.django_db(transaction=True)


def apply_events(events: list[ProviderEvent]) -> None:
    """What the core does after applying a batch: every listener, in one transaction."""
    with transaction.atomic():
        for _name, listener in event_listeners():
            listener(events)


def event_about(message: Message, raw_event_id: int, kind: str, **extra) -> ProviderEvent:
    addresses = tuple(bare_address(a) for a in message.to)
    return ProviderEvent(
        raw_event_id=raw_event_id,
        type=f"email.{kind}",
        kind=kind,
        occurred_at=timezone.now(),
        message_id=message.pk,
        campaign_id=message.campaign_id,
        recipient_id=message.recipient_id,
        addresses=addresses,
        data={"email_id": message.provider_id, "to": list(addresses)},
        **extra,
    )


def message_to(campaign, address: str) -> Message:
    return next(
        m
        for m in Message.objects.filter(campaign=campaign, is_test=False)
        if bare_address(m.to[0]) == address
    )


def test_a_hard_bounce_stops_the_next_campaigns_message_to_that_address(
    sandbox, deliver_all, make_campaign, make_list, subscribe
):
    news = make_list("news")
    subscribe(news, 3)
    first = make_campaign([news], name="First")
    campaign_send(campaign=first)
    deliver_all(timeout=60)
    bounced = message_to(first, "user1@example.com")
    assert bounced.status == MessageStatus.SENT and bounced.provider_id

    apply_events(
        [event_about(bounced, 501, "bounced", bounce_type="Permanent", bounce_subtype="NoEmail")]
    )
    row = Suppression.objects.get(email="user1@example.com")
    assert (row.reason, row.campaign_id, row.raw_event_id) == ("hard_bounce", first.pk, 501)

    second = make_campaign([news], name="Second")
    plan = campaign_send(campaign=second)
    assert plan.audience == 2  # the fan-out leaves the suppressed address out
    deliver_all(timeout=60)
    second.refresh_from_db()
    assert second.status == "sent" and second.sent == 2
    assert len(sandbox.emails(to="user1@example.com")) == 1  # the first campaign's only
    assert len(sandbox.emails(to="user0@example.com")) == 2


def test_a_complaint_after_fan_out_stops_the_queued_message_and_unsubscribes(
    sandbox, deliver_all, make_campaign, make_list, subscribe
):
    news, offers = make_list("news"), make_list("offers")
    subscribe(news, 2)
    subscribe(offers, 1, start=1)
    first = make_campaign([news], name="First")
    campaign_send(campaign=first)
    deliver_all(timeout=60)
    complained = message_to(first, "user1@example.com")

    # The next campaign's messages are written before the complaint is processed.
    second = make_campaign([news, offers], name="Second")
    campaign_send(campaign=second)
    assert fanout.fanout_run(campaign_id=second.pk) == 2
    apply_events([event_about(complained, 502, "complained")])
    deliver_all(timeout=60)

    stopped = message_to(second, "user1@example.com")
    assert stopped.status == MessageStatus.SUPPRESSED
    assert message_to(second, "user0@example.com").status == MessageStatus.SENT
    assert len(sandbox.emails(to="user1@example.com")) == 1
    assert set(
        Subscription.objects.filter(recipient__email="user1@example.com").values_list(
            "status", flat=True
        )
    ) == {"unsubscribed"}
    second.refresh_from_db()
    assert (second.sent, second.suppressed) == (1, 1)
