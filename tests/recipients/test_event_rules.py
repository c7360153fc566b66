"""Suppression by rule (recipients.event_rules): the listener called with ProviderEvent values
as queueing's event processing builds them, on real messages, recipients and lists."""

import logging
from datetime import timedelta
from typing import get_args

import pytest
from django.utils import timezone

from campaigns.services import campaign_create, template_create
from queueing import hooks
from queueing.hooks import ProviderEvent
from queueing.models import Message
from queueing.services import message_create
from recipients import services
from recipients.api_schemas import SuppressionOut
from recipients.event_rules import provider_events_apply
from recipients.models import (
    List,
    Recipient,
    SoftBounce,
    Source,
    Subscription,
    SubscriptionEvent,
    Suppression,
    SuppressionReview,
)
from recipients.selectors import may_receive, suppressed_addresses
from recipients.soft_bounces import soft_bounces_purge

pytestmark = pytest.mark.django_db
Reason = Suppression.Reason
Kind = SubscriptionEvent.Kind

_next_raw_id = iter(range(1000, 10**6))


def event_for(
    message: Message | None,
    *,
    kind: str = "bounced",
    bounce_type: str = "",
    addresses: tuple[str, ...] | None = None,
    to: list[str] | None = None,
    raw_event_id: int | None = None,
    occurred_at=None,
    **extra,
) -> ProviderEvent:
    """A ProviderEvent as the core builds it: `addresses` default to the message's `to`,
    `data.to` to the same."""
    if addresses is None:
        addresses = tuple(message.to) if message is not None else ()
    if kind == "bounced" and not bounce_type:
        bounce_type = "Permanent"
    return ProviderEvent(
        raw_event_id=raw_event_id if raw_event_id is not None else next(_next_raw_id),
        type=f"email.{kind}",
        kind=kind,
        occurred_at=occurred_at or timezone.now(),
        message_id=message.pk if message is not None else None,
        campaign_id=message.campaign_id if message is not None else None,
        recipient_id=message.recipient_id if message is not None else None,
        is_test=message.is_test if message is not None else False,
        addresses=addresses,
        bounce_type=bounce_type,
        data={"to": to if to is not None else list(addresses)},
        **extra,
    )


def mail(to, **kwargs) -> Message:
    return message_create(to=to, subject="Hello", text="Hello", **kwargs)


def suppression(email: str) -> Suppression | None:
    return Suppression.objects.filter(email=email).first()


@pytest.fixture
def campaign(db):
    template = template_create(
        name="News", slug="news-template", subject="News", body="<mjml><mj-body></mj-body></mjml>"
    )
    news, _ = services.list_get_or_create(slug="campaign-list")
    return campaign_create(name="Spring", template=template, lists=[news])


@pytest.fixture
def person(db) -> Recipient:
    person, _ = services.recipient_get_or_create(email="ann@example.com", first_name="Ann")
    return person


def test_the_listener_is_registered():
    assert dict(hooks.event_listeners())["suppression_rules"] is provider_events_apply


def test_hard_bounce_suppresses_at_once_for_all_mail_and_keeps_its_cause(campaign, person):
    message = mail("Ann <Ann@Example.com>", campaign_id=campaign.pk, recipient_id=person.pk)
    event = event_for(
        message,
        addresses=("ann@example.com",),
        bounce_subtype="NoEmail",
        diagnostic="smtp; 550 5.1.1 user unknown",
    )
    provider_events_apply([event])
    row = suppression("ann@example.com")
    assert (row.reason, row.scope) == (Reason.HARD_BOUNCE, Suppression.Scope.ALL)
    assert (row.raw_event_id, row.message_id, row.campaign_id) == (
        event.raw_event_id,
        message.pk,
        campaign.pk,
    )
    assert "550 5.1.1 user unknown" in row.note and f"campaign #{campaign.pk}" in row.note
    # Transactional mail stops too.
    assert suppressed_addresses(["ann@example.com"], marketing=False)
    line = SubscriptionEvent.objects.get(email="ann@example.com", kind=Kind.SUPPRESSED)
    assert line.recipient == person and "Hard bounce (all mail)" in line.detail
    assert "Permanent/NoEmail bounce" in line.detail and line.source == "provider_event"


def test_complaint_suppresses_and_unsubscribes_from_every_list(person, make_list):
    lists = [make_list("news"), make_list("offers"), make_list("digest", double=True)]
    for each in lists:
        services.subscription_create(recipient=person, list=each, source=Source.ADMIN)
    gone = make_list("old")
    old = services.subscription_create(recipient=person, list=gone, source=Source.ADMIN)
    services.subscription_unsubscribe(subscription=old, source="form")
    statuses = set(Subscription.objects.filter(recipient=person).values_list("status", flat=True))
    assert statuses == {"subscribed", "pending", "unsubscribed"}  # digest is double opt-in

    provider_events_apply([event_for(mail("ann@example.com"), kind="complained")])

    assert suppression("ann@example.com").reason == Reason.COMPLAINT
    assert set(Subscription.objects.filter(recipient=person).values_list("status", flat=True)) == {
        "unsubscribed"
    }
    why = SubscriptionEvent.objects.filter(
        recipient=person, kind=Kind.UNSUBSCRIBED, source="provider_event"
    )
    assert sorted(why.values_list("list__slug", flat=True)) == ["digest", "news", "offers"]
    assert all("spam complaint" in line.detail for line in why)
    # Lifting the suppression later subscribes them to nothing.
    services.suppression_delete(email="ann@example.com", reason="asked by phone")
    assert not may_receive("ann@example.com", marketing=True, list=lists[0])
    assert may_receive("ann@example.com", marketing=True, list=lists[0]).code == "unsubscribed"


def test_resend_suppressed_event_suppresses():
    message = mail("bob@example.com")
    provider_events_apply([event_for(message, kind="suppressed")])
    row = suppression("bob@example.com")
    assert (row.reason, row.scope, row.message_id) == (
        Reason.PROVIDER_SUPPRESSED,
        Suppression.Scope.ALL,
        message.pk,
    )


@pytest.mark.parametrize("soft", ["Transient", "Undetermined", "Unknown-to-us"])
def test_a_soft_bounce_alone_suppresses_nobody(soft):
    provider_events_apply([event_for(mail("carl@example.com"), bounce_type=soft)])
    assert suppression("carl@example.com") is None
    assert SoftBounce.objects.filter(email="carl@example.com").count() == 1


def test_soft_bounces_suppress_at_the_limit_within_the_window(settings):
    settings.MAILHUB_SOFT_BOUNCE_LIMIT = 3
    settings.MAILHUB_SOFT_BOUNCE_WINDOW_DAYS = 7
    first, second, third = (mail("dora@example.com") for _ in range(3))
    provider_events_apply([event_for(first, bounce_type="Transient")])
    provider_events_apply([event_for(second, bounce_type="Undetermined")])
    assert suppression("dora@example.com") is None
    last = event_for(third, bounce_type="Transient")
    provider_events_apply([last])
    row = suppression("dora@example.com")
    assert (row.reason, row.scope, row.raw_event_id) == (
        Reason.SOFT_BOUNCES,
        Suppression.Scope.ALL,
        last.raw_event_id,
    )
    # Counted afresh should staff lift it.
    assert not SoftBounce.objects.filter(email="dora@example.com").exists()


def test_soft_bounces_older_than_the_window_do_not_count(settings):
    settings.MAILHUB_SOFT_BOUNCE_LIMIT = 2
    settings.MAILHUB_SOFT_BOUNCE_WINDOW_DAYS = 7
    old = timezone.now() - timedelta(days=8)
    provider_events_apply([event_for(mail("eve@example.com"), bounce_type="Transient")])
    SoftBounce.objects.filter(email="eve@example.com").update(occurred_at=old)
    # An event that happened outside the window is not counted either.
    late = event_for(mail("eve@example.com"), bounce_type="Transient", occurred_at=old)
    provider_events_apply([late])
    provider_events_apply([event_for(mail("eve@example.com"), bounce_type="Transient")])
    assert suppression("eve@example.com") is None
    # The expired row went when the address bounced again; one in the window is left.
    assert SoftBounce.objects.filter(email="eve@example.com").count() == 1
    provider_events_apply([event_for(mail("eve@example.com"), bounce_type="Transient")])
    assert suppression("eve@example.com").reason == Reason.SOFT_BOUNCES


def test_a_soft_bounce_reported_twice_counts_once(settings):
    settings.MAILHUB_SOFT_BOUNCE_LIMIT = 2
    message = mail("fred@example.com")
    event = event_for(message, bounce_type="Transient")
    provider_events_apply([event, event])
    provider_events_apply([event])
    # Another webhook about the same message's soft bounce (another raw event).
    provider_events_apply([event_for(message, bounce_type="Transient")])
    assert suppression("fred@example.com") is None
    assert SoftBounce.objects.filter(email="fred@example.com").count() == 1


def test_soft_bounces_of_an_address_suppressed_for_all_mail_are_not_counted():
    services.suppression_create(email="gus@example.com", reason=Reason.MANUAL)
    provider_events_apply([event_for(mail("gus@example.com"), bounce_type="Transient")])
    assert not SoftBounce.objects.exists()


def test_the_reconcile_step_purges_expired_soft_bounces_only(settings):
    settings.MAILHUB_SOFT_BOUNCE_WINDOW_DAYS = 7
    now = timezone.now()
    for i, age in enumerate([1, 6, 8, 30]):
        SoftBounce.objects.create(
            email=f"s{i}@example.com", raw_event_id=i, occurred_at=now - timedelta(days=age)
        )
    assert soft_bounces_purge() == {"soft_bounces_purged": 2}
    assert sorted(SoftBounce.objects.values_list("email", flat=True)) == [
        "s0@example.com",
        "s1@example.com",
    ]
    assert dict(hooks.reconcile_steps())["soft_bounces"] is soft_bounces_purge


@pytest.mark.parametrize("kind", ["bounced", "complained", "suppressed"])
def test_an_event_naming_several_addresses_without_saying_which_is_flagged(kind, person):
    news = List.objects.create(slug="news", name="News")
    services.subscription_create(recipient=person, list=news, source=Source.ADMIN)
    message = mail(["ann@example.com", "Bea <bea@example.com>"])
    event = event_for(message, kind=kind, diagnostic="550 unknown")
    provider_events_apply([event])
    provider_events_apply([event])  # applied again: still one review
    assert not Suppression.objects.exists()
    assert not SoftBounce.objects.exists()
    assert person.subscriptions.get().status == "subscribed"  # nobody unsubscribed by guess
    review = SuppressionReview.objects.get()
    assert review.addresses == ["ann@example.com", "bea@example.com"]
    assert (review.raw_event_id, review.message_id, review.kind) == (
        event.raw_event_id,
        message.pk,
        kind,
    )
    assert review.reviewed_at is None and "550 unknown" in review.detail


def test_a_bounce_naming_the_bounced_address_among_several_suppresses_only_it():
    message = mail(["ann@example.com", "bea@example.com"], cc=["cid@example.com"])
    provider_events_apply([event_for(message, addresses=("bea@example.com",), to=message.to)])
    assert list(Suppression.objects.values_list("email", flat=True)) == ["bea@example.com"]
    # Where the core narrowed several down from `to` (Resend named them), each is suppressed.
    provider_events_apply(
        [
            event_for(
                message,
                addresses=("ann@example.com", "bea@example.com"),
                to=["ann@example.com", "bea@example.com", "cid@example.com"],
            )
        ]
    )
    assert sorted(Suppression.objects.values_list("email", flat=True)) == [
        "ann@example.com",
        "bea@example.com",
    ]
    assert not SuppressionReview.objects.exists()


def test_a_partial_payload_without_addresses_uses_the_message():
    one = mail("hal@example.com")
    provider_events_apply([event_for(one, addresses=(), to=[])])
    assert suppression("hal@example.com").message_id == one.pk
    several = mail("ida@example.com", bcc=["jon@example.com"])
    provider_events_apply([event_for(several, addresses=(), to=[])])
    assert SuppressionReview.objects.get().addresses == ["ida@example.com", "jon@example.com"]
    # No addresses and no message: nothing to do, and no error.
    provider_events_apply([event_for(None, addresses=())])
    assert Suppression.objects.count() == 1


def test_an_event_for_a_deleted_recipient_still_suppresses_by_address(make_list):
    person, _ = services.recipient_get_or_create(email="kim@example.com")
    message = mail("kim@example.com", recipient_id=person.pk)
    event = event_for(message, kind="complained")
    person.delete()  # gone without recipient_delete's suppression
    message.refresh_from_db()
    assert message.recipient_id is None and event.recipient_id is not None
    provider_events_apply([event])
    assert suppression("kim@example.com").reason == Reason.COMPLAINT
    # And the event of a message without a recipient at all.
    provider_events_apply([event_for(mail("lee@example.com"))])
    assert suppression("lee@example.com").reason == Reason.HARD_BOUNCE


def test_a_deletion_stays_the_reason_when_its_recipient_bounces_later(make_list):
    person, _ = services.recipient_get_or_create(email="max@example.com")
    message = mail("max@example.com", recipient_id=person.pk)
    services.recipient_delete(recipient=person, source="api")
    provider_events_apply([event_for(message, kind="complained")])
    row = suppression("max@example.com")
    assert (row.reason, row.raw_event_id) == (Reason.DELETED, None)


def test_a_stronger_reason_replaces_a_weaker_one_and_keeps_it_in_the_note(person):
    services.recipient_unsubscribe_all(recipient=person, source="form")
    message = mail("ann@example.com")
    bounce = event_for(message)
    provider_events_apply([bounce])
    row = suppression("ann@example.com")
    assert (row.reason, row.scope, row.raw_event_id) == (
        Reason.HARD_BOUNCE,
        Suppression.Scope.ALL,
        bounce.raw_event_id,
    )
    assert "was: Global unsubscribe (marketing mail only)" in row.note
    complaint = event_for(message, kind="complained")
    provider_events_apply([complaint])
    row.refresh_from_db()
    assert (row.reason, row.raw_event_id) == (Reason.COMPLAINT, complaint.raw_event_id)
    assert "was: Hard bounce (all mail)" in row.note
    # A weaker or equal reason later changes nothing.
    for weaker in (event_for(message), event_for(message, kind="suppressed")):
        provider_events_apply([weaker])
    row.refresh_from_db()
    assert (row.reason, row.raw_event_id) == (Reason.COMPLAINT, complaint.raw_event_id)
    assert Suppression.objects.count() == 1


def test_staff_suppressions_are_not_overruled_but_a_marketing_one_is_widened():
    services.suppression_create(email="ned@example.com", reason=Reason.MANUAL)
    provider_events_apply([event_for(mail("ned@example.com"), kind="complained")])
    assert suppression("ned@example.com").reason == Reason.MANUAL
    services.suppression_create(
        email="ola@example.com", reason=Reason.MANUAL, scope=Suppression.Scope.MARKETING
    )
    provider_events_apply([event_for(mail("ola@example.com"), kind="suppressed")])
    row = suppression("ola@example.com")
    assert (row.reason, row.scope) == (Reason.PROVIDER_SUPPRESSED, Suppression.Scope.ALL)
    assert "was: Added by staff (marketing mail only)" in row.note


def test_duplicates_of_one_event_have_one_effect(person, make_list):
    for slug in ("news", "offers"):
        services.subscription_create(recipient=person, list=make_list(slug), source="admin")
    event = event_for(mail("ann@example.com"), kind="complained")
    provider_events_apply([event, event])
    provider_events_apply([event])
    row = suppression("ann@example.com")
    note, lines = row.note, SubscriptionEvent.objects.filter(email="ann@example.com")
    assert lines.filter(kind=Kind.SUPPRESSED).count() == 1
    assert lines.filter(kind=Kind.UNSUBSCRIBED).count() == 2
    provider_events_apply([event])
    row.refresh_from_db()
    assert row.note == note and Suppression.objects.count() == 1


def test_a_test_send_that_bounces_suppresses_too(campaign):
    message = mail("pia@example.com", campaign_id=campaign.pk, is_test=True)
    provider_events_apply([event_for(message)])
    row = suppression("pia@example.com")
    assert row.reason == Reason.HARD_BOUNCE and "a test send" in row.note


@pytest.mark.parametrize("kind", ["sent", "delivered", "delivery_delayed", "opened", "clicked", ""])
def test_other_events_change_nothing(kind):
    provider_events_apply([event_for(mail("quin@example.com"), kind=kind)])
    assert not Suppression.objects.exists() and not SoftBounce.objects.exists()
    assert not SuppressionReview.objects.exists()


def test_a_malformed_address_is_logged_and_the_rest_of_the_batch_applies(caplog):
    odd = event_for(None, addresses=("not an address",))
    good = event_for(mail("rui@example.com"))
    with caplog.at_level(logging.WARNING, logger="recipients.event_rules"):
        provider_events_apply([odd, good])
    assert list(Suppression.objects.values_list("email", flat=True)) == ["rui@example.com"]
    assert f"#{odd.raw_event_id}" in caplog.text and "suppresses nobody" in caplog.text


def test_the_api_describes_every_suppression_reason():
    literal = SuppressionOut.model_fields["reason"].annotation
    assert set(get_args(literal)) == set(Reason.values)
