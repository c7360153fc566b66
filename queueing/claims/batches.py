"""Fixing how claimed messages go out: frozen into a batch, or alone; and claiming a frozen
batch whose retry is due."""

import uuid

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from queueing import state_machine
from queueing.claims.base import BatchClaim, due, lease_end
from queueing.claims.postgres import store_held
from queueing.models import BatchStatus, Message, MessageStatus, SendBatch
from queueing.rendering import CONTENT_COLUMNS, content_values

S = MessageStatus


def freeze_batch(
    token: uuid.UUID,
    members: list[Message],
    *,
    worker: str,
    rendered: list[Message],
    stored: bool = True,
) -> BatchClaim:
    """Fix members, order and key of a batch before its first call, and store the content
    rendered for it in the same statement: from here on the request body is fixed. Held
    members (`stored=False`) get their claim in that statement too."""
    now = timezone.now()
    state_machine.check_batch_created(BatchStatus.SENDING)
    with transaction.atomic():
        batch = SendBatch.objects.create(
            idempotency_key=f"mailhub-batch-{uuid.uuid4()}",
            priority=members[0].priority,
            status=BatchStatus.SENDING,
            member_ids=[m.pk for m in members],
            size=len(members),
            attempts=1,
            max_attempts=max(m.max_attempts for m in members),
            first_attempt_at=now,
            claim_token=token,
            claimed_by=worker[:255],
            lease_expires_at=lease_end(now),
        )
        just_rendered = {m.pk for m in rendered}
        if not stored:
            for m in members:
                m.lease_expires_at = None  # the batch holds the lease
                m.batch = batch
            # Content only where it was rendered just now: a transactional message's stored
            # content is what it sends, and writing it back unchanged cost as much again.
            fresh = [m for m in members if m.pk in just_rendered]
            as_stored = [m for m in members if m.pk not in just_rendered]
            if fresh:
                store_held(
                    fresh, ("batch", *CONTENT_COLUMNS), lambda m: (batch.pk, *content_values(m))
                )
            if as_stored:
                store_held(as_stored, ("batch",), lambda m: (batch.pk,))
            return BatchClaim(batch=batch, token=token, members=members)
        state_machine.move_each(
            ("batch", *CONTENT_COLUMNS),
            {m.pk: (batch.pk, *content_values(m)) for m in members if m.pk in just_rendered},
            S.SENDING,
            from_=S.SENDING,
            set_also={"lease_expires_at": None},
            where={"claim_token": token},
        )
        state_machine.move(
            Message.objects.filter(
                pk__in=[m.pk for m in members if m.pk not in just_rendered], claim_token=token
            ),
            S.SENDING,
            from_=S.SENDING,
            batch=batch,
            lease_expires_at=None,
        )
    for m in members:
        m.batch = batch
    return BatchClaim(batch=batch, token=token, members=members)


def hold_alone(token: uuid.UUID, message: Message, *, rendered: bool, stored: bool = True) -> None:
    """This message goes out alone under its own key: mark it so for every later attempt
    (it must never join a batch after a call that may have been accepted), and store the
    content rendered for it (and its claim, if it was held)."""
    if not stored:
        message.send_alone = True
        store_held(
            [message], ("send_alone", *CONTENT_COLUMNS), lambda m: (True, *content_values(m))
        )
        return
    if rendered:
        state_machine.move_each(
            CONTENT_COLUMNS,
            {message.pk: content_values(message)},
            S.SENDING,
            from_=S.SENDING,
            set_also={"send_alone": True},
            where={"claim_token": token},
        )
    elif not message.send_alone:
        state_machine.move(
            Message.objects.filter(pk=message.pk, claim_token=token),
            S.SENDING,
            from_=S.SENDING,
            send_alone=True,
        )
    message.send_alone = True


def claim_due_batch(priority: str, *, worker: str) -> BatchClaim | None:
    """Claim a frozen batch whose retry is due, with its members in request order."""
    now = timezone.now()
    token = uuid.uuid4()
    with transaction.atomic():
        batch = (
            SendBatch.objects.filter(status=BatchStatus.QUEUED, priority=priority)
            .filter(due(now))
            .order_by("next_attempt_at", "id")
            .select_for_update(skip_locked=True)
            .first()
        )
        if batch is None:
            return None
        state_machine.move_batch(
            SendBatch.objects.filter(pk=batch.pk),
            BatchStatus.SENDING,
            from_=BatchStatus.QUEUED,
            claim_token=token,
            claimed_by=worker[:255],
            lease_expires_at=lease_end(now),
            attempts=F("attempts") + 1,
        )
        batch.refresh_from_db()
        state_machine.move(
            Message.objects.filter(pk__in=batch.member_ids, batch=batch),
            S.SENDING,
            from_=S.QUEUED,
            attempts=F("attempts") + 1,
            updated_at=now,
        )
        by_id = {m.pk: m for m in Message.objects.filter(pk__in=batch.member_ids, batch=batch)}
        members = [by_id[pk] for pk in batch.member_ids]
    return BatchClaim(batch=batch, token=token, members=members)
