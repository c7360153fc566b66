"""The worker consults the suppression list before every send (through the real queue)."""

import pytest

from queueing.models import Message, MessageStatus
from queueing.services import message_create
from recipients import services
from recipients.models import Recipient, Source, Suppression
from recipients.unsubscribe import one_click_unsubscribe_url

pytestmark = pytest.mark.django_db(transaction=True)


def test_worker_skips_a_suppressed_address(sandbox, deliver_all):
    services.suppression_create(email="Bounced@Example.com", reason=Suppression.Reason.HARD_BOUNCE)
    blocked = message_create(to="bounced@example.com", subject="Reset", text="Your code: 1")
    allowed = message_create(to="fine@example.com", subject="Reset", text="Your code: 2")
    deliver_all()
    blocked.refresh_from_db()
    allowed.refresh_from_db()
    assert blocked.status == MessageStatus.SUPPRESSED
    assert "Hard bounce" in blocked.last_error
    assert allowed.status == MessageStatus.SENT
    assert [e["request"]["to"] for e in sandbox.emails()] == [["fine@example.com"]]


def test_unsubscribe_takes_effect_for_marketing_mail_not_yet_sent(
    sandbox, deliver_all, client, make_list
):
    jane = Recipient.objects.create(email="jane@example.com")
    services.subscription_create(recipient=jane, list=make_list("news"), source=Source.API)
    newsletter = message_create(
        to=jane.email, subject="News", text="Hello", priority="bulk", recipient_id=jane.pk
    )
    receipt = message_create(to=jane.email, subject="Receipt", text="Thanks", recipient_id=jane.pk)
    path = one_click_unsubscribe_url(jane).split("://", 1)[1].split("/", 1)[1]
    assert client.post("/" + path, {"List-Unsubscribe": "One-Click"}).status_code == 200
    deliver_all()
    assert Message.objects.get(pk=newsletter.pk).status == MessageStatus.SUPPRESSED
    assert Message.objects.get(pk=receipt.pk).status == MessageStatus.SENT
    assert [e["request"]["subject"] for e in sandbox.emails()] == ["Receipt"]
