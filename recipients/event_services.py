"""The writes that provider events make on recipients (decided in recipients.event_rules).

Each is idempotent: the same event applied twice (a reprocess, a duplicate webhook) changes
nothing the second time, and records nothing on the timeline either.
"""

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from audit.services import audit_record
from queueing.hooks import ProviderEvent
from recipients.models import (
    Recipient,
    Subscription,
    SubscriptionEvent,
    Suppression,
    SuppressionReview,
)
from recipients.services import subscription_unsubscribe
from recipients.timeline import event_record

Reason = Suppression.Reason
# The timeline's source for what provider events do.
EVENT_SOURCE = "provider_event"
# How much of a receiving server's words is kept in a note.
DIAGNOSTIC_CHARS = 500

# A stronger reason replaces a weaker one on an existing suppression; the earlier stays in the
# note. A complaint is the person's own act, so it outranks a hard bounce; a global unsubscribe
# is the weakest (marketing only). Staff's suppressions and deletions are decisions an event
# does not overrule (only widened to all mail, for a marketing-only staff suppression).
REASON_STRENGTH = {
    Reason.UNSUBSCRIBE: 0,
    Reason.SOFT_BOUNCES: 1,
    Reason.PROVIDER_SUPPRESSED: 2,
    Reason.HARD_BOUNCE: 3,
    Reason.COMPLAINT: 4,
}


def cause_text(event: ProviderEvent) -> str:
    """What happened, for people: the bounce's words, the event, message and campaign."""
    where = [f"event #{event.raw_event_id}"]
    if event.message_id is not None:
        where.append(f"message #{event.message_id}")
    if event.campaign_id is not None:
        where.append(f"campaign #{event.campaign_id}")
    if event.is_test:
        where.append("a test send")
    what = []
    if event.bounce_type:
        what.append("/".join(filter(None, [event.bounce_type, event.bounce_subtype])) + " bounce")
    if event.diagnostic:
        what.append(event.diagnostic[:DIAGNOSTIC_CHARS])
    return f"{'; '.join(what)} ({', '.join(where)})" if what else ", ".join(where)


def suppression_from_event(*, email: str, reason: str, event: ProviderEvent) -> bool:
    """Suppress `email` (canonical form) for all mail because of `event`, keeping the cause.

    An existing suppression is not duplicated: it is left as it is unless this reason is
    stronger (REASON_STRENGTH) or it covered marketing mail only; then its reason, scope and
    cause become this event's and the earlier reason goes into the note. True if anything
    changed."""
    scope_all = Suppression.Scope.ALL
    cause = {
        "raw_event_id": event.raw_event_id,
        "message_id": event.message_id,
        "campaign_id": event.campaign_id,
    }
    what = f"{Reason(reason).label}: {cause_text(event)}"
    with transaction.atomic():
        suppression = Suppression.objects.select_for_update().filter(email=email).first()
        if suppression is None:
            Suppression.objects.create(
                email=email, reason=reason, scope=scope_all, note=what, **cause
            )
        else:
            if suppression.raw_event_id == event.raw_event_id:
                return False  # this very event made it (applied again)
            widen = suppression.scope != scope_all
            stronger = REASON_STRENGTH.get(reason, 0) > REASON_STRENGTH.get(
                suppression.reason, len(REASON_STRENGTH)
            )
            if not (widen or stronger):
                return False
            was = (
                f"was: {suppression.get_reason_display()} "
                f"({suppression.get_scope_display().lower()}) "
                f"since {suppression.created_at:%Y-%m-%d}"
            )
            suppression.note = "\n".join(filter(None, [suppression.note, was, what]))
            suppression.reason, suppression.scope = reason, scope_all
            for name, value in cause.items():
                setattr(suppression, name, value)
            suppression.save(update_fields=["reason", "scope", "note", *cause])
        event_record(
            kind=SubscriptionEvent.Kind.SUPPRESSED,
            email=email,
            recipient=Recipient.objects.filter(email=email).first(),
            source=EVENT_SOURCE,
            detail=f"{Reason(reason).label} (all mail): {cause_text(event)}",
        )
    return True


def complaint_unsubscribe_all(*, email: str, event: ProviderEvent) -> int:
    """A spam complaint: take the person off every list they are on (pending ones too), each
    through subscription_unsubscribe with a timeline line saying why, so that lifting the
    suppression later subscribes them to nothing. Returns how many lists they left; 0 for an
    address without a recipient (deleted, or never one)."""
    recipient = Recipient.objects.filter(email=email).first()
    if recipient is None:
        return 0
    left = 0
    subscriptions = (
        Subscription.objects.filter(recipient=recipient)
        .exclude(status=Subscription.Status.UNSUBSCRIBED)
        .select_related("recipient", "list")
        .order_by("list_id")
    )
    for subscription in subscriptions:
        left += subscription_unsubscribe(
            subscription=subscription,
            source=EVENT_SOURCE,
            detail=f"unsubscribed from {subscription.list.name}: spam complaint "
            f"({cause_text(event)})",
        )
    return left


def suppression_review_record(
    *, event: ProviderEvent, reason: str, addresses: list[str]
) -> SuppressionReview:
    """Flag for staff an event that names several addresses without saying which one it is
    about (once per event)."""
    review, _ = SuppressionReview.objects.get_or_create(
        raw_event_id=event.raw_event_id,
        defaults={
            "kind": event.kind,
            "reason": reason,
            "addresses": addresses,
            "message_id": event.message_id,
            "campaign_id": event.campaign_id,
            "detail": cause_text(event),
            "occurred_at": event.occurred_at,
        },
    )
    return review


def suppression_reviews_close(
    *, reviews: QuerySet[SuppressionReview], reviewed_by: AbstractBaseUser
) -> int:
    """Mark open reviews reviewed (staff have suppressed whom they concern, or decided that
    nobody is to be); audited. Returns how many were open."""
    with transaction.atomic():
        open_ids = list(reviews.filter(reviewed_at__isnull=True).values_list("pk", flat=True))
        closed = SuppressionReview.objects.filter(pk__in=open_ids).update(
            reviewed_at=timezone.now(), reviewed_by=reviewed_by
        )
        if closed:
            audit_record(
                actor=reviewed_by,
                action="suppression_review.close",
                target_label=f"{closed} suppression review(s)",
                detail={"ids": open_ids},
            )
    return closed
