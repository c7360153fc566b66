"""Stored webhooks applied by real RQ workers (queue `events`): status by rank, timeline,
lookups, unknown types and emails, listeners, errors and reprocessing, the reconciler."""

import uuid

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from queueing import claims, hooks, recording
from queueing.models import (
    EventKind,
    Message,
    MessageStatus,
    Priority,
    ProviderWebhookEvent,
)
from queueing.outcomes import Sent
from queueing.provider_events.reprocess import webhook_events_reprocess
from queueing.reconciler import reconcile
from queueing.services import message_create
from tests.conftest import run_worker_burst
from tests.events.conftest import event

pytestmark = pytest.mark.django_db(transaction=True)
S = MessageStatus


@pytest.fixture
def sent(sandbox, deliver_all) -> Message:
    """A message Resend (the sandbox) accepted, with its provider id."""
    message = message_create(to=["Ada <Ada@Example.com>"], subject="Welcome", text="Hi")
    deliver_all()
    message.refresh_from_db()
    assert message.status == S.SENT and message.provider_id
    return message


def status(message: Message) -> str:
    return Message.objects.get(pk=message.pk).status


def provider_lines(message: Message) -> list[tuple[str, str]]:
    return list(
        message.events.filter(kind=EventKind.PROVIDER).values_list("provider_event", "detail")
    )


EXPECTED = {
    "sent": S.SENT,
    "delivered": S.DELIVERED,
    "delivery_delayed": S.DELIVERY_DELAYED,
    "bounced": S.BOUNCED,
    "complained": S.COMPLAINED,
    "opened": S.OPENED,
    "clicked": S.CLICKED,
    "failed": S.FAILED,
    "suppressed": S.SUPPRESSED,
    "scheduled": S.SENT,  # on the timeline only: mailhub never schedules at Resend
}


@pytest.mark.parametrize("kind", list(EXPECTED))
def test_each_event_type_lands_on_the_timeline_and_moves_the_status(
    sent, post_webhook, heard, kind
):
    extra = {
        "bounced": {"bounce": {"type": "Permanent", "subType": "General", "message": "gone",
                               "diagnosticCode": ["smtp; 550 5.1.1 user unknown"]}},
        "clicked": {"click": {"link": "https://example.com/a", "ipAddress": "1.2.3.4"}},
        "failed": {"failed": {"reason": "reached_daily_quota"}},
        "suppressed": {"suppressed": {"reason": "previous_bounce", "type": "Suppressed"}},
    }.get(kind, {})  # fmt: skip
    assert post_webhook(event(kind, email_id=sent.provider_id, **extra)).status_code == 200
    run_worker_burst()
    assert status(sent) == EXPECTED[kind]
    [(provider_event, detail)] = provider_lines(sent)
    assert provider_event == f"email.{kind}"
    assert ProviderWebhookEvent.objects.get().processed_at is not None
    assert ProviderWebhookEvent.objects.get().message_id == sent.pk
    [[announced]] = heard
    assert announced.kind == kind and announced.message_id == sent.pk
    assert announced.addresses == ("ada@example.com",)
    if kind == "bounced":
        assert (announced.bounce_type, announced.bounce_subtype) == ("Permanent", "General")
        assert "550 5.1.1" in announced.diagnostic and "550 5.1.1" in detail
    if kind == "clicked":
        assert announced.link == "https://example.com/a" and "https://example.com/a" in detail
    if kind == "failed":
        message = Message.objects.get(pk=sent.pk)
        assert message.failure_code == "provider_failed"
        assert "reached_daily_quota" in message.last_error


def test_duplicates_have_one_effect(sent, post_webhook, heard):
    body = event("opened", email_id=sent.provider_id)
    for _ in range(5):
        post_webhook(body, svix_id="msg_same")
    run_worker_burst()
    assert len(provider_lines(sent)) == 1
    assert sum(len(batch) for batch in heard) == 1


def test_out_of_order_delivered_after_opened_and_sent_after_delivered_move_nothing_back(
    sent, post_webhook
):
    post_webhook(event("opened", email_id=sent.provider_id))
    run_worker_burst()
    assert status(sent) == S.OPENED
    post_webhook(event("delivered", email_id=sent.provider_id))
    post_webhook(event("sent", email_id=sent.provider_id))
    run_worker_burst()
    assert status(sent) == S.OPENED
    assert [e for e, _ in provider_lines(sent)] == ["email.opened", "email.delivered", "email.sent"]
    post_webhook(event("bounced", email_id=sent.provider_id))
    post_webhook(event("clicked", email_id=sent.provider_id))
    run_worker_burst()
    assert status(sent) == S.BOUNCED  # bounced outranks clicked, whatever the order


def test_opened_before_delivered_counts_the_message_as_delivered_for_listeners(
    sent, post_webhook, heard
):
    post_webhook(event("opened", email_id=sent.provider_id))
    run_worker_burst()
    post_webhook(event("delivered", email_id=sent.provider_id))
    run_worker_burst()
    opened, delivered = (e for batch in heard for e in batch)
    assert opened.kinds_before == frozenset() and opened.first_of_kind
    assert opened.status == S.OPENED and opened.status_changed
    assert delivered.kinds_before == {"opened"} and delivered.first_of_kind
    assert delivered.status == S.OPENED and not delivered.status_changed


def test_a_listener_gets_every_field_in_one_batch_inside_the_transaction(sent, post_webhook, heard):
    post_webhook(event("delivered", email_id=sent.provider_id))
    post_webhook(
        event(
            "bounced",
            email_id=sent.provider_id,
            to=["Ada <ADA@example.com>"],
            bounce={"type": "Transient", "subType": "MailboxFull", "message": "full"},
        )
    )
    post_webhook(event("opened", email_id="re_nobody_knows"))
    run_worker_burst()
    [batch] = heard
    delivered, bounced, unknown = batch
    raw = list(ProviderWebhookEvent.objects.order_by("pk").values_list("pk", flat=True))
    assert [e.raw_event_id for e in batch] == raw
    assert delivered.type == "email.delivered" and delivered.kinds_before == frozenset()
    assert delivered.occurred_at is not None and delivered.data["email_id"] == sent.provider_id
    assert (delivered.campaign_id, delivered.recipient_id, delivered.is_test) == (None, None, False)
    assert bounced.kinds_before == {"delivered"}
    assert (bounced.status, bounced.status_changed) == (S.BOUNCED, True)
    assert (bounced.bounce_type, bounced.bounce_subtype, bounced.diagnostic) == (
        "Transient",
        "MailboxFull",
        "full",
    )
    assert bounced.addresses == ("ada@example.com",)
    assert unknown.message_id is None and unknown.status == "" and not unknown.status_changed


def test_a_listener_that_raises_rolls_its_batch_back_and_the_event_waits_for_reprocessing(
    sent, post_webhook, heard
):
    calls = []

    def flaky(events):
        calls.append(events)
        if len(calls) == 1:
            raise RuntimeError("statistics table locked")

    hooks.register_event_listener("flaky", flaky)
    try:
        post_webhook(event("delivered", email_id=sent.provider_id))
        run_worker_burst()
        row = ProviderWebhookEvent.objects.get()
        assert row.processed_at is None and row.attempts == 1
        assert "flaky" in row.error and "statistics table locked" in row.error
        # Nothing of it stayed: not the status, not the timeline, not the other listener's.
        assert status(sent) == S.SENT and provider_lines(sent) == []
        report = webhook_events_reprocess(failed=True)
        assert (report.processed, report.failed) == (1, 0)
    finally:
        hooks._event_listeners.pop("flaky", None)
    row.refresh_from_db()
    assert row.processed_at is not None and row.error == ""
    assert status(sent) == S.DELIVERED and len(provider_lines(sent)) == 1


def test_one_bad_event_does_not_hold_back_its_batch(sent, post_webhook):
    def picky(events):
        if any(e.kind == "opened" for e in events):
            raise ValueError("cannot count opens")

    hooks.register_event_listener("picky", picky)
    try:
        post_webhook(event("delivered", email_id=sent.provider_id))
        post_webhook(event("opened", email_id=sent.provider_id))
        post_webhook(event("clicked", email_id=sent.provider_id))
        run_worker_burst()
    finally:
        hooks._event_listeners.pop("picky", None)
    types = dict(ProviderWebhookEvent.objects.values_list("type", "error"))
    assert types["email.delivered"] == "" and types["email.clicked"] == ""
    assert "cannot count opens" in types["email.opened"]
    assert status(sent) == S.CLICKED


def test_the_command_reprocesses_by_id_and_refuses_processed_ones(sent, post_webhook, capsys):
    hooks.register_event_listener("broken", lambda events: 1 / 0)
    try:
        post_webhook(event("delivered", email_id=sent.provider_id))
        run_worker_burst()
        row = ProviderWebhookEvent.objects.get()
        with pytest.raises(CommandError, match="1 event"):
            call_command("reprocess_webhook_events", "--id", str(row.pk))
    finally:
        hooks._event_listeners.pop("broken", None)
    call_command("reprocess_webhook_events", "--failed", "--since", "2000-01-01T00:00Z")
    assert "1 event(s) processed" in capsys.readouterr().out
    call_command("reprocess_webhook_events", "--id", str(row.pk))
    assert "processed before and were left alone" in capsys.readouterr().out
    assert len(provider_lines(sent)) == 1
    with pytest.raises(CommandError, match="not a date"):
        call_command("reprocess_webhook_events", "--since", "yesterday")


def test_unknown_type_is_stored_shown_and_never_an_error(sent, post_webhook, heard):
    post_webhook(event("email.teleported", email_id=sent.provider_id))
    post_webhook(event("contact.created"))
    run_worker_burst()
    assert ProviderWebhookEvent.objects.filter(processed_at__isnull=False, error="").count() == 2
    [(provider_event, detail)] = provider_lines(sent)
    assert provider_event == "email.teleported" and "does not know" in detail
    assert status(sent) == S.SENT
    assert [e.kind for batch in heard for e in batch] == ["", ""]


def test_events_for_unknown_emails_are_kept_with_no_message(post_webhook, heard):
    post_webhook(event("bounced", email_id="re_elsewhere", uuid_tag=str(uuid.uuid4())))
    run_worker_burst()
    row = ProviderWebhookEvent.objects.get()
    assert row.processed_at is not None and row.message_id is None and row.error == ""
    assert heard[0][0].message_id is None


@pytest.mark.parametrize(
    "body",
    [
        {"type": "email.delivered"},
        {"type": "email.delivered", "data": None},
        {"type": "email.bounced", "data": {"email_id": 7, "bounce": "hard", "to": "x"}},
        {"type": "email.clicked", "data": {"click": [], "tags": ["mailhub_message"]}},
        {"data": {"email_id": "re_1"}},
    ],
)
def test_partial_payloads_are_tolerated(post_webhook, body):
    assert post_webhook(body).status_code == 200
    run_worker_burst()
    row = ProviderWebhookEvent.objects.get()
    assert row.processed_at is not None and row.error == ""


def test_found_by_the_mailhub_message_tag_when_the_id_is_unknown(sent, post_webhook):
    Message.objects.filter(pk=sent.pk).update(provider_id="")  # the answer was lost
    post_webhook(event("delivered", email_id="re_late", uuid_tag=str(sent.uuid)))
    run_worker_burst()
    message = Message.objects.get(pk=sent.pk)
    assert message.status == S.DELIVERED and message.provider_id == "re_late"
    post_webhook(event("opened", email_id="re_late"))  # now found by its id
    run_worker_burst()
    assert status(sent) == S.OPENED


def test_a_message_a_worker_holds_is_not_overwritten_and_its_rank_applies_at_sent(
    sandbox, post_webhook
):
    message = message_create(to=["ada@example.com"], subject="Held", text="Hi")
    token, taken = claims.claim_messages(Priority.TRANSACTIONAL, alone=False, limit=1, worker="t")
    claim = claims.MessageClaim(taken[0], token)
    post_webhook(event("delivered", email_id="re_held", uuid_tag=str(message.uuid)))
    post_webhook(event("sent", email_id="re_held", uuid_tag=str(message.uuid)))
    run_worker_burst()
    held = Message.objects.get(pk=message.pk)
    assert held.status == S.SENDING and held.claim_token == token
    assert held.provider_id == "re_held"
    assert [e for e, _ in provider_lines(message)] == ["email.delivered", "email.sent"]
    # The worker records `sent` late: the early `delivered` is applied again.
    assert recording.record_outcome(claim, Sent("re_held")) == "sent"
    assert status(message) == S.DELIVERED


def test_the_reconciler_queues_processing_again_after_redis_is_flushed(
    sent, post_webhook, clean_redis, settings
):
    post_webhook(event("delivered", email_id=sent.provider_id))
    clean_redis.flushdb()  # the job is gone; the row remains
    run_worker_burst()
    assert ProviderWebhookEvent.objects.get().processed_at is None
    settings.MAILHUB_EVENTS_STALE_SECONDS = 3600
    assert reconcile().events_requested == 0  # not waited long enough yet
    settings.MAILHUB_EVENTS_STALE_SECONDS = 0
    assert reconcile().events_requested == 1
    run_worker_burst()
    assert ProviderWebhookEvent.objects.get().processed_at is not None
    assert status(sent) == S.DELIVERED
