"""Every write on recipients, lists, subscriptions and suppressions.

Each change of consent is recorded as a SubscriptionEvent in the same transaction as the change,
so the timeline can always explain why someone is (not) receiving mail. `created_by` is the
person who acted: their changes are also written to the audit log (none: the system or the
recipient themselves, not audited).
"""

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
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


def recipient_update(
    *,
    recipient: Recipient,
    first_name: str | None = None,
    last_name: str | None = None,
    external_id: str | None = None,
    attributes: dict[str, Any] | None = None,
    created_by: AbstractBaseUser | None = None,
) -> list[str]:
    """Change the given fields (None leaves a field as it is; an empty external_id clears it)
    and return the names of those that changed. The address is not changeable: consent was
    given for it.

    Raises ValidationError keyed by field: too long, not a JSON object, an external_id
    another recipient has."""
    if attributes is not None and not isinstance(attributes, dict):
        raise ValidationError({"attributes": "The attributes must be a JSON object."})
    given: dict[str, Any] = {}
    if first_name is not None:
        given["first_name"] = first_name.strip()
    if last_name is not None:
        given["last_name"] = last_name.strip()
    if external_id is not None:
        given["external_id"] = external_id.strip() or None
    if attributes is not None:
        given["attributes"] = attributes
    changed = [name for name, value in given.items() if getattr(recipient, name) != value]
    if not changed:
        return []
    taken = "external_id" in changed and given["external_id"] is not None
    if taken and Recipient.objects.filter(external_id=given["external_id"]).exists():
        # Checked here, not left to full_clean, whose constraint message names no field.
        raise ValidationError({"external_id": "Another recipient has this external id."})
    before = {name: getattr(recipient, name) for name in changed}
    for name in changed:
        setattr(recipient, name, given[name])
    try:
        recipient.full_clean(exclude=["email", "unsubscribe_token"])
    except ValidationError:
        for name, value in before.items():  # the caller's object stays as stored
            setattr(recipient, name, value)
        raise
    try:
        with transaction.atomic():
            recipient.save(update_fields=[*changed, "updated_at"])
            audit_record(
                actor=created_by,
                action="recipient.update",
                target=recipient,
                detail={"fields": changed},
            )
    except IntegrityError:  # another request took the external_id since full_clean looked
        if "external_id" not in changed:
            raise
        raise ValidationError({"external_id": "Another recipient has this external id."}) from None
    return changed


def recipient_delete(
    *,
    recipient: Recipient,
    source: str,
    detail: str = "",
    created_by: AbstractBaseUser | None = None,
) -> Suppression:
    """Delete a person and keep what proves their consent and stops mail to them.

    - The Recipient row goes, and with it names, external id, attributes, the unsubscribe
      token and the Subscription rows; their messages keep their own copy of the address.
    - The address is suppressed for all mail with the reason "deleted" (an earlier reason is
      kept in the note): nothing reaches it again unless staff lift the suppression.
    - The consent timeline stays, keyed by address: its events are detached from the row,
      and each subscription leaves a "deleted" event with its status, source and dates (an
      import writes no per-person event, so the subscription row was the only record)."""
    with transaction.atomic():
        recipient = Recipient.objects.select_for_update().get(pk=recipient.pk)
        address = recipient.email
        for sub in recipient.subscriptions.select_related("list").order_by("list_id"):
            event_record(
                kind=Kind.DELETED,
                email=address,
                list=sub.list,
                source=source,
                detail=f"recipient deleted; the subscription was {_consent_summary(sub)}",
                created_by=created_by,
            )
        SubscriptionEvent.objects.filter(recipient=recipient).update(recipient=None)
        suppression = _suppress_deleted(address, source=source, created_by=created_by)
        event_record(
            kind=Kind.DELETED,
            email=address,
            source=source,
            detail="; ".join(
                filter(
                    None,
                    [
                        f"recipient #{recipient.pk} deleted: names, external id and attributes "
                        "erased, the address kept suppressed",
                        detail,
                    ],
                )
            ),
            created_by=created_by,
        )
        audit_record(
            actor=created_by,
            action="recipient.delete",
            target_label=address,
            detail={"id": recipient.pk},
        )
        recipient.delete()
    return suppression


def _consent_summary(sub: Subscription) -> str:
    parts = [f"{sub.status} (source {sub.source or 'unknown'}"]
    for label, when in (
        ("subscribed", sub.subscribed_at),
        ("confirmed", sub.confirmed_at),
        ("unsubscribed", sub.unsubscribed_at),
    ):
        if when is not None:
            parts.append(f"{label} {when.isoformat(timespec='seconds')}")
    return ", ".join(parts) + ")"


def _suppress_deleted(
    address: str, *, source: str, created_by: AbstractBaseUser | None
) -> Suppression:
    """Suppress `address` for all mail with the reason "deleted", replacing any weaker or
    other reason (deletion is the last word); the earlier one stays in the note."""
    reason, scope = Suppression.Reason.DELETED, Suppression.Scope.ALL
    suppression = Suppression.objects.select_for_update().filter(email=address).first()
    if suppression is None:
        suppression = Suppression.objects.create(email=address, reason=reason, scope=scope)
    elif (suppression.reason, suppression.scope) != (reason, scope):
        was = f"was: {suppression.get_reason_display()} ({suppression.get_scope_display()})"
        suppression.reason, suppression.scope = reason, scope
        suppression.note = "\n".join(filter(None, [suppression.note, was]))
        suppression.save(update_fields=["reason", "scope", "note"])
    audit_record(
        actor=created_by,
        action="suppression.create",
        target_label=address,
        detail={"reason": reason, "scope": scope},
    )
    event_record(
        kind=Kind.SUPPRESSED,
        email=address,
        source=source,
        detail="Recipient deleted (all mail)",
        created_by=created_by,
    )
    return suppression


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
