"""Suppression by rule: recipients' listener to provider events (registered in
RecipientsConfig.ready with queueing.hooks.register_event_listener).

- A hard bounce (`Permanent`) or a spam complaint suppresses the address at once, for all
  mail; a complaint also takes the person off every list.
- A soft bounce (`Transient`, `Undetermined`, or a bounce whose type is missing or unknown:
  nobody is hard-suppressed on a guess) is counted; MAILHUB_SOFT_BOUNCE_LIMIT of them within
  MAILHUB_SOFT_BOUNCE_WINDOW_DAYS suppress (recipients.soft_bounces).
- Resend's own `suppressed` event suppresses (Resend would not deliver there anyway).
- Whom: the addresses the event names (ProviderEvent.addresses; for a bounce, the bounced
  ones where Resend says). Several addresses, and nothing narrowing them down from the
  message's `to`: the event is flagged for staff (SuppressionReview) and nobody is suppressed.
- By address, whoever the recipient is: an event for a deleted recipient still suppresses.
- A campaign's test send counts too: a bounce is a bounce, whoever asked for the mail.

Called inside the transaction that applied the events. Each event runs in a savepoint; an
event whose address is malformed is logged and skipped, anything else (the database going
away) raises, so the batch rolls back and stays unprocessed, to be processed again.
"""

import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from queueing.addresses import bare_address
from queueing.hooks import ProviderEvent
from queueing.models import Message
from recipients.event_services import (
    complaint_unsubscribe_all,
    suppression_from_event,
    suppression_review_record,
)
from recipients.models import Suppression
from recipients.normalise import normalise_email
from recipients.soft_bounces import soft_bounce_count, soft_bounces_forget

log = logging.getLogger(__name__)
Reason = Suppression.Reason

SUPPRESSING_KINDS = frozenset({"bounced", "complained", "suppressed"})


def provider_events_apply(events: list[ProviderEvent]) -> None:
    """The listener: apply the rules to each event of the batch that can suppress."""
    for event in events:
        if event.kind not in SUPPRESSING_KINDS:
            continue  # delivered, opened, clicked…: most events, and nothing to do here
        try:
            with transaction.atomic():
                event_apply(event)
        except ValidationError as exc:
            log.warning(
                "provider event #%s (%s) suppresses nobody: %s",
                event.raw_event_id,
                event.type,
                "; ".join(exc.messages),
            )


def reason_of(event: ProviderEvent) -> str:
    """The suppression this event calls for (soft bounces: only once there are enough)."""
    if event.kind == "complained":
        return Reason.COMPLAINT
    if event.kind == "suppressed":
        return Reason.PROVIDER_SUPPRESSED
    if event.bounce_type == "Permanent":
        return Reason.HARD_BOUNCE
    return Reason.SOFT_BOUNCES


def event_apply(event: ProviderEvent) -> None:
    reason = reason_of(event)
    named = named_addresses(event)
    if not named:
        log.warning(
            "provider event #%s (%s) names no address and has no message: nobody suppressed",
            event.raw_event_id,
            event.type,
        )
        return
    # Resend's `data.to` repeats the email's To list, whoever bounced: with cc or bcc, or
    # several To, it cannot tell which address it means, and nobody is suppressed by guess.
    everyone = message_recipients(event) or named
    if len(everyone) > 1 and not narrowed(named, event):
        suppression_review_record(event=event, reason=reason, addresses=everyone)
        return
    for email in named:
        if reason == Reason.SOFT_BOUNCES:
            soft_bounce_apply(email, event)
            continue
        suppression_from_event(email=email, reason=reason, event=event)
        if reason == Reason.COMPLAINT:
            complaint_unsubscribe_all(email=email, event=event)


def soft_bounce_apply(email: str, event: ProviderEvent) -> None:
    if Suppression.objects.filter(email=email, scope=Suppression.Scope.ALL).exists():
        return  # nothing more can reach it; a stronger reason is already there
    count = soft_bounce_count(
        email=email,
        raw_event_id=event.raw_event_id,
        message_id=event.message_id,
        campaign_id=event.campaign_id,
        occurred_at=event.occurred_at,
    )
    if count >= settings.MAILHUB_SOFT_BOUNCE_LIMIT:
        suppression_from_event(email=email, reason=Reason.SOFT_BOUNCES, event=event)
        soft_bounces_forget(email=email)


def message_recipients(event: ProviderEvent) -> list[str]:
    """Every canonical address of the event's message (to, cc, bcc), each once; [] without
    a message."""
    if event.message_id is None:
        return []
    message = Message.objects.filter(pk=event.message_id).only("to", "cc", "bcc").first()
    if message is None:
        return []
    addresses = []
    for address in (*message.to, *message.cc, *message.bcc):
        try:
            addresses.append(canonical(address))
        except ValidationError:
            continue
    return list(dict.fromkeys(addresses))


def named_addresses(event: ProviderEvent) -> list[str]:
    """The canonical addresses the event is about, in its order, each once. A partial payload
    without addresses falls back to its message's recipients (to, cc, bcc)."""
    given = list(event.addresses)
    if not given and event.message_id is not None:
        message = Message.objects.filter(pk=event.message_id).only("to", "cc", "bcc").first()
        if message is not None:
            given = [*message.to, *message.cc, *message.bcc]
    return list(dict.fromkeys(canonical(address) for address in given))


def narrowed(named: list[str], event: ProviderEvent) -> bool:
    """Did the event single out these addresses among the message's `to`? (The core passes
    the bounced ones where Resend says, else all of `data.to`.)"""
    to = event.data.get("to")
    if isinstance(to, str):
        to = [to]
    if not isinstance(to, list):
        return False
    everyone = {bare_address(address) for address in to if isinstance(address, str)}
    return set(named) < everyone


def canonical(address: str) -> str:
    """Raises ValidationError for an address that cannot be one."""
    return normalise_email(bare_address(address) or address)
