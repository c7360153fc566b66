"""Messages that are ready together go out as frozen batches through /emails/batch."""

import pytest

from queueing.models import BatchStatus, FailureCode, Message, MessageStatus, SendBatch
from queueing.services import AttachmentInput, message_create
from tests.conftest import run_worker_burst

pytestmark = pytest.mark.django_db(transaction=True)


def accept(count: int, **overrides) -> list[Message]:
    return [
        message_create(
            to=[f"user{i}@example.com"], subject=f"Code {i}", text=f"Your code is {i}", **overrides
        )
        for i in range(count)
    ]


def batch_requests(sandbox) -> list[dict]:
    return [r for r in sandbox.requests() if r["path"] == "/emails/batch"]


def assert_each_sent_once(sandbox, messages: list[Message]) -> None:
    emails = sandbox.emails()
    assert len(emails) == len(messages)
    by_uuid = {
        next(t["value"] for t in e["request"]["tags"] if t["name"] == "mailhub_message"): e
        for e in emails
    }
    for message in messages:
        message.refresh_from_db()
        assert message.status == MessageStatus.SENT
        # Each row got the id Resend gave its own email, not a neighbour's.
        assert by_uuid[str(message.uuid)]["id"] == message.provider_id


def test_ready_messages_are_coalesced_into_batches_of_at_most_100(sandbox, deliver_all):
    messages = accept(150)
    deliver_all()
    assert_each_sent_once(sandbox, messages)
    sizes = sorted(r["emails_in_request"] for r in batch_requests(sandbox))
    assert sizes == [50, 100]
    assert not [r for r in sandbox.requests() if r["path"] == "/emails"]


def test_a_lone_message_goes_alone_at_once(sandbox, deliver_all):
    (message,) = accept(1)
    deliver_all()
    assert_each_sent_once(sandbox, [message])
    assert [r["path"] for r in sandbox.requests()] == ["/emails"]
    message.refresh_from_db()
    assert message.send_alone and message.batch is None


def test_messages_with_attachments_go_alone(sandbox, deliver_all):
    plain = accept(3)
    with_file = message_create(
        to=["files@example.com"],
        subject="Invoice",
        text="Attached",
        attachments=[AttachmentInput("invoice.txt", b"42 EUR", "text/plain")],
    )
    deliver_all()
    assert_each_sent_once(sandbox, [*plain, with_file])
    single = [r for r in sandbox.requests() if r["path"] == "/emails"]
    assert len(single) == 1 and single[0]["emails_in_request"] == 1
    assert sandbox.emails(to="files@example.com")[0]["request"]["attachments"]


def test_permissive_errors_fail_only_the_bad_members_by_index(sandbox, deliver_all):
    messages = accept(5)
    # Our rules let these through; the sandbox (like Resend) refuses them.
    bad = [messages[1], messages[3]]
    Message.objects.filter(pk__in=[m.pk for m in bad]).update(to=["not an address"])
    deliver_all()
    for message in messages:
        message.refresh_from_db()
    assert [m.status for m in messages] == ["sent", "failed", "sent", "failed", "sent"]
    assert {m.failure_code for m in bad} == {FailureCode.REJECTED}
    assert all("to" in m.last_error.lower() for m in bad)
    good = [messages[0], messages[2], messages[4]]
    assert sorted(e["request"]["to"][0] for e in sandbox.emails()) == sorted(m.to[0] for m in good)
    assert {e["id"] for e in sandbox.emails()} == {m.provider_id for m in good}


def test_strict_batch_refusal_sends_each_member_alone(sandbox, deliver_all, settings):
    settings.RESEND_BATCH_VALIDATION = "strict"
    messages = accept(4)
    Message.objects.filter(pk=messages[2].pk).update(to=["not an address"])
    deliver_all()
    statuses = [Message.objects.get(pk=m.pk).status for m in messages]
    assert statuses == ["sent", "sent", "failed", "sent"]
    assert SendBatch.objects.get().status == BatchStatus.SPLIT
    assert len(sandbox.emails()) == 3
    assert len([r for r in sandbox.requests() if r["path"] == "/emails"]) == 4


def test_unclear_outcome_resends_the_same_batch_byte_for_byte(sandbox, deliver_all):
    messages = accept(3)
    sandbox.configure(drop_rate=1.0)  # accepted, but the answer is lost
    run_worker_burst()
    batch = SendBatch.objects.get()
    assert batch.status == BatchStatus.QUEUED and batch.attempts == 1
    sandbox.configure(drop_rate=0.0)
    SendBatch.objects.update(next_attempt_at=None)
    deliver_all()
    batch.refresh_from_db()
    assert batch.status == BatchStatus.DONE and batch.attempts == 2
    requests = batch_requests(sandbox)
    # The sandbox, like Resend, replays a key only for the same bytes (else a 409).
    assert [r["outcome"] for r in requests] == ["dropped", "replayed"]
    assert {r["idempotency_key"] for r in requests} == {batch.idempotency_key}
    assert_each_sent_once(sandbox, messages)
    emails = sorted(sandbox.emails(), key=lambda e: e["batch_index"])
    assert [e["request"]["to"][0] for e in emails] == [m.to[0] for m in messages]
    assert batch.member_ids == [m.pk for m in messages]


def test_batch_members_are_never_cancelled_or_sent_alone(sandbox, deliver_all):
    from queueing.services import message_cancel

    messages = accept(2)
    sandbox.configure(fail_rate=1.0)
    run_worker_burst()
    member = Message.objects.get(pk=messages[0].pk)
    assert member.batch_id is not None and member.status == MessageStatus.QUEUED
    assert not message_cancel(message=member)
    sandbox.configure(fail_rate=0.0)
    SendBatch.objects.update(next_attempt_at=None)
    deliver_all()
    assert_each_sent_once(sandbox, messages)
    assert not [r for r in sandbox.requests() if r["path"] == "/emails"]


def test_the_one_message_left_of_a_claim_stays_alone_after_an_unclear_outcome(sandbox, deliver_all):
    from recipients.services import suppression_create

    messages = accept(3)
    for blocked in messages[1:]:
        suppression_create(email=blocked.to[0], reason="manual")
    sandbox.configure(drop_rate=1.0)  # the lone message is accepted, the answer is lost
    run_worker_burst()
    lone = Message.objects.get(pk=messages[0].pk)
    assert lone.status == MessageStatus.QUEUED and lone.send_alone and lone.batch_id is None
    # New mail arrives; the message that may already be with Resend must not join its batch.
    newcomers = [
        message_create(to=[f"new{i}@example.com"], subject="New", text="New") for i in range(3)
    ]
    sandbox.configure(drop_rate=0.0)
    Message.objects.filter(pk=lone.pk).update(next_attempt_at=None)
    deliver_all()
    lone.refresh_from_db()
    assert lone.status == MessageStatus.SENT and lone.batch_id is None
    singles = [r for r in sandbox.requests() if r["path"] == "/emails"]
    assert [r["outcome"] for r in singles] == ["dropped", "replayed"]
    assert {r["idempotency_key"] for r in singles} == {lone.idempotency_key}
    assert len(sandbox.emails(to=lone.to[0])) == 1
    assert all(Message.objects.get(pk=m.pk).batch_id for m in newcomers)


def accept_bulk(count: int) -> list[Message]:
    return [
        message_create(
            to=[f"news{i}@example.com"], subject="News", text=f"Issue {i}", priority="bulk"
        )
        for i in range(count)
    ]


def requests_in_order(sandbox) -> list[list[dict]]:
    """The accepted emails, one list per provider request, in the order they arrived."""
    requests: dict[str, list[dict]] = {}
    for email in sandbox.emails():
        requests.setdefault(email["raw_body_sha256"], []).append(email)
    return [sorted(r, key=lambda e: e["batch_index"] or 0) for r in requests.values()]


def priorities_of(request: list[dict]) -> list[str]:
    subjects = [e["request"]["subject"] for e in request]
    return ["bulk" if s == "News" else "transactional" for s in subjects]


def test_transactional_mail_leads_a_request_that_bulk_fills(sandbox, settings):
    from queueing.delivery import drain
    from queueing.models import Priority

    settings.RESEND_RATE_LIMIT = 1000  # under a rate limit, where requests are scarce
    bulk = accept_bulk(250)
    codes = accept(3)  # arrived after the bulk, and still first
    drain(Priority.TRANSACTIONAL)
    first, second = requests_in_order(sandbox)
    # A request costs the same with 3 emails or 100: bulk fills the room the codes leave.
    assert priorities_of(first) == ["transactional"] * 3 + ["bulk"] * 97
    # The transactional drain stops after the first request with no transactional mail in it;
    # the rest is the bulk drains' work.
    assert priorities_of(second) == ["bulk"] * 100
    assert Message.objects.filter(status=MessageStatus.QUEUED).count() == 53
    sent = {m.pk for m in [*codes, *bulk[:197]]}
    assert set(Message.objects.filter(status=MessageStatus.SENT).values_list("pk", flat=True)) == (
        sent
    )


def test_a_bulk_drain_takes_transactional_mail_that_waits_first(sandbox):
    import django_rq

    from queueing.delivery import drain
    from queueing.models import Priority

    bulk = accept_bulk(150)
    (code,) = accept(1)  # its drain job waits on the transactional queue
    with_file = message_create(
        to=["files@example.com"],
        subject="Your invoice",
        text="Attached.",
        attachments=[AttachmentInput(filename="invoice.txt", content=b"total: 1")],
    )
    assert django_rq.get_queue("transactional").count == 1
    drain(Priority.BULK)
    requests = requests_in_order(sandbox)
    # The one that must go alone goes first, then the code leads the first batch.
    assert [len(r) for r in requests] == [1, 100, 51]
    assert requests[0][0]["request"]["subject"] == "Your invoice"
    assert priorities_of(requests[1]) == ["transactional"] + ["bulk"] * 99
    assert_each_sent_once(sandbox, [*bulk, code, with_file])
    code.refresh_from_db()
    assert code.batch.member_ids[0] == code.pk


def test_without_a_rate_limit_a_transactional_drain_leaves_bulk_to_bulk_drains(sandbox, settings):
    from queueing.delivery import drain
    from queueing.models import Priority

    settings.RESEND_RATE_LIMIT = 0
    accept_bulk(50)
    codes = accept(3)
    drain(Priority.TRANSACTIONAL)
    (only,) = requests_in_order(sandbox)
    assert priorities_of(only) == ["transactional"] * 3
    assert Message.objects.filter(status=MessageStatus.QUEUED).count() == 50
    assert_each_sent_once(sandbox, codes)


def test_under_a_rate_limit_a_request_is_frozen_just_before_its_slot(sandbox, settings):
    """A message accepted while a drain waits for its slot still joins that drain's request."""
    import threading
    import time

    from queueing import ratelimit
    from queueing.delivery import drain
    from queueing.models import Priority

    settings.RESEND_RATE_LIMIT = 1
    accept_bulk(20)
    ratelimit.reserve(max_wait=5)  # another worker's slot: the next one is a second away
    started = time.monotonic()
    worker = threading.Thread(target=drain, args=(Priority.BULK,))
    worker.start()
    time.sleep(0.2)  # the drain has reserved its slot and sleeps until just before it
    (code,) = accept(1)
    worker.join(timeout=30)
    (request,) = requests_in_order(sandbox)
    assert priorities_of(request) == ["transactional"] + ["bulk"] * 20
    assert time.monotonic() - started >= 0.9  # it did wait for the slot
    code.refresh_from_db()
    assert code.status == MessageStatus.SENT


def test_a_bulk_drain_under_a_rate_limit_stands_in_for_transactional_drain_jobs(sandbox, settings):
    """While it runs, a transactional message enqueues no job of its own (the drain sends it
    in its next request); when it ends, what it left is asked for."""
    import django_rq

    from queueing import enqueue
    from queueing.delivery import drain
    from queueing.models import Priority

    settings.RESEND_RATE_LIMIT = 1000
    transactional = django_rq.get_queue("transactional")
    enqueue.hold_drain_flag(Priority.TRANSACTIONAL)  # as a running bulk drain does
    (code,) = accept(1)
    assert transactional.count == 0
    # A bulk drain that ends before sending anything (its budget is spent) releases the flag
    # and asks for a drain of the message it left.
    drain(Priority.BULK, budget=0)
    assert transactional.count == 1
    assert not sandbox.emails()
    code.refresh_from_db()
    assert code.status == MessageStatus.QUEUED


def test_a_drain_job_enqueued_meanwhile_keeps_its_flag(settings):
    from queueing import enqueue
    from queueing.connection import get_redis
    from queueing.models import Priority

    flag = enqueue.drain_flag(Priority.TRANSACTIONAL)
    enqueue.hold_drain_flag(Priority.TRANSACTIONAL)
    get_redis().set(flag, "1")  # a job was enqueued and its flag set after the hold
    enqueue.release_drain_flag(Priority.TRANSACTIONAL, work_left=lambda: False)
    assert get_redis().get(flag) == b"1"
    get_redis().set(flag, enqueue.HELD)
    enqueue.release_drain_flag(Priority.TRANSACTIONAL, work_left=lambda: False)
    assert get_redis().get(flag) is None


def test_a_transactional_drain_goes_on_while_transactional_mail_is_due(sandbox, settings):
    """Its first request may be a bulk retry (due batches go first); the transactional
    message it was started for still leaves in the same drain."""
    from queueing import recording
    from queueing.delivery import DrainReport, drain, prepare_next
    from queueing.models import EventKind, Priority

    settings.RESEND_RATE_LIMIT = 1000
    accept_bulk(5)
    retry = prepare_next((Priority.BULK,), "w", DrainReport())
    recording.release(retry.batch, 0.0, EventKind.RATE_LIMITED, "back in the queue")
    (code,) = accept(1)
    drain(Priority.TRANSACTIONAL)
    first, second = requests_in_order(sandbox)
    assert priorities_of(first) == ["bulk"] * 5  # the frozen retry, as it was
    assert priorities_of(second) == ["transactional"]
    code.refresh_from_db()
    assert code.status == MessageStatus.SENT


def test_a_held_flag_lapses_soon_if_its_drain_dies():
    from queueing import enqueue
    from queueing.connection import get_redis
    from queueing.models import Priority

    enqueue.hold_drain_flag(Priority.TRANSACTIONAL)
    ttl = get_redis().ttl(enqueue.drain_flag(Priority.TRANSACTIONAL))
    assert 0 < ttl <= enqueue.HELD_TTL < enqueue.FLAG_TTL
