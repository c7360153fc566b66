"""Fan-out and sending end to end: real Redis, real RQ worker, the sandbox's batch endpoint."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from campaigns import fanout
from campaigns.models import Campaign
from campaigns.reconciler import reconcile_campaigns, resume_stalled_fanouts
from campaigns.services import (
    campaign_cancel,
    campaign_pause,
    campaign_resume,
    campaign_send,
    campaign_test_send,
)
from queueing.models import FailureCode, Message, MessageStatus
from recipients.models import Subscription, Suppression
from recipients.services import recipient_unsubscribe_all
from tests.conftest import run_worker_burst

pytestmark = pytest.mark.django_db(transaction=True)


def counters(campaign: Campaign) -> dict:
    campaign.refresh_from_db()
    return {
        f: getattr(campaign, f) for f in ("queued", "sent", "failed", "suppressed", "cancelled")
    }


def rows_by_status(campaign: Campaign) -> dict:
    rows = Message.objects.filter(campaign=campaign, is_test=False)
    return {s: rows.filter(status=s).count() for s in ("sent", "failed", "suppressed", "cancelled")}


def test_campaign_goes_out_in_batches_once_per_person(
    sandbox, deliver_all, make_campaign, make_list, subscribe
):
    news, offers = make_list("news"), make_list("offers")
    subscribe(news, 120)
    subscribe(offers, 30, start=100)  # 20 people on both lists
    campaign = make_campaign([news, offers])
    plan = campaign_send(campaign=campaign)
    assert plan.audience == 130 and campaign.status == "sending"
    deliver_all(timeout=60)
    campaign.refresh_from_db()
    assert campaign.status == "sent" and campaign.finished_at
    assert counters(campaign) == {
        "queued": 130,
        "sent": 130,
        "failed": 0,
        "suppressed": 0,
        "cancelled": 0,
    }
    emails = sandbox.emails()
    assert sorted(e["request"]["to"][0] for e in emails) == sorted(
        f"user{i}@example.com" for i in range(130)
    )
    batch_sizes = sorted(
        r["emails_in_request"] for r in sandbox.requests() if r["path"] == "/emails/batch"
    )
    assert sum(batch_sizes) == 130 and max(batch_sizes) <= 100
    assert not [r for r in sandbox.requests() if r["path"] == "/emails"]
    one = sandbox.emails(to="user7@example.com")[0]["request"]
    assert one["subject"] == "News for User7" and "Hello User7!" in one["html"]
    assert "List-Unsubscribe" in one["headers"] and "mailhub test, 1 Test Street" in one["text"]


def test_fanout_is_idempotent_and_resumes_from_its_cursor(make_campaign, make_list, subscribe):
    news = make_list()
    subscribe(news, 25)
    campaign = make_campaign([news])
    campaign_send(campaign=campaign)
    assert fanout.fanout_run(campaign_id=campaign.pk, chunk=10) == 25
    keys = set(Message.objects.values_list("recipient_id", "idempotency_key"))
    # A second run (a second click, a reconciler that thought it stalled) adds nothing.
    assert fanout.fanout_run(campaign_id=campaign.pk) == 0
    Campaign.objects.filter(pk=campaign.pk).update(fanout_finished_at=None, fanout_cursor=0)
    assert fanout.fanout_run(campaign_id=campaign.pk, chunk=7) == 0
    assert set(Message.objects.values_list("recipient_id", "idempotency_key")) == keys
    assert Message.objects.count() == 25 and counters(campaign)["queued"] == 25


def test_fanout_goes_on_past_chunks_with_nobody_to_mail_and_counts_people_once(
    make_campaign, make_list, subscribe
):
    # Chunks are ranges of recipient ids holding `chunk` subscriptions: a range where nobody
    # may be mailed (left the list, suppressed) must not end the fan-out, and someone on
    # both lists (two subscriptions, maybe in two chunks' counts) gets one message.
    from recipients.models import Subscription, Suppression

    news, offers = make_list(), make_list("offers")
    people = subscribe(news, 20)
    subscribe(offers, 10, start=15)  # 15 … 19 on both lists, 20 … 24 on offers only
    Subscription.objects.filter(recipient__in=people[:8], list=news).update(status="unsubscribed")
    Suppression.objects.create(email="user9@example.com", reason="manual")
    campaign = make_campaign([news, offers])
    campaign_send(campaign=campaign)
    assert fanout.fanout_run(campaign_id=campaign.pk, chunk=3) == 16  # 8 … 24, less user9
    mailed = set(Message.objects.values_list("recipient__email", flat=True))
    assert mailed == {f"user{i}@example.com" for i in range(8, 25) if i != 9}
    assert counters(campaign)["queued"] == 16 and Message.objects.count() == 16
    campaign.refresh_from_db()
    assert campaign.fanout_finished_at and campaign.audience_size == 16


def test_fanout_skips_nobody_who_subscribes_inside_a_chunk_being_written(
    make_campaign, make_list, subscribe, monkeypatch
):
    # A chunk's end is looked up before its rows are read: someone subscribing in between,
    # inside the chunk's id range, makes it one person too many for the chunk's LIMIT. The
    # cursor then goes on from the last row written, not from the range's end.
    other, news = make_list("other"), make_list()
    subscribe(other, 10)  # user0 … user9, in id order
    subscribe(news, 1)
    subscribe(news, 8, start=2)  # everyone but user1
    campaign = make_campaign([news])
    campaign_send(campaign=campaign)
    real_end = fanout.audience_chunk_end
    calls: list[int] = []

    def end_then_someone_subscribes(campaign, *, after, size):
        end = real_end(campaign, after=after, size=size)
        if not calls:
            subscribe(news, 1, start=1)  # user1, inside the first chunk's range
        calls.append(size)
        return end

    monkeypatch.setattr(fanout, "audience_chunk_end", end_then_someone_subscribes)
    assert fanout.fanout_run(campaign_id=campaign.pk, chunk=3) == 10
    mailed = set(Message.objects.values_list("recipient__email", flat=True))
    assert mailed == {f"user{i}@example.com" for i in range(10)}


def test_fanout_starts_with_a_small_chunk_and_doubles_up_to_the_chunk_size(
    make_campaign, make_list, subscribe, monkeypatch
):
    # The first messages are ready (and a worker sending) before a big chunk is written.
    news = make_list()
    subscribe(news, 25)
    campaign = make_campaign([news])
    campaign_send(campaign=campaign)
    monkeypatch.setattr(fanout, "FIRST_CHUNK", 2)
    sizes: list[int] = []
    write_chunk = fanout.write_chunk

    def recording(campaign, size):
        sizes.append(size)
        return write_chunk(campaign, size)

    monkeypatch.setattr(fanout, "write_chunk", recording)
    assert fanout.fanout_run(campaign_id=campaign.pk, chunk=6) == 25
    # 24 recipients, then the 25th in a last chunk that is known to hold the rest (no empty
    # chunk to find the end).
    assert sizes == [2, 4, 6, 6, 6, 6]
    assert counters(campaign)["queued"] == 25


def test_cancel_waits_for_a_group_a_worker_holds_and_cancels_only_the_rest(
    make_campaign, make_list, subscribe
):
    import threading

    from django.db import connection, transaction

    from queueing import claims, delivery
    from queueing.models import EventKind, MessageEvent, Priority

    if not claims.claims_at_freeze():
        pytest.skip("SQLite stores each claim before preparing (no row locks to hold)")
    news = make_list()
    subscribe(news, 8)
    campaign = make_campaign([news])
    campaign_send(campaign=campaign)
    fanout.fanout_run(campaign_id=campaign.pk)
    claims.stored._cursors.clear()
    held: list[Message] = []
    locked = threading.Event()

    def worker() -> None:
        try:
            with transaction.atomic():
                token, rows = claims.hold_messages(Priority.BULK, limit=3, worker="w")
                held.extend(rows)
                locked.set()
                delivery._prepared(token, rows, worker="w", stored=False)  # renders and freezes
        finally:
            connection.close()

    thread = threading.Thread(target=worker)
    thread.start()
    assert locked.wait(10)
    cancelled = campaign_cancel(campaign=campaign)
    thread.join(10)
    assert cancelled == 5
    assert rows_by_status(campaign)["cancelled"] == 5
    frozen = Message.objects.filter(pk__in=[m.pk for m in held])
    assert {m.status for m in frozen} == {MessageStatus.SENDING}
    assert not MessageEvent.objects.filter(message__in=frozen, kind=EventKind.CANCELLED).exists()
    assert MessageEvent.objects.filter(kind=EventKind.CANCELLED).count() == 5
    assert counters(campaign)["cancelled"] == 5


def test_interrupted_fanout_is_resumed_by_the_reconciler(
    make_campaign, make_list, subscribe, settings, clean_redis
):
    settings.MAILHUB_CAMPAIGN_FANOUT_STALL_SECONDS = 0
    news = make_list()
    subscribe(news, 30)
    campaign = make_campaign([news])
    campaign_send(campaign=campaign)
    clean_redis.flushdb()  # the fan-out job is lost
    # Pretend a run died after one chunk of 10.
    fanout.write_chunk(Campaign.objects.get(pk=campaign.pk), 10)
    Campaign.objects.filter(pk=campaign.pk).update(
        fanout_cursor=Message.objects.order_by("-recipient_id").values_list(
            "recipient_id", flat=True
        )[0],
        fanout_heartbeat_at=timezone.now() - timedelta(minutes=5),
    )
    assert resume_stalled_fanouts() == 1
    run_worker_burst()
    campaign.refresh_from_db()
    assert campaign.fanout_finished_at and Message.objects.count() == 30


def test_unsubscribed_and_suppressed_are_excluded(
    sandbox, deliver_all, make_campaign, make_list, subscribe
):
    news = make_list()
    people = subscribe(news, 6)
    Subscription.objects.filter(recipient=people[0]).update(status="unsubscribed")
    Suppression.objects.create(email=people[1].email, reason="hard_bounce")
    campaign = make_campaign([news])
    assert campaign_send(campaign=campaign).audience == 4
    fanout.fanout_run(campaign_id=campaign.pk)
    # After fan-out: one leaves the list, one unsubscribes from all marketing.
    Subscription.objects.filter(recipient=people[2]).update(status="unsubscribed")
    recipient_unsubscribe_all(recipient=people[3], source="form")
    deliver_all(timeout=60)
    assert sorted(e["request"]["to"][0] for e in sandbox.emails()) == [
        people[4].email,
        people[5].email,
    ]
    assert counters(campaign) == {
        "queued": 4,
        "sent": 2,
        "failed": 0,
        "suppressed": 2,
        "cancelled": 0,
    }
    assert counters(campaign) == {"queued": 4, **rows_by_status(campaign)}
    left = Message.objects.get(recipient=people[2])
    assert "Unsubscribed from" in left.last_error
    campaign.refresh_from_db()
    assert campaign.status == "sent"


def test_a_render_error_fails_only_that_message(
    sandbox, deliver_all, make_campaign, make_list, subscribe
):
    from campaigns.services import template_create

    strict = template_create(
        name="Plan",
        slug="plan",
        subject="Hi",
        body_format="html",
        body="<p>Your plan: {{ recipient.attributes.plan }}</p><a href='{{ unsubscribe_url }}'>x</a>",
    )
    news = make_list()
    subscribe(news, 3, plan="pro")
    subscribe(news, 1, start=3)  # no plan attribute
    campaign = make_campaign([news], template=strict)
    campaign_send(campaign=campaign)
    deliver_all(timeout=60)
    failed = Message.objects.get(status=MessageStatus.FAILED)
    assert failed.to == ["user3@example.com"] and failed.failure_code == FailureCode.RENDER_ERROR
    assert "recipient.attributes.plan" in failed.last_error
    assert counters(campaign) == {
        "queued": 4,
        "sent": 3,
        "failed": 1,
        "suppressed": 0,
        "cancelled": 0,
    }
    campaign.refresh_from_db()
    assert campaign.status == "sent"


def test_template_is_frozen_when_sending_starts(
    sandbox, deliver_all, make_campaign, make_list, subscribe, template
):
    news = make_list()
    subscribe(news, 2)
    campaign = make_campaign([news])
    campaign_send(campaign=campaign)
    template.subject = "Changed {{ recipient.email }}"
    template.body = template.body.replace("Hello", "Goodbye")
    template.save()
    deliver_all(timeout=60)
    assert {e["request"]["subject"] for e in sandbox.emails()} == {
        "News for User0",
        "News for User1",
    }
    assert all("Hello" in e["request"]["html"] for e in sandbox.emails())


def test_attribute_filter(make_campaign, make_list, subscribe):
    news = make_list()
    subscribe(news, 3, plan="pro")
    subscribe(news, 2, start=3, plan="free")
    campaign = make_campaign([news], attribute_filter={"plan": "pro"})
    assert campaign_send(campaign=campaign).audience == 3
    fanout.fanout_run(campaign_id=campaign.pk)
    assert sorted(Message.objects.values_list("to", flat=True)) == [
        [f"user{i}@example.com"] for i in range(3)
    ]


def test_pause_resume_and_cancel(sandbox, deliver_all, make_campaign, make_list, subscribe):
    news = make_list()
    subscribe(news, 250)
    campaign = make_campaign([news])
    campaign_send(campaign=campaign)
    fanout.fanout_run(campaign_id=campaign.pk)
    campaign_pause(campaign=campaign)
    run_worker_burst()
    assert sandbox.emails() == [] and counters(campaign)["sent"] == 0
    with pytest.raises(ValidationError, match="only a sending campaign"):
        campaign_pause(campaign=campaign)
    campaign_resume(campaign=campaign)
    # Send the first batch only, then cancel what is left.
    from queueing import delivery

    delivery.send_next("bulk", "test", delivery.DrainReport())  # one request: one batch
    assert len(sandbox.emails()) == 100
    cancelled = campaign_cancel(campaign=campaign)
    assert cancelled == 150
    deliver_all(timeout=60)
    assert len(sandbox.emails()) == 100
    assert counters(campaign) == {
        "queued": 250,
        "sent": 100,
        "failed": 0,
        "suppressed": 0,
        "cancelled": 150,
    }
    assert counters(campaign) == {"queued": 250, **rows_by_status(campaign)}
    assert campaign.status == "cancelled"
    with pytest.raises(ValidationError, match="Cannot resume"):
        campaign_resume(campaign=campaign)


def test_test_send_is_marked_and_never_counted(make_campaign, make_list, subscribe):
    news = make_list()
    (person,) = subscribe(news, 1)
    campaign = make_campaign([news])
    (sample,) = campaign_test_send(campaign=campaign, to=["tester@example.com"])
    (real,) = campaign_test_send(campaign=campaign, to=["tester@example.com"], recipient=person)
    assert (
        sample.is_test
        and sample.subject == "[TEST] News for Sample"
        and sample.campaign_id == campaign.pk
    )
    assert real.subject == "[TEST] News for User0" and person.unsubscribe_token not in real.html
    assert counters(campaign) == {
        "queued": 0,
        "sent": 0,
        "failed": 0,
        "suppressed": 0,
        "cancelled": 0,
    }


def test_bad_sends_are_refused(make_campaign, make_list, subscribe, template, settings):
    from campaigns.services import template_create

    news, empty = make_list("news"), make_list("empty")
    subscribe(news, 2)
    with pytest.raises(ValidationError, match="no audience"):
        campaign_send(campaign=make_campaign([]))
    with pytest.raises(ValidationError, match="audience is empty"):
        campaign_send(campaign=make_campaign([empty]))
    no_link = template_create(
        name="N", slug="n", subject="Hi", body="<p>hi</p>", body_format="html"
    )
    with pytest.raises(ValidationError, match="unsubscribe"):
        campaign_send(campaign=make_campaign([news], template=no_link))
    settings.MAILHUB_ALLOWED_SENDER_DOMAINS = ["example.com"]
    with pytest.raises(ValidationError, match="not allowed"):
        make_campaign([news], from_email="me@evil.test")
    with pytest.raises(ValidationError, match="in the past"):
        campaign_send(
            campaign=make_campaign([news]), scheduled_at=timezone.now() - timedelta(hours=1)
        )
    campaign = make_campaign([news])
    campaign_send(campaign=campaign)
    with pytest.raises(ValidationError, match="never sent twice"):
        campaign_send(campaign=campaign)
    stale = Campaign.objects.get(pk=campaign.pk)
    stale.status = "draft"  # a second click from a page loaded before the first
    with pytest.raises(ValidationError, match="meanwhile"):
        campaign_send(campaign=stale)


def test_scheduled_campaign_starts_when_due(make_campaign, make_list, subscribe):
    news = make_list()
    subscribe(news, 2)
    campaign = make_campaign([news])
    campaign_send(campaign=campaign, scheduled_at=timezone.now() + timedelta(hours=1))
    assert campaign.status == "scheduled" and reconcile_campaigns().started == 0
    Campaign.objects.filter(pk=campaign.pk).update(scheduled_at=timezone.now())
    assert reconcile_campaigns().started == 1
    campaign.refresh_from_db()
    assert campaign.status == "sending"


def test_test_send_of_a_draft_reaches_the_sandbox(sandbox, deliver_all, make_campaign, make_list):
    campaign = make_campaign([make_list()])
    campaign_test_send(campaign=campaign, to=["tester@example.com"])
    deliver_all(timeout=5)
    assert sandbox.emails(to="tester@example.com")[0]["request"]["subject"].startswith("[TEST]")


def test_an_emptied_template_is_refused(make_campaign, make_list, subscribe, template):
    news = make_list()
    subscribe(news, 1)
    campaign = make_campaign([news])
    Template = type(template)
    Template.objects.filter(pk=template.pk).update(body="  ")  # around the form's checks
    with pytest.raises(ValidationError, match="is empty"):
        campaign_send(campaign=campaign)


def test_two_fanouts_of_one_campaign_at_once_are_harmless(make_campaign, make_list, subscribe):
    import threading

    from django.db import connection

    news = make_list()
    subscribe(news, 60)
    campaign = make_campaign([news])
    campaign_send(campaign=campaign)
    added: list[int] = []

    def run() -> None:
        try:
            added.append(fanout.fanout_run(campaign_id=campaign.pk, chunk=5))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(added) == 60 and Message.objects.count() == 60
    assert counters(campaign)["queued"] == 60


def test_a_chunk_written_while_the_campaign_is_cancelled_is_rolled_back(
    make_campaign, make_list, subscribe, monkeypatch
):
    news = make_list()
    subscribe(news, 10)
    campaign = make_campaign([news])
    campaign_send(campaign=campaign)
    real_write = fanout.write_chunk

    def write_then_cancelled(target, size):
        result = real_write(target, size)
        Campaign.objects.filter(pk=target.pk).update(status="cancelled")  # as a cancel would
        return result

    monkeypatch.setattr(fanout, "write_chunk", write_then_cancelled)
    assert fanout.fanout_run(campaign_id=campaign.pk) == 0
    assert not Message.objects.exists() and counters(campaign)["queued"] == 0


def test_a_message_retried_after_its_campaign_finished_is_sent(
    sandbox, deliver_all, make_campaign, make_list, subscribe
):
    # Only paused and cancelled campaigns hold their messages back (queueing.holds): a failed
    # message retried by hand once its campaign is "sent" goes out, and is counted.
    from campaigns.services import template_create
    from queueing.services import message_retry
    from recipients.models import Recipient

    strict = template_create(
        name="Plan",
        slug="plan",
        subject="Hi",
        body_format="html",
        body="<p>Your plan: {{ recipient.attributes.plan }}</p><a href='{{ unsubscribe_url }}'>x</a>",
    )
    news = make_list()
    subscribe(news, 2, plan="pro")
    subscribe(news, 1, start=2)  # no plan attribute: its message fails to render
    campaign = make_campaign([news], template=strict)
    campaign_send(campaign=campaign)
    deliver_all(timeout=60)
    campaign.refresh_from_db()
    assert campaign.status == "sent" and counters(campaign)["failed"] == 1
    failed = Message.objects.get(status=MessageStatus.FAILED)
    Recipient.objects.filter(email=failed.to[0]).update(attributes={"plan": "basic"})
    assert message_retry(message=failed)
    deliver_all(timeout=60)
    failed.refresh_from_db()
    assert failed.status == MessageStatus.SENT and len(sandbox.emails()) == 3
    assert counters(campaign)["sent"] == 3 and counters(campaign)["failed"] == 0


def test_a_failing_reconcile_step_does_not_stop_the_pass(monkeypatch):
    from queueing import hooks
    from queueing.reconciler import reconcile

    def broken() -> dict:
        raise RuntimeError("boom")

    monkeypatch.setitem(hooks._reconcile_steps, "broken", broken)
    report = reconcile()  # the campaigns step still ran, and the queue's own steps after it
    assert "campaigns_started" in report.steps
