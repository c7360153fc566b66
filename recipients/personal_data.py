"""A person's right to be forgotten and to see their data (manage.py forget_person and
export_person, and the recipients admin's "Forget" action).

Forgetting erases, in one transaction: the Recipient row with its subscriptions and consent
timeline (also the timeline lines kept by address), soft bounces, the address in suppression
reviews, and, through queueing (which owns those rows), the addresses and bodies of their
messages and the personal fields of their events. What stays is a suppression holding only a
keyed hash of the address (recipients.forgotten), so mail to it is still refused, and an
audit entry saying it was done, without the address."""

from collections import Counter
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q

from audit.services import audit_entries_scrub, audit_record
from queueing.personal_data import ERASED, messages_export, messages_forget, person_message_ids
from recipients.forgotten import forgotten_label
from recipients.models import (
    Recipient,
    SoftBounce,
    SubscriptionEvent,
    Suppression,
    SuppressionReview,
)
from recipients.normalise import normalise_email


class PersonNotFound(Exception):
    """mailhub holds nothing about this address (nothing was changed)."""


@dataclass
class ForgetReport:
    label: str  # the hash the suppression keeps, for the operator's reference
    counts: Counter


def person_address(email: str) -> str:
    """The canonical address; ValidationError saying what is wrong with a malformed one."""
    return normalise_email(email)


def _reviews(address: str):
    return SuppressionReview.objects.filter(addresses__icontains=address)


def _held(address: str, recipient: Recipient | None, message_ids: list[int]) -> bool:
    return bool(
        recipient
        or message_ids
        or Suppression.objects.filter(email=address).exists()
        or SubscriptionEvent.objects.filter(email=address).exists()
        or SoftBounce.objects.filter(email=address).exists()
        or _reviews(address).exists()
    )


def forget_person(*, email: str, actor: AbstractBaseUser | None) -> ForgetReport:
    """Erase everything mailhub holds about `email` but a hashed suppression (see above).
    Raises ValidationError (malformed), PersonNotFound, or queueing's StillSending while
    messages to them are being sent; in each case nothing is changed."""
    address = person_address(email)
    label = forgotten_label(address)
    with transaction.atomic():
        recipient = Recipient.objects.select_for_update().filter(email=address).first()
        message_ids = person_message_ids(address, [recipient.pk] if recipient else [])
        if not _held(address, recipient, message_ids):
            raise PersonNotFound(address)
        counts = messages_forget(address, message_ids)
        if recipient is not None:
            counts["subscriptions"] = recipient.subscriptions.count()
            recipient.delete()  # subscriptions and their timeline go with it
            counts["recipient"] = 1
        counts["consent_events"] = SubscriptionEvent.objects.filter(email=address).delete()[0]
        counts["soft_bounces"] = SoftBounce.objects.filter(email=address).delete()[0]
        for review in _reviews(address):
            review.addresses = [ERASED if a.lower() == address else a for a in review.addresses]
            review.detail = ERASED if address in review.detail.lower() else review.detail
            review.save(update_fields=["addresses", "detail"])
            counts["suppression_reviews"] += 1
        counts["hashed_suppression"] = _keep_hashed_suppression(address, label)
        counts["audit_entries_scrubbed"] = audit_entries_scrub(address, ERASED)
        audit_record(
            actor=actor,
            action="person.forget",
            target_label=f"forgotten person {label[:26]}…",
            detail={**{k: v for k, v in counts.items() if v}, "suppression": label},
        )
    return ForgetReport(label=label, counts=counts)


def _keep_hashed_suppression(address: str, label: str) -> int:
    """Turn the address's suppression into its hashed form (for all mail: a forgotten person
    gets none), or make one; returns 1. The clear row's cause ids stay (they are ids)."""
    clear = Suppression.objects.select_for_update().filter(email=address).first()
    hashed = Suppression.objects.select_for_update().filter(email=label).first()
    if clear is not None and hashed is None:
        clear.email, clear.scope, clear.note = label, Suppression.Scope.ALL, "person forgotten"
        clear.save(update_fields=["email", "scope", "note"])
        return 1
    if clear is not None:
        clear.delete()
    if hashed is None:
        Suppression.objects.create(
            email=label,
            reason=Suppression.Reason.DELETED,
            scope=Suppression.Scope.ALL,
            note="person forgotten",
        )
    else:
        hashed.scope = Suppression.Scope.ALL
        hashed.save(update_fields=["scope"])
    return 1


def export_person(*, email: str, max_messages: int = 10_000) -> dict[str, Any]:
    """Everything mailhub holds about `email`, as JSON-ready data: the recipient, their
    subscriptions and consent timeline, suppressions (clear or hashed), soft bounces,
    suppression reviews naming them, and their messages (the newest `max_messages`, bounded
    fields) with their timelines and raw webhook events. PersonNotFound if there is nothing;
    ValidationError for a malformed address."""
    address = person_address(email)
    recipient = Recipient.objects.filter(email=address).first()
    message_ids = person_message_ids(address, [recipient.pk] if recipient else [])
    if (
        not _held(address, recipient, message_ids)
        and not Suppression.objects.filter(email=forgotten_label(address)).exists()
    ):
        raise PersonNotFound(address)
    return {
        "address": address,
        "recipient": _recipient(recipient),
        "consent_events": list(
            SubscriptionEvent.objects.filter(
                Q(email=address) | Q(recipient=recipient) if recipient else Q(email=address)
            )
            .order_by("created_at", "id")
            .values("kind", "list__slug", "source", "detail", "created_at")
        ),
        "suppressions": list(
            Suppression.objects.filter(email__in=[address, forgotten_label(address)]).values(
                "email", "reason", "scope", "note", "created_at"
            )
        ),
        "soft_bounces": list(
            SoftBounce.objects.filter(email=address).values("message_id", "occurred_at")
        ),
        "suppression_reviews": list(
            _reviews(address).values("kind", "reason", "addresses", "detail", "occurred_at")
        ),
        **messages_export(address, message_ids, max_messages),
    }


def _recipient(recipient: Recipient | None) -> dict[str, Any] | None:
    if recipient is None:
        return None
    return {
        "email": recipient.email,
        "first_name": recipient.first_name,
        "last_name": recipient.last_name,
        "external_id": recipient.external_id,
        "attributes": recipient.attributes,
        "created_at": recipient.created_at,
        "updated_at": recipient.updated_at,
        "subscriptions": list(
            recipient.subscriptions.order_by("list__slug").values(
                "list__slug",
                "list__name",
                "status",
                "source",
                "subscribed_at",
                "confirmed_at",
                "unsubscribed_at",
            )
        ),
    }
