"""Every error answer in Resend's reference, by name and status together, through the real
worker: the sandbox gives the answer on demand, mailhub's worker sends, and the outcome is read
from the rows, the sending pause and the sender domain pauses (issue 11, item 8)."""

import importlib

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEntry
from queueing import sending_gate
from queueing.models import (
    BatchStatus,
    EventKind,
    FailureCode,
    Message,
    MessageStatus,
    SendBatch,
    SenderDomainPause,
)
from queueing.reconciler import reconcile
from queueing.resend import errors
from queueing.sender_pauses import sender_domain_pause_lift
from queueing.services import message_create, messages_create_many
from tests.conftest import run_worker_burst

pytestmark = pytest.mark.django_db(transaction=True)

SENDER = "Acme News <news@acme.example>"
UNVERIFIED = "unverified.example"

# What mailhub does with each answer of Resend's reference.
KEY = "pauses sending: the key"  # fleet-wide pause naming RESEND_API_KEY; nothing fails
CONFIG = "pauses sending: the URL"  # fleet-wide pause naming RESEND_API_URL; nothing fails
DOMAIN = "fails, pauses its domain"  # fails with Resend's text; only its domain is held
REJECTED = "fails"  # fails with Resend's text; nothing pauses
SENDER_ONLY = "fails for its sender"  # sender_refused; nothing pauses (one message's from)
CONFLICT = "fails for a person"  # idempotency conflict: never sent again under another key
AGAIN_SOON = "released briefly"  # back to queued in seconds, no attempt spent
RATE = "rate limited"  # the shared limiter waits; no attempt spent
QUOTA = "pauses sending: the quota"
TRANSIENT = "retried"  # an attempt spent, tried again after a backoff

EXPECTED = {
    ("invalid_idempotency_key", 400): REJECTED,
    ("validation_error", 400): REJECTED,
    ("validation_error", 401): KEY,
    ("validation_error", 403): DOMAIN,
    ("validation_error", 422): REJECTED,
    ("missing_api_key", 401): KEY,
    ("restricted_api_key", 401): KEY,
    ("invalid_api_key", 403): KEY,
    ("not_found", 404): CONFIG,
    ("method_not_allowed", 405): CONFIG,
    ("invalid_idempotent_request", 409): CONFLICT,
    ("concurrent_idempotent_requests", 409): AGAIN_SOON,
    ("invalid_attachment", 422): REJECTED,
    ("invalid_from_address", 422): SENDER_ONLY,
    ("invalid_access", 422): REJECTED,
    ("invalid_parameter", 422): REJECTED,
    ("invalid_region", 422): REJECTED,
    ("missing_required_field", 422): REJECTED,
    ("rate_limit_exceeded", 429): RATE,
    ("daily_quota_exceeded", 429): QUOTA,
    ("monthly_quota_exceeded", 429): QUOTA,
    ("security_error", 451): REJECTED,
    ("application_error", 500): TRANSIENT,
    ("internal_server_error", 500): TRANSIENT,
}


def send(from_email: str = SENDER, to: str = "ada@example.com") -> Message:
    return message_create(from_email=from_email, to=[to], subject="Hello", text="Hi")


def work() -> None:
    """Drain, then let the reconciler ask for drains of due work (a split batch's members,
    a released message), and drain again: what running workers do."""
    run_worker_burst()
    reconcile()
    run_worker_burst()


def api_requests(sandbox) -> list[dict]:
    return [r for r in sandbox.requests() if r["path"].startswith("/emails")]


def test_the_table_covers_every_answer_of_resends_reference():
    assert set(EXPECTED) == set(errors.ANSWERS)
    assert len(errors.ANSWERS) == 24


@pytest.mark.parametrize(("name", "status"), sorted(EXPECTED))
def test_each_answer_of_resends_reference(sandbox, name, status):
    sandbox.answer(name, status, count=1)
    message = send()
    before = timezone.now()
    run_worker_burst()
    message.refresh_from_db()
    text = errors.DEFAULT_MESSAGES[(name, status)]
    expected = EXPECTED[(name, status)]
    pause = sending_gate.current_pause()
    domain_paused = SenderDomainPause.objects.filter(lifted_at__isnull=True)
    # Exactly one call was made, and the sandbox answered it as asked.
    assert [r["status"] for r in api_requests(sandbox)] == [status]
    assert sandbox.emails() == []

    if expected in (KEY, CONFIG, QUOTA):
        assert message.status == MessageStatus.QUEUED and message.attempts == 0
        assert message.failure_code == ""
        word = {KEY: "RESEND_API_KEY", CONFIG: "RESEND_API_URL", QUOTA: "quota"}[expected]
        assert pause is not None and word in pause.reason and name in pause.reason
        assert not domain_paused.exists()
    elif expected in (DOMAIN, SENDER_ONLY, REJECTED, CONFLICT):
        assert message.status == MessageStatus.FAILED and message.attempts == 1
        code = {
            DOMAIN: FailureCode.SENDER_REFUSED,
            SENDER_ONLY: FailureCode.SENDER_REFUSED,
            REJECTED: FailureCode.REJECTED,
            CONFLICT: FailureCode.IDEMPOTENCY_CONFLICT,
        }[expected]
        assert message.failure_code == code
        assert text in message.last_error and name in message.last_error  # Resend's words
        assert pause is None  # nothing pauses fleet-wide
        if expected == DOMAIN:
            held = domain_paused.get()
            assert held.domain == "acme.example" and text in held.reason
            assert held.message_id == message.pk
        else:
            assert not domain_paused.exists()
    elif expected in (AGAIN_SOON, RATE):
        assert message.status == MessageStatus.QUEUED and message.attempts == 0
        assert message.failure_code == "" and pause is None and not domain_paused.exists()
        wait = (message.next_attempt_at - before).total_seconds()
        assert 0.5 <= wait <= 5
        if expected == RATE:
            assert EventKind.RATE_LIMITED in message.events.values_list("kind", flat=True)
        else:
            # Asked again once the first request is done: it goes, on its first attempt.
            Message.objects.filter(pk=message.pk).update(next_attempt_at=None)
            work()
            message.refresh_from_db()
            assert message.status == MessageStatus.SENT and message.attempts == 1
    else:
        assert expected == TRANSIENT
        assert message.status == MessageStatus.QUEUED and message.attempts == 1
        assert text in message.last_error and message.next_attempt_at > before
        assert pause is None and not domain_paused.exists()


def test_403_validation_error_no_longer_pauses_all_sending(sandbox):
    """The issue's paragraph: an unverified domain was treated like a revoked key, so all
    sending paused for 60 s, again and again, and the message never failed."""
    sandbox.configure(unverified_domains=[UNVERIFIED])
    refused = send(from_email=f"news@{UNVERIFIED}")
    run_worker_burst()
    good = send()
    run_worker_burst()
    refused.refresh_from_db()
    good.refresh_from_db()
    assert sending_gate.current_pause() is None
    assert refused.status == MessageStatus.FAILED
    assert refused.failure_code == FailureCode.SENDER_REFUSED
    assert f"The {UNVERIFIED} domain is not verified" in refused.last_error
    assert good.status == MessageStatus.SENT


def test_451_security_error_fails_rather_than_retrying(sandbox):
    sandbox.answer("security_error", 451, count=None)
    message = send()
    run_worker_burst()
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED and message.failure_code == FailureCode.REJECTED
    assert message.next_attempt_at is None and message.attempts == 1
    assert "security issue" in message.last_error
    assert len(api_requests(sandbox)) == 1


def test_a_refused_batch_is_split_and_the_refusal_lands_on_its_member(sandbox):
    sandbox.configure(unverified_domains=[UNVERIFIED])
    fields = [
        {"from_email": SENDER, "to": ["a@example.com"], "subject": "s", "text": "t"},
        {"from_email": SENDER, "to": ["b@example.com"], "subject": "s", "text": "t"},
        {
            "from_email": f"Bad <news@{UNVERIFIED}>",
            "to": ["c@example.com"],
            "subject": "s",
            "text": "t",
        },
        {"from_email": SENDER, "to": ["d@example.com"], "subject": "s", "text": "t"},
    ]
    messages = messages_create_many(fields)
    work()
    statuses = [Message.objects.get(pk=m.pk).status for m in messages]
    assert statuses == ["sent", "sent", "failed", "sent"]
    assert SendBatch.objects.get().status == BatchStatus.SPLIT
    bad = Message.objects.get(pk=messages[2].pk)
    assert bad.failure_code == FailureCode.SENDER_REFUSED
    assert f"The {UNVERIFIED} domain is not verified" in bad.last_error
    assert list(SenderDomainPause.objects.values_list("domain", flat=True)) == [UNVERIFIED]
    assert sending_gate.current_pause() is None
    # One batch call, refused with 403; then each member alone.
    calls = [(r["path"], r["status"]) for r in api_requests(sandbox)]
    assert calls[0] == ("/emails/batch", 403)
    assert sorted(calls[1:]) == [("/emails", 200)] * 3 + [("/emails", 403)]
    assert sorted(e["request"]["to"][0] for e in sandbox.emails()) == [
        "a@example.com",
        "b@example.com",
        "d@example.com",
    ]


def test_a_paused_domain_holds_its_messages_until_staff_lift_it(
    sandbox, clean_redis, client, django_user_model
):
    sandbox.configure(unverified_domains=[UNVERIFIED])
    first = send(from_email=f"news@{UNVERIFIED}")
    run_worker_burst()
    first.refresh_from_db()
    assert first.status == MessageStatus.FAILED
    pause = SenderDomainPause.objects.get()
    assert (pause.domain, pause.lifted_at, pause.message_id) == (UNVERIFIED, None, first.pk)

    # Later messages from that domain are held, not sent into the same refusal; others go.
    held = [
        send(from_email=f"Team <team@{UNVERIFIED.upper()}>", to=f"p{i}@example.com")
        for i in range(2)
    ]
    other = send()
    calls_before = len(api_requests(sandbox))
    run_worker_burst()
    other.refresh_from_db()
    assert other.status == MessageStatus.SENT
    assert len(api_requests(sandbox)) == calls_before + 1  # only `other` was sent
    for message in held:
        message.refresh_from_db()
        assert (message.status, message.attempts, message.failure_code) == ("queued", 0, "")
        assert message.from_domain == UNVERIFIED

    # The pause is in the database: a flushed Redis and a reconciler pass change nothing.
    clean_redis.flushdb()
    reconcile()
    run_worker_burst()
    assert {m.status for m in Message.objects.filter(pk__in=[m.pk for m in held])} == {"queued"}
    assert sending_gate.current_pause() is None

    # Shown in the admin, with Resend's reason.
    url = reverse("admin:queueing_senderdomainpause_changelist")
    viewer = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_senderdomainpause"))
    client.force_login(viewer)
    page = client.get(url).content.decode()
    assert UNVERIFIED in page and "is not verified" in page
    # A viewer cannot lift it: the action is not offered, and a direct POST changes nothing.
    assert 'value="lift"' not in page
    client.post(url, {"action": "lift", ACTION_CHECKBOX_NAME: [pause.pk]})
    assert SenderDomainPause.objects.get().lifted_at is None

    # Staff with the change permission lift it once the domain is verified at Resend.
    manager = django_user_model.objects.create_user("manager", password="pw", is_staff=True)
    manager.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["view_senderdomainpause", "change_senderdomainpause"]
        )
    )
    client.force_login(manager)
    assert 'value="lift"' in client.get(url).content.decode()
    sandbox.configure(unverified_domains=[])
    response = client.post(url, {"action": "lift", ACTION_CHECKBOX_NAME: [pause.pk]})
    assert response.status_code == 302
    pause.refresh_from_db()
    assert pause.lifted_at is not None and pause.lifted_by == manager
    entry = AuditEntry.objects.get(action="sender_domain.lift")
    assert (entry.actor, entry.target_label) == (manager, UNVERIFIED)
    run_worker_burst()
    for message in held:
        message.refresh_from_db()
        assert message.status == MessageStatus.SENT and message.attempts == 1
    # The first, failed, message stays failed: a person retries it if they want it sent.
    first.refresh_from_db()
    assert first.status == MessageStatus.FAILED


def test_pausing_and_lifting_a_domain_is_idempotent(sandbox):
    sandbox.answer("validation_error", 403, count=None)
    first, second = send(), send(to="bob@example.com")
    work()  # one batch, refused: split, and each member goes alone
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.failure_code == FailureCode.SENDER_REFUSED
    # The second was either held by the pause, or claimed before the first was recorded and
    # refused the same way; either way there is one pause, not two.
    assert (second.status, second.failure_code) in {
        (MessageStatus.QUEUED, ""),
        (MessageStatus.FAILED, FailureCode.SENDER_REFUSED),
    }
    assert SenderDomainPause.objects.filter(lifted_at__isnull=True).count() == 1
    assert sender_domain_pause_lift(domain="ACME.example") is True
    assert sender_domain_pause_lift(domain="acme.example") is False
    assert SenderDomainPause.objects.get().lifted_by is None


def test_the_admin_links_a_pause_to_the_messages_it_holds(sandbox, client, django_user_model):
    SenderDomainPause.objects.create(domain=UNVERIFIED, reason="403 validation_error: nope")
    held = send(from_email=f"news@{UNVERIFIED}")
    other = send()
    client.force_login(django_user_model.objects.create_superuser("su", "su@example.com", "pw"))
    page = client.get(reverse("admin:queueing_senderdomainpause_changelist")).content.decode()
    assert f"from_domain={UNVERIFIED}" in page
    listed = client.get(
        reverse("admin:queueing_message_changelist"),
        {"status__exact": "queued", "from_domain": UNVERIFIED},
    )
    assert listed.status_code == 200
    assert [m.pk for m in listed.context["cl"].result_list] == [held.pk]
    assert other.pk not in [m.pk for m in listed.context["cl"].result_list]
    # Pauses come from Resend's answers and stay as a record: no add, no delete.
    assert client.get(reverse("admin:queueing_senderdomainpause_add")).status_code == 403


def test_every_new_row_knows_its_from_domain_and_the_migration_fills_old_ones(sandbox):
    from django.apps import apps

    from queueing.fanout import messages_fan_out
    from queueing.models import Priority, Source
    from recipients.models import Recipient

    made = send(from_email='"News, Weekly" <News@Mail.Acme.Example>')
    assert made.from_domain == "mail.acme.example"
    Recipient.objects.bulk_create(Recipient(email=f"r{i}@example.com") for i in range(3))
    prototype = Message(
        from_email="Promo <promo@Promo.Example>",
        to=[],
        subject="s",
        text="t",
        priority=Priority.BULK,
        source=Source.CAMPAIGN,
    )
    messages_fan_out(
        prototype=prototype,
        recipients=Recipient.objects.order_by("id"),
        size=10,
        key_prefix="fan-",
    )
    fanned = Message.objects.filter(idempotency_key__startswith="fan-")
    assert sorted(fanned.values_list("from_domain", flat=True)) == ["promo.example"] * 3

    # Rows from before the column: filled by 0006, one UPDATE per distinct sender.
    Message.objects.update(from_domain="")
    migration = importlib.import_module("queueing.migrations.0006_sender_domain_pauses")
    migration.fill_from_domain(apps, None)
    assert Message.objects.get(pk=made.pk).from_domain == "mail.acme.example"
    assert set(fanned.values_list("from_domain", flat=True)) == {"promo.example"}
