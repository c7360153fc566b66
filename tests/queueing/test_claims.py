"""Held claims (PostgreSQL): a group of messages is locked, prepared and written once, claim,
batch and content together, inside one transaction."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from queueing import claims, delivery
from queueing.models import Message, MessageStatus, Priority, SenderDomainPause
from queueing.services import message_create

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def postgres_only():
    if not claims.claims_at_freeze():
        pytest.skip("SQLite stores each claim before preparing (no row locks to hold)")
    claims.stored._cursors.clear()
    yield
    claims.stored._cursors.clear()


def accept(count: int) -> list[Message]:
    return [
        message_create(to=[f"held{i}@example.com"], subject=f"Held {i}", text="Hello")
        for i in range(count)
    ]


def test_messages_held_by_one_worker_are_passed_over_by_another():
    messages = accept(5)
    held: list[Message] = []
    locked, finish = threading.Event(), threading.Event()

    def first_worker() -> None:
        try:
            with transaction.atomic():
                _, rows = claims.hold_messages(Priority.TRANSACTIONAL, limit=3, worker="one")
                held.extend(rows)
                locked.set()
                finish.wait(10)
                raise RuntimeError("the worker dies before storing its claims")
        except RuntimeError:
            pass
        finally:
            connection.close()

    thread = threading.Thread(target=first_worker)
    thread.start()
    try:
        assert locked.wait(10)
        _, taken = claims.claim_messages(
            Priority.TRANSACTIONAL, alone=False, limit=100, worker="two"
        )
    finally:
        finish.set()
        thread.join(10)
    assert {m.pk for m in held} == {m.pk for m in messages[:3]}
    assert {m.pk for m in taken} == {m.pk for m in messages[3:]}
    # The first worker died holding its three: nothing of its claim was written.
    for message in Message.objects.filter(pk__in=[m.pk for m in held]):
        assert (message.status, message.attempts, message.claim_token) == (
            MessageStatus.QUEUED,
            0,
            None,
        )


def test_a_drain_that_fails_while_preparing_claims_the_messages_with_a_lease(monkeypatch):
    # The failure counts as an attempt of each message (the reconciler brings them back after
    # the lease and fails them after the last attempt): a group that always fails cannot
    # block the queue by being taken again and again.
    messages = accept(4)

    def broken(group):
        raise RuntimeError("the suppression list could not be read")

    monkeypatch.setattr(delivery, "_blocked", broken)
    with pytest.raises(RuntimeError, match="suppression list"):
        delivery.prepare_next((Priority.TRANSACTIONAL,), "w", delivery.DrainReport())
    for message in Message.objects.filter(pk__in=[m.pk for m in messages]):
        assert (message.status, message.attempts, message.batch_id) == (
            MessageStatus.SENDING,
            1,
            None,
        )
        assert message.lease_expires_at is not None and message.claimed_by == "w"


def test_a_held_group_is_stored_with_claim_batch_and_content_in_one_write():
    messages = accept(3)
    request = delivery.prepare_next((Priority.TRANSACTIONAL,), "worker-a", delivery.DrainReport())
    assert request is not None and request.batch is not None
    batch = request.batch.batch
    assert batch.member_ids == [m.pk for m in messages]
    for message in Message.objects.filter(pk__in=batch.member_ids):
        assert message.status == MessageStatus.SENDING
        assert message.claim_token == request.batch.token
        assert (message.attempts, message.claimed_by, message.batch_id) == (1, "worker-a", batch.pk)
        assert message.first_attempt_at is not None
        assert message.lease_expires_at is None  # the batch holds the lease
    assert batch.lease_expires_at is not None


def test_a_held_message_left_alone_is_stored_as_send_alone_with_its_lease():
    (message,) = accept(1)
    Message.objects.filter(pk=message.pk).update(send_alone=False)
    token, held = None, []
    with transaction.atomic():
        token, held = claims.hold_messages(Priority.TRANSACTIONAL, limit=100, worker="w")
        claims.hold_alone(token, held[0], rendered=False, stored=False)
    message.refresh_from_db()
    assert (message.status, message.send_alone, message.attempts) == (
        MessageStatus.SENDING,
        True,
        1,
    )
    assert message.claim_token == token and message.lease_expires_at is not None


def test_after_a_worker_died_holding_its_next_group_is_claimed_with_a_lease(monkeypatch):
    # A hold that never ended (the job was killed) leaves its mark: the next group of that
    # worker is claimed the stored way, so a crash that repeats on it counts attempts.
    from queueing import holding
    from queueing.connection import get_redis

    messages = accept(3)
    get_redis().set("mailhub:holding:w", "1")

    def never(*args, **kwargs):
        pytest.fail("the group was held")

    monkeypatch.setattr(claims.postgres, "hold_messages", never)
    request = delivery.prepare_next((Priority.TRANSACTIONAL,), "w", delivery.DrainReport())
    assert request is not None and request.batch is not None
    assert request.batch.batch.member_ids == [m.pk for m in messages]
    assert get_redis().get("mailhub:holding:w") is None  # the next group may be held again
    assert holding.may_hold("w") and get_redis().get("mailhub:holding:w") is not None
    holding.done("w")


def test_a_hold_that_ends_clears_its_mark():
    from queueing.connection import get_redis

    accept(2)
    request = delivery.prepare_next((Priority.TRANSACTIONAL,), "w", delivery.DrainReport())
    assert request is not None and request.batch is not None
    assert get_redis().get("mailhub:holding:w") is None


def hold(limit: int = 100) -> list[int]:
    """Hold and let go (the transaction rolls back): the ids a hold takes now."""
    with transaction.atomic():
        _, held = claims.hold_messages(Priority.TRANSACTIONAL, limit=limit, worker="w")
        ids = [m.pk for m in held]
        transaction.set_rollback(True)
    return ids


def test_the_hold_statement_compiled_once_still_asks_about_now_the_cursor_and_pauses():
    """The hold's SQL is compiled once per priority and limit; each hold still gives it the
    current time and this process's cursor, and reads pauses when it runs."""
    first, later, paused = accept(3)
    Message.objects.filter(pk=later.pk).update(
        next_attempt_at=timezone.now() + timedelta(minutes=5)
    )
    Message.objects.filter(pk=paused.pk).update(from_domain="paused.example")
    pause = SenderDomainPause.objects.create(domain="paused.example", reason="test")
    assert hold() == [first.pk]  # compiled here
    Message.objects.filter(pk=later.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )
    # Due now; and this process's cursor stands after the first message (held last time).
    assert hold() == [later.pk]
    pause.lifted_at = timezone.now()
    pause.save()
    claims.stored._cursors.clear()
    assert hold() == [first.pk, later.pk, paused.pk]
    claims.stored._cursors.clear()
    assert hold(limit=2) == [first.pk, later.pk]  # another limit, another statement


def test_a_held_group_that_was_not_rendered_keeps_its_content_as_accepted():
    """A transactional group's freeze writes claim and batch only; the content it sends is
    the one stored at acceptance, untouched."""
    messages = accept(2)
    with CaptureQueriesContext(connection) as queries:
        request = delivery.prepare_next(
            (Priority.TRANSACTIONAL,), "worker-a", delivery.DrainReport()
        )
    assert request is not None and request.batch is not None
    writes = [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith("UPDATE")]
    assert writes and not any('"html"' in sql for sql in writes), writes
    for message in Message.objects.filter(pk__in=[m.pk for m in messages]):
        assert (message.subject, message.text, message.batch_id) == (
            message.subject,
            "Hello",
            request.batch.batch.pk,
        )
