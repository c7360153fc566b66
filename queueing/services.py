"""Writes on messages made by entry points: create, cancel, retry by hand.

Every entry point (admin, command, API, campaign fan-out) creates messages through these
services, so validation and enqueueing are the same whatever the door; every status change
goes through queueing.state_machine.
"""

import inspect
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from audit.services import actor_name, audit_record, audit_record_many
from queueing import state_machine, validation
from queueing.addresses import sender_domain
from queueing.enqueue import request_drain_on_commit
from queueing.events import add_events
from queueing.message_addresses import address_rows, first_address
from queueing.models import (
    ApiKey,
    EventKind,
    FailureCode,
    Message,
    MessageAddress,
    MessageAttachment,
    MessageStatus,
    Priority,
    Source,
)
from queueing.provider import get_provider
from queueing.recording.announce import notify_campaigns
from queueing.retry_policy import retry_window_passed, retry_window_start
from queueing.signals import campaign_messages_changed

# A schedule this far in the past is a mistake, not "send now".
SCHEDULE_PAST_TOLERANCE = timedelta(minutes=1)
# Not yet handed to a worker: what a cancel may still stop.
UNSENT = (MessageStatus.SCHEDULED, MessageStatus.QUEUED)
CANCEL_CHUNK = 5000


@dataclass(frozen=True)
class AttachmentInput:
    filename: str
    content: bytes
    content_type: str = ""


@dataclass
class _Prepared:
    message: Message
    files: list[AttachmentInput]


def _prepare(fields: Mapping[str, Any]) -> _Prepared:
    """Validate everything and build the unsaved row; raises ValidationError keyed by field.
    `fields` are message_create's keyword arguments (an unknown one is a TypeError)."""
    f = SimpleNamespace(**_arguments(fields))
    now = timezone.now()
    from_email = validation.validate_sender(f.from_email or settings.MAILHUB_DEFAULT_FROM)
    message = Message(
        from_email=from_email,
        from_domain=sender_domain(from_email),
        to=(to := validation.normalise_addresses(f.to, "to", required=True)),
        to_address=first_address(to),
        cc=validation.normalise_addresses(f.cc, "cc"),
        bcc=validation.normalise_addresses(f.bcc, "bcc"),
        reply_to=validation.normalise_addresses(f.reply_to, "reply_to"),
        subject=validation.validate_subject(f.subject),
        headers=validation.validate_headers(f.headers),
        tags=validation.validate_tags(f.tags),
        priority=_validate_priority(f.priority),
        source=f.source,
        created_by=f.created_by if f.created_by and f.created_by.is_authenticated else None,
        api_key=f.api_key,
        campaign_id=f.campaign_id,
        recipient_id=f.recipient_id,
        max_attempts=f.max_attempts or settings.MAILHUB_MAX_ATTEMPTS,
        is_test=f.is_test,
    )
    message.html, message.text = validation.validate_body(f.html, f.text)
    files = _validate_attachments(f.attachments)
    validation.validate_size(message.html, message.text, (len(a.content) for a in files))
    scheduled_at = _validate_schedule(f.scheduled_at, now)
    # A message with attachments goes alone where the provider's batches take none.
    message.send_alone = bool(files) and not get_provider().batch_allows_attachments
    message.uuid = uuid.uuid4()
    message.idempotency_key = f"mailhub-message-{message.uuid}"
    if scheduled_at:
        message.status, message.scheduled_at = MessageStatus.SCHEDULED, scheduled_at
    else:
        message.status, message.queued_at = MessageStatus.QUEUED, now
    return _Prepared(message, files)


def message_create(
    *,
    to: Sequence[str] | str,
    subject: str,
    html: str = "",
    text: str = "",
    from_email: str | None = None,
    cc: Sequence[str] | str | None = None,
    bcc: Sequence[str] | str | None = None,
    reply_to: Sequence[str] | str | None = None,
    headers: dict[str, str] | None = None,
    tags: list[dict[str, str]] | None = None,
    attachments: Sequence[AttachmentInput] = (),
    priority: str = Priority.TRANSACTIONAL,
    scheduled_at: datetime | None = None,
    source: str = Source.SERVICE,
    created_by: AbstractBaseUser | None = None,
    campaign_id: int | None = None,
    recipient_id: int | None = None,
    max_attempts: int | None = None,
    is_test: bool = False,
    api_key: ApiKey | None = None,
) -> Message:
    """Validate, store and (on commit) enqueue one message. Raises ValidationError, keyed by
    field, before anything is stored. `scheduled_at` in the future schedules it (mailhub
    releases it when due); `from_email` defaults to MAILHUB_DEFAULT_FROM; `api_key` is the
    HTTP API's key that queued it (a key sees only its own messages)."""
    fields = dict(locals())  # exactly the parameters above
    (message,) = messages_create_many([fields])
    return message


# The fields of a message, as message_create takes them (messages_create_many too).
_PARAMETERS = inspect.signature(message_create).parameters
_DEFAULTS = {n: p.default for n, p in _PARAMETERS.items() if p.default is not p.empty}
_REQUIRED = frozenset(n for n, p in _PARAMETERS.items() if p.default is p.empty)


def _arguments(fields: Mapping[str, Any]) -> dict[str, Any]:
    """`fields` with message_create's defaults filled in; a TypeError for an unknown or a
    missing one, as a call would raise. (Signature.bind did this at a tenth of a batch's
    cost: it runs once per message.)"""
    if unknown := fields.keys() - _PARAMETERS.keys():
        raise TypeError(f"message_create() got an unexpected keyword argument {min(unknown)!r}")
    if missing := _REQUIRED - fields.keys():
        raise TypeError(f"message_create() missing a required keyword argument {min(missing)!r}")
    return {**_DEFAULTS, **fields}


def messages_create_many(items: Sequence[dict[str, Any]]) -> list[Message]:
    """Validate and store several messages in one transaction: all of them or, if any is
    invalid, none (the ValidationError names the item: "emails[3].to: ..."). Asks for one drain
    per priority on commit, however many messages there are."""
    prepared = []
    for index, fields in enumerate(items):
        try:
            prepared.append(_prepare(fields))
        except ValidationError as exc:
            if len(items) == 1:
                raise
            raise ValidationError(
                {f"emails[{index}].{k}": v for k, v in exc.message_dict.items()}
            ) from None
    messages = [p.message for p in prepared]
    for status in {m.status for m in messages}:
        state_machine.check_created(status)
    # No savepoint when called inside a transaction (the API's, a caller's): nothing here is
    # meant to fail and be caught, and SAVEPOINT + RELEASE were two of a send's round trips.
    with transaction.atomic(savepoint=False):
        if connection.features.can_return_rows_from_bulk_insert:
            Message.objects.bulk_create(messages)
        else:  # pragma: no cover (every supported backend returns ids)
            for message in messages:
                message.save()
        # The searchable addresses beyond the first (only messages with several have any).
        if others := address_rows(messages):
            MessageAddress.objects.bulk_create(others)
        if any(p.files for p in prepared):
            MessageAttachment.objects.bulk_create(
                MessageAttachment(
                    message=p.message,
                    filename=f.filename,
                    content_type=f.content_type,
                    content=f.content,
                    size=len(f.content),
                    position=i,
                )
                for p in prepared
                for i, f in enumerate(p.files)
            )
        add_events(
            (m.pk, EventKind.SCHEDULED, f"scheduled for {m.scheduled_at.isoformat()}", _by(m))
            if m.status == MessageStatus.SCHEDULED
            else (m.pk, EventKind.QUEUED, m.source, _by(m))
            for m in messages
        )
        # Who asked for each message (none for the system's own: its created_by is empty).
        for actor in {m.created_by for m in messages if m.created_by is not None}:
            audit_record_many(
                actor=actor,
                action="message.create",
                targets=[m for m in messages if m.created_by == actor],
            )
        for priority in {m.priority for m in messages if m.status == MessageStatus.QUEUED}:
            request_drain_on_commit(priority)
    return messages


def _by(message: Message) -> dict[str, str]:
    """Timeline data naming who created the message, if a person did."""
    return {"actor": actor_name(message.created_by)} if message.created_by else {}


def _by_actor(detail: str, actor: AbstractBaseUser | None) -> tuple[str, dict[str, str]]:
    """A timeline line's detail and data, naming the person who acted (none: the system)."""
    name = actor_name(actor)
    return (f"{detail} by {name}", {"actor": name}) if name else (detail, {})


def message_cancel(
    *, message: Message, reason: str = "", actor: AbstractBaseUser | None = None
) -> bool:
    """Cancel a message that has not been handed to a worker; False if it is too late.
    `actor`: the person who cancelled it, named on the timeline and in the audit log.

    A member of a frozen batch cannot be cancelled: Resend may already hold that batch."""
    with transaction.atomic():
        cancelled = state_machine.move(
            Message.objects.filter(pk=message.pk, batch__isnull=True),
            MessageStatus.CANCELLED,
            from_=UNSENT,
            next_attempt_at=None,
        )
        if cancelled:
            detail, data = _by_actor(reason or "cancelled", actor)
            add_events([(message.pk, EventKind.CANCELLED, detail, data)])
            audit_record(
                actor=actor, action="message.cancel", target=message, detail={"reason": reason}
            )
            notify_campaigns([message], MessageStatus.CANCELLED)
    return bool(cancelled)


def message_retry(*, message: Message, actor: AbstractBaseUser | None = None) -> bool:
    """Give a failed message a fresh round of attempts (a person's decision, from the admin).
    `actor`: that person, named on the timeline and in the audit log.

    Refused (see retry_refusal) for idempotency conflicts, for messages Resend failed after
    accepting them, for members of a batch (Resend may already hold that email, and a batch
    member is never sent on its own) and past the retry window (Resend has forgotten the key:
    the retry would fail as expired at once, or, were it sent, might be a second copy)."""
    now = timezone.now()
    if retry_refusal(message, now=now):
        return False
    with transaction.atomic():
        updated = state_machine.move(
            # The refusal again, in the statement: the row may have changed since it was read
            # (a provider `failed` event processed meanwhile).
            Message.objects.filter(
                pk=message.pk, batch__isnull=True, content_purged_at__isnull=True
            )
            .exclude(failure_code__in=list(RETRY_REFUSALS))
            .exclude(first_attempt_at__lt=retry_window_start(now)),
            MessageStatus.QUEUED,
            from_=MessageStatus.FAILED,
            attempts=0,
            next_attempt_at=None,
            failure_code="",
            queued_at=timezone.now(),
        )
        if updated:
            detail, data = _by_actor("retried by hand", actor)
            add_events([(message.pk, EventKind.QUEUED, detail, data)])
            audit_record(actor=actor, action="message.retry", target=message)
            # It no longer counts as failed; its new outcome will be counted when it comes.
            notify_campaigns([message], MessageStatus.FAILED, count=-1)
            request_drain_on_commit(message.priority)
    return bool(updated)


def message_retry_by_hand(*, message: Message, actor: AbstractBaseUser | None) -> str:
    """A person's Retry (the message's page, the dashboard): queue `message` again, or say
    why not ("" when it was queued again), in the one wording both show."""
    if message.status != MessageStatus.FAILED:
        return f"it is {message.status}, not failed"
    if refusal := retry_refusal(message):
        return refusal
    if not message_retry(message=message, actor=actor):
        return "it changed meanwhile"
    return ""


# Why a failed message may not be retried by hand, by failure code.
RETRY_REFUSALS = {
    FailureCode.IDEMPOTENCY_CONFLICT: (
        "Resend holds another request under its key; check in Resend whether it went"
    ),
    FailureCode.PROVIDER_FAILED: (
        "Resend failed it after accepting it, and would answer a retry under the same key with "
        'its first answer (a false "sent"); send it again as a new message instead'
    ),
}


CONTENT_PURGED = (
    "its content was purged (retention, or its recipient was erased), so a retry would send "
    "an empty email"
)

PAST_RETRY_WINDOW = (
    "its first attempt was more than the retry window (MAILHUB_RETRY_WINDOW_SECONDS) ago and "
    "Resend forgets idempotency keys after 24 h, so a retry could deliver a second copy; "
    "send it again as a new message instead"
)


def retry_refusal(message: Message, *, now: datetime | None = None) -> str:
    """Why `message` may not be retried by hand ("" if it may, as far as its row says)."""
    if message.batch_id is not None:
        return "it is a member of a batch, which only ever goes again as that batch"
    if message.content_purged_at is not None:
        # Its body is gone (retention, or its recipient was erased): a retry would send an
        # empty email.
        return CONTENT_PURGED
    if refusal := RETRY_REFUSALS.get(message.failure_code, ""):
        return refusal
    if retry_window_passed(message.first_attempt_at, now or timezone.now()):
        return PAST_RETRY_WINDOW
    return ""


def _validate_priority(priority: str) -> str:
    if priority not in Priority.values:
        raise ValidationError(
            {"priority": f"Unknown priority {priority!r}: use one of {', '.join(Priority.values)}."}
        )
    return priority


def _validate_schedule(scheduled_at: datetime | None, now: datetime) -> datetime | None:
    """None (send now), or an aware time within MAILHUB_MAX_SCHEDULE_DAYS; a time Python
    cannot place in UTC (year 1 or 9999 with an offset) is out of range, not a traceback."""
    if scheduled_at is None:
        return None
    if not isinstance(scheduled_at, datetime):
        raise ValidationError({"scheduled_at": f"{scheduled_at!r} is not a date and time."})
    if timezone.is_naive(scheduled_at):
        raise ValidationError(
            {"scheduled_at": "The scheduled time has no time zone: add one, e.g. +00:00."}
        )
    validation.check_time_in_range(scheduled_at, "scheduled_at")
    if scheduled_at < now - SCHEDULE_PAST_TOLERANCE:
        raise ValidationError(
            {"scheduled_at": f"The scheduled time {scheduled_at.isoformat()} is in the past."}
        )
    days = settings.MAILHUB_MAX_SCHEDULE_DAYS
    if scheduled_at > now + timedelta(days=days):
        raise ValidationError(
            {
                "scheduled_at": f"The scheduled time {scheduled_at.isoformat()} is more than "
                f"{days} days ahead (MAILHUB_MAX_SCHEDULE_DAYS)."
            }
        )
    return scheduled_at if scheduled_at > now else None


def _validate_attachments(attachments: Sequence[AttachmentInput]) -> list[AttachmentInput]:
    total = 0
    for attachment in attachments:
        if not attachment.filename or validation.has_line_break(attachment.filename):
            raise ValidationError({"attachments": "Every attachment needs a one-line filename."})
        validation.refuse_nul(
            "attachments",
            f"Attachment {attachment.filename!r}",
            attachment.filename,
            attachment.content_type,
        )
        if not attachment.content:
            raise ValidationError({"attachments": f"Attachment {attachment.filename!r} is empty."})
        total += len(attachment.content)
    limit = settings.MAILHUB_MAX_ATTACHMENTS_BYTES
    if total > limit:
        raise ValidationError(
            {
                "attachments": f"Attachments total {total:,} bytes; the limit is {limit:,} bytes "
                "(MAILHUB_MAX_ATTACHMENTS_BYTES)."
            }
        )
    return list(attachments)


def campaign_messages_cancel(*, campaign_id: int, detail: str = "campaign cancelled") -> int:
    """Cancel every unsent message of a campaign (queued or scheduled, not frozen into a
    batch: Resend may already hold a frozen batch, which finishes), in chunks, each its own
    transaction, announced to the counters like any cancel; returns how many. Call it after
    the campaign is held (queueing.holds.campaign_hold), so workers take no new ones."""
    unsent = Message.objects.filter(
        campaign_id=campaign_id, is_test=False, status__in=UNSENT, batch__isnull=True
    )
    total = 0
    while True:
        ids = list(unsent.order_by().values_list("pk", flat=True)[:CANCEL_CHUNK])
        if not ids:
            return total
        with transaction.atomic():
            # Locked before they are read: a row a worker holds while preparing it (see
            # queueing.claims.hold_messages) is waited for and read as that worker left it,
            # so only what this statement cancels gets a "cancelled" event.
            locked = list(
                unsent.filter(pk__in=ids).select_for_update().values_list("pk", flat=True)
            )
            count = state_machine.move(
                Message.objects.filter(pk__in=locked),
                MessageStatus.CANCELLED,
                from_=UNSENT,
                next_attempt_at=None,
            )
            add_events((pk, EventKind.CANCELLED, detail, {}) for pk in locked)
            if count:
                campaign_messages_changed.send(
                    sender=Message, changes={(campaign_id, MessageStatus.CANCELLED): count}
                )
        total += count


# --- the HTTP API's additions (beside the services above, which they call) ---


def messages_create_each(
    items: Sequence[dict[str, Any]],
) -> tuple[list[Message], dict[int, ValidationError]]:
    """Store the valid ones of `items` (a permissive batch) and report the others by index.

    Each item is checked alone; the valid ones are then stored together through
    messages_create_many (one transaction, one drain per priority), which checks them once
    more: a small cost that keeps one path for storing."""
    valid: list[dict[str, Any]] = []
    refused: dict[int, ValidationError] = {}
    for index, fields in enumerate(items):
        try:
            _prepare(fields)
        except ValidationError as exc:
            refused[index] = exc
        else:
            valid.append(fields)
    return (messages_create_many(valid) if valid else []), refused


def message_reschedule(*, message: Message, scheduled_at: datetime) -> bool:
    """Move a scheduled message to `scheduled_at`; False if it is no longer scheduled.

    A time in the past (beyond a minute's tolerance) or without a zone is a ValidationError;
    a time that has come queues the message now (scheduled → queued)."""
    now = timezone.now()
    due = _validate_schedule(scheduled_at, now) is None
    with transaction.atomic():
        if due:
            moved = state_machine.move(
                Message.objects.filter(pk=message.pk),
                MessageStatus.QUEUED,
                from_=MessageStatus.SCHEDULED,
                queued_at=now,
            )
            detail = "rescheduled to now"
        else:
            moved = state_machine.move(
                Message.objects.filter(pk=message.pk),
                MessageStatus.SCHEDULED,
                from_=MessageStatus.SCHEDULED,
                scheduled_at=scheduled_at,
                updated_at=now,
            )
            detail = f"rescheduled for {scheduled_at.isoformat()}"
        if moved:
            kind = EventKind.QUEUED if due else EventKind.SCHEDULED
            add_events([(message.pk, kind, detail, {})])
            if due:
                request_drain_on_commit(message.priority)
    return bool(moved)
