"""Every write on recipients, lists, subscriptions and suppressions.

Each change of consent is recorded as a SubscriptionEvent in the same transaction as the change,
so the timeline can always explain why someone is (not) receiving mail. `created_by` is the
person who acted: their changes are also written to the audit log (none: the system or the
recipient themselves, not audited).
"""

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from recipients.confirmation import confirmation_send
from recipients.models import (
    List,
    Recipient,
    Source,
    Subscription,
    SubscriptionEvent,
    Suppression,
    validate_list_slug,
)
from recipients.normalise import normalise_email
from recipients.timeline import event_record

Kind = SubscriptionEvent.Kind
Status = Subscription.Status

# A stronger suppression replaces a weaker one; never the other way round.
SCOPE_STRENGTH = {Suppression.Scope.MARKETING: 1, Suppression.Scope.ALL: 2}
# The fields subscription_create writes on an existing row (besides the per-branch ones).
CHANGED_ON_SUBSCRIBE = ["status", "source", "unsubscribed_at", "updated_at"]


def recipient_get_or_create(
    *,
    email: str,
    first_name: str = "",
    last_name: str = "",
    external_id: str | None = None,
    attributes: dict[str, Any] | None = None,
) -> tuple[Recipient, bool]:
    """The recipient with this address (created with the given details if new).

    Raises ValidationError (keyed by field) for a malformed address or a taken external_id."""
    try:
        address = normalise_email(email)
    except ValidationError as exc:
        raise ValidationError({"email": exc.messages}) from None
    existing = Recipient.objects.filter(email=address).first()
    if existing:
        return existing, False
    recipient = Recipient(
        email=address,
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        external_id=(external_id or "").strip() or None,
        attributes=attributes or {},
    )
    recipient.full_clean(validate_unique=True)
    with transaction.atomic():
        recipient.save()
    return recipient, True


def list_get_or_create(*, slug: str, name: str = "") -> tuple[List, bool]:
    """The list with this slug; created as a single opt-in list if it does not exist."""
    validate_list_slug(slug)
    existing = List.objects.filter(slug=slug).first()
    if existing:
        return existing, False
    new = List(slug=slug, name=name or slug.replace("-", " ").capitalize())
    new.full_clean()
    new.save()
    return new, True


def subscription_create(
    *,
    recipient: Recipient,
    list: List,
    source: str,
    created_by: AbstractBaseUser | None = None,
) -> Subscription:
    """Subscribe `recipient` to `list`; idempotent.

    On a double opt-in list the subscription stays pending and a confirmation email is queued
    (again, if it was already pending), but at most one per MAILHUB_CONFIRMATION_RESEND_SECONDS
    (recipients.confirmation): unticking and re-ticking a list, or staff subscribing someone
    twice, cannot flood a mailbox. It counts for campaigns only once confirmed."""
    now = timezone.now()
    with transaction.atomic():
        subscription, created = Subscription.objects.select_for_update().get_or_create(
            recipient=recipient, list=list, defaults={"status": Status.PENDING, "source": source}
        )
        if subscription.status == Status.SUBSCRIBED:
            return subscription
        subscription.source = source
        subscription.unsubscribed_at = None
        if list.is_double_opt_in:
            subscription.status = Status.PENDING
            subscription.confirmed_at = None
            # Not confirmation_sent_at: confirmation_send owns it (a conditional update).
            subscription.save(update_fields=[*CHANGED_ON_SUBSCRIBE, "confirmed_at"])
            confirmation_send(subscription=subscription, source=source, created_by=created_by)
            _audit_subscription(created_by, "subscription.create", subscription)
            return subscription
        subscription.status = Status.SUBSCRIBED
        subscription.subscribed_at = now
        subscription.save(update_fields=[*CHANGED_ON_SUBSCRIBE, "subscribed_at"])
        _audit_subscription(created_by, "subscription.create", subscription)
        event_record(
            kind=Kind.SUBSCRIBED,
            email=recipient.email,
            recipient=recipient,
            list=list,
            source=source,
            detail="subscribed" if created else "subscribed again",
            created_by=created_by,
        )
    return subscription


def _audit_subscription(actor: AbstractBaseUser | None, action: str, sub: Subscription) -> None:
    audit_record(
        actor=actor,
        action=action,
        target=sub.recipient,
        detail={"list": sub.list.slug, "status": sub.status},
    )


def subscription_confirm(*, subscription: Subscription, source: str = Source.FORM) -> bool:
    """Double opt-in: the address owner confirmed. False if there was nothing to confirm
    (already confirmed, or unsubscribed since the email was sent)."""
    now = timezone.now()
    with transaction.atomic():
        updated = Subscription.objects.filter(pk=subscription.pk, status=Status.PENDING).update(
            status=Status.SUBSCRIBED, subscribed_at=now, confirmed_at=now, updated_at=now
        )
        if not updated:
            return False
        subscription.refresh_from_db()
        event_record(
            kind=Kind.CONFIRMED,
            email=subscription.recipient.email,
            recipient=subscription.recipient,
            list=subscription.list,
            source=source,
            detail="confirmed through the link in the confirmation email",
        )
    return True


def subscription_unsubscribe(
    *,
    subscription: Subscription,
    source: str,
    detail: str = "",
    created_by: AbstractBaseUser | None = None,
) -> bool:
    """Take a recipient off one list; False if they were already off it."""
    now = timezone.now()
    with transaction.atomic():
        updated = (
            Subscription.objects.filter(pk=subscription.pk)
            .exclude(status=Status.UNSUBSCRIBED)
            .update(status=Status.UNSUBSCRIBED, unsubscribed_at=now, updated_at=now)
        )
        if not updated:
            return False
        subscription.refresh_from_db()
        _audit_subscription(created_by, "subscription.unsubscribe", subscription)
        event_record(
            kind=Kind.UNSUBSCRIBED,
            email=subscription.recipient.email,
            recipient=subscription.recipient,
            list=subscription.list,
            source=source,
            detail=detail or f"unsubscribed from {subscription.list.name}",
            created_by=created_by,
        )
    return True


def recipient_unsubscribe(
    *, recipient: Recipient, list: List | None = None, source: str, detail: str = ""
) -> None:
    """What an unsubscribe link does: leave `list`, or with no list (or one the recipient is
    not on) stop all marketing mail. Never fails: whoever clicks must end up unsubscribed."""
    subscription = (
        Subscription.objects.filter(recipient=recipient, list=list).first() if list else None
    )
    if subscription is not None:
        subscription_unsubscribe(subscription=subscription, source=source, detail=detail)
    else:
        recipient_unsubscribe_all(recipient=recipient, source=source, detail=detail)


def recipient_unsubscribe_all(*, recipient: Recipient, source: str, detail: str = "") -> None:
    """Stop all marketing mail to this person (a marketing-scope suppression); transactional
    mail such as password resets still reaches them."""
    with transaction.atomic():
        suppression_create(
            email=recipient.email,
            reason=Suppression.Reason.UNSUBSCRIBE,
            scope=Suppression.Scope.MARKETING,
            note=detail,
            source=source,
        )
        event_record(
            kind=Kind.UNSUBSCRIBED,
            email=recipient.email,
            recipient=recipient,
            source=source,
            detail=detail or "unsubscribed from all marketing email",
        )


def recipient_resubscribe_all(*, recipient: Recipient, source: str) -> bool:
    """Undo the person's own global unsubscribe. Never lifts a bounce, complaint or staff
    suppression: those are not the recipient's to remove."""
    with transaction.atomic():
        deleted, _ = Suppression.objects.filter(
            email=recipient.email,
            reason=Suppression.Reason.UNSUBSCRIBE,
            scope=Suppression.Scope.MARKETING,
        ).delete()
        if deleted:
            event_record(
                kind=Kind.UNSUPPRESSED,
                email=recipient.email,
                recipient=recipient,
                source=source,
                detail="marketing email turned back on by the recipient",
            )
    return bool(deleted)


def suppression_create(
    *,
    email: str,
    reason: str,
    scope: str = Suppression.Scope.ALL,
    note: str = "",
    source: str = "",
    created_by: AbstractBaseUser | None = None,
) -> Suppression:
    """Suppress an address (bounces and complaints from webhooks, staff, unsubscribes).

    Idempotent; an existing suppression is widened (marketing → all) but never narrowed."""
    try:
        address = normalise_email(email)
    except ValidationError as exc:
        raise ValidationError({"email": exc.messages}) from None
    if reason not in Suppression.Reason.values:
        raise ValidationError({"reason": f"Unknown reason {reason!r}."})
    if scope not in Suppression.Scope.values:
        raise ValidationError({"scope": f"Unknown scope {scope!r}."})
    with transaction.atomic():
        suppression, created = Suppression.objects.select_for_update().get_or_create(
            email=address, defaults={"reason": reason, "scope": scope, "note": note}
        )
        if not created:
            if SCOPE_STRENGTH[scope] <= SCOPE_STRENGTH[suppression.scope]:
                return suppression
            suppression.reason, suppression.scope = reason, scope
            suppression.note = "\n".join(filter(None, [suppression.note, note]))
            suppression.save(update_fields=["reason", "scope", "note"])
        audit_record(
            actor=created_by,
            action="suppression.create",
            target_label=address,
            detail={"reason": suppression.reason, "scope": suppression.scope, "note": note},
        )
        event_record(
            kind=Kind.SUPPRESSED,
            email=address,
            recipient=Recipient.objects.filter(email=address).first(),
            source=source,
            detail=f"{suppression.get_reason_display()} ({suppression.get_scope_display().lower()})"
            + (f": {note}" if note else ""),
            created_by=created_by,
        )
    return suppression


def suppression_delete(
    *, email: str, reason: str, source: str = "", created_by: AbstractBaseUser | None = None
) -> bool:
    """Lift a suppression; a person must say why (kept on the timeline). False if none."""
    if not reason.strip():
        raise ValidationError({"reason": "Say why the suppression is lifted."})
    address = email.strip().lower()
    with transaction.atomic():
        suppression = Suppression.objects.select_for_update().filter(email=address).first()
        if suppression is None:
            return False
        was = f"{suppression.get_reason_display()} ({suppression.get_scope_display().lower()})"
        suppression.delete()
        audit_record(
            actor=created_by,
            action="suppression.lift",
            target_label=address,
            detail={"was": was, "reason": reason.strip()},
        )
        event_record(
            kind=Kind.UNSUPPRESSED,
            email=address,
            recipient=Recipient.objects.filter(email=address).first(),
            source=source,
            detail=f"lifted {was}: {reason.strip()}",
            created_by=created_by,
        )
    return True
