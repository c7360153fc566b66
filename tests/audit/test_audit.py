"""Who did what: every staff action that changes mail or people is in the audit log with the
user and the time (and on the message's timeline where there is one); the system's own work
is not; the log is readable by managers only and changed by nobody."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from audit.models import AuditEntry
from audit.services import audit_record
from campaigns.models import Campaign
from queueing import sending_gate
from queueing.models import EventKind, Message, MessageEvent
from queueing.services import message_cancel
from recipients import services as recipient_services
from recipients.models import List, Source, Subscription
from tests.mailhub.test_issue11_rows import post_action

pytestmark = pytest.mark.django_db


def actions_by(username: str) -> list[str]:
    return list(
        AuditEntry.objects.filter(actor__username=username, actor_name=username)
        .order_by("created_at", "id")
        .values_list("action", flat=True)
    )


def test_message_actions_are_audited_and_on_the_timeline(
    client_for, queued_message, failed_message
) -> None:
    sender = client_for("sender")
    post_action(sender, "queueing_message", "cancel_messages", queued_message.pk)
    post_action(sender, "queueing_message", "retry_messages", failed_message.pk)
    sender.post(
        reverse("admin:queueing_message_compose"),
        {
            "from_email": "mailhub@example.com",
            "to": "x@example.org",
            "subject": "Hi",
            "text": "Hello",
            "priority": "transactional",
        },
    )
    assert actions_by("sender") == ["message.cancel", "message.retry", "message.create"]
    cancel = AuditEntry.objects.get(action="message.cancel")
    assert cancel.target_id == str(queued_message.pk) and cancel.created_at is not None
    cancelled = MessageEvent.objects.get(message=queued_message, kind=EventKind.CANCELLED)
    assert cancelled.detail == "cancelled in the admin by sender"
    assert cancelled.data == {"actor": "sender"}
    retried = MessageEvent.objects.filter(message=failed_message, kind=EventKind.QUEUED).last()
    assert retried.detail == "retried by hand by sender"
    composed = Message.objects.get(to=["x@example.org"])
    assert composed.events.get(kind=EventKind.QUEUED).data == {"actor": "sender"}


def test_campaign_actions_are_audited(client_for, campaign_in) -> None:
    sender = client_for("sender")
    draft = campaign_in(Campaign.Status.DRAFT)
    sender.post(reverse("admin:campaigns_campaign_test", args=[draft.pk]), {"to": "t@example.org"})
    sender.post(reverse("admin:campaigns_campaign_send", args=[draft.pk]), {"scheduled_at": ""})
    for action in ("pause", "resume", "cancel"):
        sender.post(reverse(f"admin:campaigns_campaign_{action}", args=[draft.pk]))
    assert [a for a in actions_by("sender") if a.startswith("campaign.")] == [
        "campaign.test_send",
        "campaign.send",
        "campaign.pause",
        "campaign.resume",
        "campaign.cancel",
    ]
    test_send = AuditEntry.objects.get(action="campaign.test_send")
    assert test_send.detail["to"] == ["t@example.org"]
    assert test_send.target_label == str(draft)


def test_consent_actions_and_imports_are_audited(client_for, person) -> None:
    sender, manager = client_for("sender"), client_for("manager")
    other = List.objects.create(slug="other", name="Other")
    news = Subscription.objects.get(recipient=person)
    post_action(sender, "recipients_recipient", "subscribe_to_list", person.pk, list=other.pk)
    post_action(
        sender, "recipients_recipient", "unsubscribe_from_list", person.pk, list=news.list_id
    )
    post_action(sender, "recipients_recipient", "suppress", person.pk, reason="manual", scope="all")
    post_action(manager, "recipients_recipient", "unsuppress", person.pk, reason="asked us")
    sender.post(
        reverse("admin:recipients_import"),
        {
            "file": SimpleUploadedFile("p.csv", b"email\na@example.com\n", "text/csv"),
            "list_slug": "other",
            "encoding": "utf-8-sig",
        },
    )
    assert actions_by("sender") == [
        "subscription.create",
        "subscription.unsubscribe",
        "suppression.create",
        "import.start",
    ]
    assert actions_by("manager") == ["suppression.lift"]
    lift = AuditEntry.objects.get(action="suppression.lift")
    assert lift.target_label == "jane@example.com" and lift.detail["reason"] == "asked us"


def test_sending_pause_and_resume_by_a_person_are_audited(user_for) -> None:
    manager = user_for("manager")
    sending_gate.pause_sending("checking the DNS", 60, actor=manager)
    sending_gate.resume_sending(actor=manager)
    assert actions_by("manager") == ["sending.pause", "sending.resume"]


def test_the_system_is_not_audited(queued_message, person) -> None:
    """Workers, webhooks, commands without a user and public pages pass no actor."""
    message_cancel(message=queued_message, reason="expired")
    recipient_services.suppression_create(email=person.email, reason="hard_bounce")
    recipient_services.suppression_delete(email=person.email, reason="cleared", source=Source.ADMIN)
    sending_gate.pause_sending("quota", 5)
    assert not AuditEntry.objects.exists()


def test_an_entry_outlives_its_actor(user_for) -> None:
    someone = user_for("someone")
    entry = audit_record(actor=someone, action="message.cancel", target_label="#1")
    someone.delete()
    entry.refresh_from_db()
    assert entry.actor is None and entry.actor_name == "someone"


def test_the_log_is_readable_by_managers_and_changed_by_nobody(client_for, user_for) -> None:
    sender = user_for("alice")
    audit_record(actor=sender, action="campaign.send", target_label="Spring")
    audit_record(actor=sender, action="message.cancel", target_label="#7")
    manager = client_for("manager")
    url = reverse("admin:audit_auditentry_changelist")
    page = manager.get(url, {"action": "campaign.send"}).content.decode()
    assert "Spring" in page and "#7" not in page
    page = manager.get(url, {"q": "#7"}).content.decode()
    assert "#7" in page and "Spring" not in page
    entry = AuditEntry.objects.get(action="campaign.send")
    change = reverse("admin:audit_auditentry_change", args=[entry.pk])
    manager.post(change, {"action": "nothing"})
    assert (
        manager.post(reverse("admin:audit_auditentry_delete", args=[entry.pk])).status_code == 403
    )
    assert manager.get(reverse("admin:audit_auditentry_add")).status_code == 403
    entry.refresh_from_db()
    assert entry.action == "campaign.send"
    superuser = client_for("superuser")
    assert (
        superuser.post(reverse("admin:audit_auditentry_delete", args=[entry.pk])).status_code == 403
    )


def test_editing_a_suppression_is_audited_and_for_managers_only(client_for, suppressed) -> None:
    url = reverse("admin:recipients_suppression_change", args=[suppressed.pk])
    data = {"reason": "complaint", "scope": "marketing", "note": "narrowed"}
    assert client_for("sender").post(url, data).status_code == 403
    suppressed.refresh_from_db()
    assert suppressed.scope == "all"
    assert client_for("manager").post(url, data).status_code == 302
    suppressed.refresh_from_db()
    assert suppressed.scope == "marketing"
    entry = AuditEntry.objects.get(action="suppression.change")
    assert entry.actor_name == "manager" and "scope" in entry.detail["changed"]
