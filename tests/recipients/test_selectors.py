"""The sending rules: may_receive, suppressed_addresses and the fan-out selector."""

import pytest
from django.utils import timezone

from queueing.addresses import bare_address, read_address
from recipients import services
from recipients.models import Recipient, Source, Subscription, Suppression
from recipients.selectors import (
    eligible_recipients,
    may_receive,
    suppressed_addresses,
)

pytestmark = pytest.mark.django_db


def suppress(email: str, reason: str, scope: str) -> None:
    services.suppression_create(email=email, reason=reason, scope=scope)


def test_transactional_mail_is_stopped_only_by_all_mail_suppressions():
    suppress("left@example.com", Suppression.Reason.UNSUBSCRIBE, Suppression.Scope.MARKETING)
    suppress("bounced@example.com", Suppression.Reason.HARD_BOUNCE, Suppression.Scope.ALL)
    assert may_receive("left@example.com", marketing=False).allowed
    decision = may_receive("Bounced@Example.com", marketing=False)
    assert not decision.allowed
    assert decision.code == "suppressed"
    assert "Hard bounce" in decision.reason


def test_marketing_mail_is_stopped_by_both_scopes():
    suppress("left@example.com", Suppression.Reason.UNSUBSCRIBE, Suppression.Scope.MARKETING)
    suppress("complained@example.com", Suppression.Reason.COMPLAINT, Suppression.Scope.ALL)
    assert not may_receive("left@example.com", marketing=True)
    assert "Global unsubscribe" in may_receive("left@example.com", marketing=True).reason
    assert not may_receive("complained@example.com", marketing=True)
    assert may_receive("someone@example.com", marketing=True)


def test_may_receive_explains_list_rules(make_list):
    news = make_list("news")
    double = make_list("digest", double=True)
    jane = Recipient.objects.create(email="jane@example.com")
    assert may_receive("jane@example.com", marketing=True, list=news).code == "not_subscribed"
    sub = services.subscription_create(recipient=jane, list=news, source=Source.API)
    assert may_receive("jane@example.com", marketing=True, list=news).allowed
    services.subscription_unsubscribe(subscription=sub, source="test")
    decision = may_receive("jane@example.com", marketing=True, list=news)
    assert (decision.allowed, decision.code) == (False, "unsubscribed")
    services.subscription_create(recipient=jane, list=double, source=Source.FORM)
    assert may_receive("jane@example.com", marketing=True, list=double).code == "unconfirmed"
    # Transactional mail does not care about lists.
    assert may_receive("jane@example.com", marketing=False, list=news).allowed


def test_may_receive_rejects_malformed_address():
    decision = may_receive("nonsense", marketing=False)
    assert (decision.allowed, decision.code) == (False, "invalid_address")


def test_suppressed_addresses_keeps_its_contract():
    suppress("left@example.com", Suppression.Reason.UNSUBSCRIBE, Suppression.Scope.MARKETING)
    suppress("bounced@example.com", Suppression.Reason.HARD_BOUNCE, Suppression.Scope.ALL)
    addresses = ["Left <LEFT@example.com>", "bounced@example.com", "ok@example.com"]
    assert set(suppressed_addresses(addresses, marketing=True)) == {
        "left@example.com",
        "bounced@example.com",
    }
    assert set(suppressed_addresses(addresses, marketing=False)) == {"bounced@example.com"}


def test_suppression_is_widened_but_never_narrowed():
    suppress("x@example.com", Suppression.Reason.UNSUBSCRIBE, Suppression.Scope.MARKETING)
    suppress("x@example.com", Suppression.Reason.HARD_BOUNCE, Suppression.Scope.ALL)
    suppress("x@example.com", Suppression.Reason.UNSUBSCRIBE, Suppression.Scope.MARKETING)
    row = Suppression.objects.get(email="x@example.com")
    assert (row.reason, row.scope) == ("hard_bounce", "all")


def test_eligible_recipients_fans_out_once_per_person(make_list):
    news, offers, double = make_list("news"), make_list("offers"), make_list("d", double=True)
    people = {
        name: Recipient.objects.create(email=f"{name}@example.com")
        for name in ("both", "one", "left", "pending", "confirmed", "suppressed", "bounced")
    }
    now = timezone.now()

    def sub(name, lst, status=Subscription.Status.SUBSCRIBED, confirmed=False):
        Subscription.objects.create(
            recipient=people[name],
            list=lst,
            status=status,
            source=Source.IMPORT,
            confirmed_at=now if confirmed else None,
        )

    sub("both", news)
    sub("both", offers)
    sub("one", offers)
    sub("left", news, Subscription.Status.UNSUBSCRIBED)
    sub("pending", double, Subscription.Status.PENDING)
    sub("confirmed", double, confirmed=True)
    sub("suppressed", news)
    sub("bounced", news)
    suppress("suppressed@example.com", Suppression.Reason.UNSUBSCRIBE, Suppression.Scope.MARKETING)
    suppress("bounced@example.com", Suppression.Reason.HARD_BOUNCE, Suppression.Scope.ALL)

    emails = list(eligible_recipients([news, offers, double]).values_list("email", flat=True))
    assert emails == ["both@example.com", "one@example.com", "confirmed@example.com"]
    # A subscribed member of a double opt-in list who never confirmed gets nothing.
    Subscription.objects.filter(recipient=people["pending"]).update(status="subscribed")
    assert not eligible_recipients([double]).filter(email="pending@example.com").exists()
    # For non-marketing fan-out, a marketing-only suppression does not exclude.
    assert (
        eligible_recipients([news], marketing=False).filter(email="suppressed@example.com").exists()
    )


@pytest.mark.parametrize(
    "value",
    [
        "a@b.c",
        "User.Name+tag@Example.COM",
        "o'neil@x.io",
        "a!#$%&'*+/=?^_`{|}~-@b.c",
        "x@localhost",
        "a..b@c.d",
        ".a@b.c",
        "Name <A@B.C>",
        '"q u"@b.c',
        " a@b.c ",
        "a@[1.2.3.4]",
        "a@b.c, d@e.f",
        "ÄÖ@b.c",
        "a@",
        "",
    ],
)
def test_bare_address_takes_plain_addresses_as_the_email_parser_does(value):
    # The fast path for plain addresses must give what the RFC 5322 parser gives.
    mailbox = read_address(value)
    assert bare_address(value) == (mailbox.address.lower() if mailbox else "")
