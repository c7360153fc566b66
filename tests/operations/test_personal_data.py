"""forget_person and export_person (and the admin's Forget action): after a forget no row of
the tables it touches holds the address, mail to it is still refused, and the audit log says
it was done without the address."""

import json
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import models
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEntry
from queueing.models import (
    Message,
    MessageAddress,
    MessageAttachment,
    MessageEvent,
    MessageStatus,
    ProviderWebhookEvent,
    WebhookDelivery,
)
from queueing.services import AttachmentInput, message_create
from recipients.forgotten import forgotten_label
from recipients.models import (
    List,
    Recipient,
    SoftBounce,
    Subscription,
    SubscriptionEvent,
    Suppression,
    SuppressionReview,
)
from recipients.selectors import may_receive, suppressed_addresses
from recipients.services import suppression_create

pytestmark = pytest.mark.django_db(transaction=True)
ADDRESS = "ann@example.com"
TOUCHED = (
    Message, MessageAddress, MessageEvent, MessageAttachment, ProviderWebhookEvent, WebhookDelivery, Recipient,
    Subscription, SubscriptionEvent, Suppression, SoftBounce, SuppressionReview, AuditEntry,
)  # fmt: skip
TEXT_FIELDS = (models.CharField, models.TextField, models.JSONField)


def rows_holding(text: str) -> dict[str, int]:
    """{table: rows} of the touched tables with `text` in any text or JSON column."""
    found = {}
    for model in TOUCHED:
        query = models.Q()
        for field in model._meta.concrete_fields:
            if isinstance(field, TEXT_FIELDS):
                query |= models.Q(**{f"{field.name}__icontains": text})
        if count := model.objects.filter(query).count():
            found[model._meta.db_table] = count
    return found


def run(name: str, *args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(name, *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def ann(sandbox, deliver_all) -> Recipient:
    """Ann, with everything mailhub can hold about a person, and Bob beside her."""
    staff = User.objects.create_user("staff", is_staff=True)
    news = List.objects.create(name="News", slug="news")
    ann = Recipient.objects.create(email=ADDRESS, first_name="Ann")
    Subscription.objects.create(recipient=ann, list=news, status="subscribed", source="admin")
    bob = Recipient.objects.create(email="bob@example.com")
    sent = message_create(
        to=["Ann Smith <Ann@Example.com>"], cc=["bob@example.com"], subject="For Ann",
        text="Dear Ann", recipient_id=ann.pk, headers={"X-Person": "Ann@Example.com"},
        attachments=[AttachmentInput("ann.txt", b"about ann", "text/plain")],
    )  # fmt: skip
    message_create(to=["bob@example.com"], subject="For Bob", text="Dear Bob", recipient_id=bob.pk)
    message_create(to=["anne@example.com"], subject="For Anne", text="Dear Anne")
    # Ann in copy: her address is a search row (MessageAddress), not the message's to_address.
    message_create(to=["bob@example.com"], cc=["ANN@example.com"], subject="Ann cc", text="Hi")
    deliver_all()
    sent.refresh_from_db()
    body = {"type": "email.bounced", "data": {"email_id": sent.provider_id, "to": [ADDRESS]}}
    ProviderWebhookEvent.objects.create(
        svix_id="msg_1", type="email.bounced", body=body, message=sent, processed_at=timezone.now()
    )
    suppression_create(email=ADDRESS, reason="unsubscribe", scope="marketing", created_by=staff)
    SoftBounce.objects.create(email=ADDRESS, raw_event_id=1, occurred_at=timezone.now())
    SuppressionReview.objects.create(
        raw_event_id=2, kind="bounced", reason="hard_bounce", occurred_at=timezone.now(),
        addresses=[ADDRESS, "bob@example.com"], detail=f"550 {ADDRESS} unknown",
    )  # fmt: skip
    assert rows_holding(ADDRESS)  # the search sees it before
    return ann


def test_forget_erases_every_trace_and_keeps_the_address_blocked(ann, sandbox, deliver_all):
    out, _ = run("forget_person", "  ANN@example.com ")
    assert "Forgotten:" in out and "1 recipient" in out and "stays refused" in out
    assert rows_holding(ADDRESS) == {}
    assert not Recipient.objects.filter(pk=ann.pk).exists()
    # The others are untouched.
    assert Message.objects.get(subject="For Bob").to == ["bob@example.com"]
    assert Message.objects.get(subject="For Anne").text == "Dear Anne"
    assert SuppressionReview.objects.get().addresses == ["[erased]", "bob@example.com"]
    # The erased message keeps its status, its timeline's kinds and its counters.
    assert not Message.objects.filter(subject="Ann cc").exists()  # erased too
    erased = Message.objects.filter(recipient__isnull=True, to=[]).order_by("pk").first()
    assert erased.status == MessageStatus.SENT and erased.events.exists()
    # The suppression keeps blocking, all mail now (it was marketing only), by hash.
    suppression = Suppression.objects.get()
    assert suppression.email == forgotten_label(ADDRESS) and suppression.scope == "all"
    assert suppressed_addresses(["Ann <ANN@example.com>"], marketing=False)
    assert may_receive(ADDRESS, marketing=False).code == "suppressed"
    again = message_create(to=[ADDRESS], subject="Hello again", text="Hi")
    deliver_all()
    again.refresh_from_db()
    assert again.status == MessageStatus.SUPPRESSED
    assert sandbox.emails(to=ADDRESS) == [] or all(
        e.get("subject") != "Hello again" for e in sandbox.emails(to=ADDRESS)
    )
    # Recorded, without the address.
    entry = AuditEntry.objects.get(action="person.forget")
    assert entry.actor_name.startswith("command forget_person (")
    assert ADDRESS not in json.dumps(entry.detail) + entry.target_label
    assert entry.detail["suppression"] == forgotten_label(ADDRESS)


def test_forget_refuses_malformed_addresses_and_says_when_nothing_is_held(ann):
    for bad in ("not-an-address", "Ann <ann@example.com>", ""):
        with pytest.raises(CommandError, match="Not an email address"):
            run("forget_person", bad)
    out, _ = run("forget_person", "nobody@example.com")
    assert "Nothing is held about this address" in out
    assert Recipient.objects.filter(pk=ann.pk).exists()
    with pytest.raises(CommandError):
        run("forget_person")  # the address is required


def test_forget_refuses_while_a_message_to_them_is_being_sent(ann):
    message = message_create(to=[ADDRESS], subject="In flight", text="x")
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.SENDING)
    with pytest.raises(CommandError, match="being sent right now"):
        run("forget_person", ADDRESS)
    assert Recipient.objects.filter(pk=ann.pk).exists()
    assert Message.objects.get(pk=message.pk).to == [ADDRESS]


def test_export_writes_everything_held_as_json(ann, tmp_path):
    out, _ = run("export_person", ADDRESS)
    data = json.loads(out)
    assert data["recipient"]["first_name"] == "Ann"
    assert [s["list__slug"] for s in data["recipient"]["subscriptions"]] == ["news"]
    assert [m["subject"] for m in data["messages"]] == ["Ann cc", "For Ann"]  # newest first
    assert data["messages"][0]["events"] and data["webhook_events"][0]["type"] == "email.bounced"
    assert data["suppressions"][0]["reason"] == "unsubscribe" and data["soft_bounces"]
    assert data["suppression_reviews"][0]["kind"] == "bounced"
    target = tmp_path / "ann.json"
    out, _ = run("export_person", ADDRESS, "--output", str(target), "--max-messages", "1")
    written = json.loads(target.read_text())
    assert written["messages_truncated"] is True and written["messages_total"] == 2
    assert [m["subject"] for m in written["messages"]] == ["Ann cc"]
    with pytest.raises(CommandError, match="the file exists"):
        run("export_person", ADDRESS, "--output", str(target))
    with pytest.raises(CommandError, match="Not an email address"):
        run("export_person", "ann@")
    _, err = run("export_person", "nobody@example.com")
    assert "Nothing is held" in err


def test_the_admin_action_asks_for_confirmation_first(ann, django_user_model):
    from django.contrib.auth.models import Group

    manager = django_user_model.objects.create_user("boss", is_staff=True)
    manager.groups.add(Group.objects.get(name="manager"))
    client = Client()
    client.force_login(manager)
    url = reverse("admin:recipients_recipient_changelist")
    post = {"action": "forget", "_selected_action": [ann.pk], "index": 0}
    page = client.post(url, post)
    assert page.status_code == 200 and b"Forget these people" in page.content
    assert Recipient.objects.filter(pk=ann.pk).exists()
    client.post(url, {**post, "apply": "1"})  # not confirmed: the page again
    assert Recipient.objects.filter(pk=ann.pk).exists()
    client.post(url, {**post, "apply": "1", "confirm": "on"})
    assert rows_holding(ADDRESS) == {}
    assert AuditEntry.objects.get(action="person.forget").actor == manager
