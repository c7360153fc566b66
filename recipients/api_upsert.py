"""POST /recipients: which recipient a request means, and the one transaction that creates or
updates it and subscribes it to lists (through subscription_create, so double opt-in applies).

Identity, decided before anything is written:
- `external_id` is looked up first, then `email`; if both find rows, they must be the same;
- a recipient found by its external id keeps its address: another `email` is refused (consent
  was given for an address; delete the recipient and create the new one instead);
- a recipient found by address that has another external id is refused (a caller mixing up
  two people is likelier than a rename); one with none gets the given one;
- neither found: created, which needs `email`; an address deleted before (suppressed with the
  reason "deleted") is refused, so a sync job cannot bring erased data back.

Subscribing an address that is suppressed is refused: for any reason but the person's own
"unsubscribe from everything" only staff can lift it, and that one is lifted by
POST /recipients/{recipient}/resubscribe first, on the person's word. Lists the recipient is
already on (subscribed, or pending) are left alone then. Every refusal raises ApiRefused, and
nothing is stored half-way: all of it is one transaction.
"""

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from queueing.api_errors import ApiRefused
from queueing.resend import errors
from recipients import selectors, services
from recipients.api_schemas import RecipientInput
from recipients.models import List, Recipient, Source, Subscription, Suppression
from recipients.normalise import normalise_email


@dataclass(frozen=True)
class Upserted:
    recipient: Recipient
    created: bool


def lists_of(slugs: list[str] | None) -> list[List]:
    """The lists named by `slugs`, in the order given, each once; 422 for an unknown slug."""
    if not slugs:
        return []
    wanted = list(dict.fromkeys(slugs))
    found = {lst.slug: lst for lst in List.objects.filter(slug__in=wanted)}
    for slug in wanted:
        if slug not in found:
            raise ApiRefused(
                errors.validation_error(f"Invalid `lists` field. Unknown list `{slug}`.")
            )
    return [found[slug] for slug in wanted]


def refusal_of(exc: ValidationError) -> ApiRefused:
    """A service's ValidationError (keyed by field) as Resend's 422 naming the field."""
    if hasattr(exc, "error_dict"):
        field, problems = next(iter(exc.message_dict.items()))
        return ApiRefused(errors.validation_error(f"Invalid `{field}` field. {problems[0]}"))
    return ApiRefused(errors.validation_error(exc.messages[0]))


def suppression_refusal(suppression: Suppression) -> ApiRefused:
    """Why a suppressed address cannot be (re)subscribed, and who can change that."""
    if (suppression.reason, suppression.scope) == (
        Suppression.Reason.UNSUBSCRIBE,
        Suppression.Scope.MARKETING,
    ):
        why = (
            "The address unsubscribed from all marketing email. If the person asks to receive "
            "it again, call POST /recipients/{recipient}/resubscribe without `lists` first."
        )
    else:
        why = (
            f"The address is suppressed ({suppression.get_reason_display()}, "
            f"{suppression.get_scope_display().lower()}); the API cannot lift that: staff can, "
            "in the admin, with a reason."
        )
    return ApiRefused(errors.validation_error(why))


def recipient_upsert(payload: RecipientInput) -> Upserted:
    lists = lists_of(payload.lists)
    address = _address(payload.email)
    try:
        with transaction.atomic():
            recipient = _find(payload.external_id, address)
            suppression = selectors.suppression_for(recipient.email if recipient else address)
            joining = _lists_to_join(recipient, lists)
            if suppression is not None and joining:
                raise suppression_refusal(suppression)
            created = recipient is None
            if recipient is None:
                recipient = _create(payload, address, suppression)
            else:
                services.recipient_update(
                    recipient=recipient,
                    first_name=payload.first_name,
                    last_name=payload.last_name,
                    external_id=payload.external_id,
                    attributes=payload.attributes,
                )
            # Only lists the person has no subscription to: one they are on stays as it is,
            # one they left stays left (rejoining is `resubscribe`).
            for mailing_list in joining if suppression is None else ():
                services.subscription_create(
                    recipient=recipient, list=mailing_list, source=Source.API
                )
    except ValidationError as exc:
        raise refusal_of(exc) from None
    except IntegrityError:  # a request for the same person won the race
        raise ApiRefused(
            errors.validation_error(
                "This recipient was changed by another request at the same time; try again.",
                status=409,
            )
        ) from None
    return Upserted(recipient, created)


def _address(email: str | None) -> str | None:
    if email is None:
        return None
    try:
        return normalise_email(email)
    except ValidationError as exc:
        raise ApiRefused(
            errors.validation_error(f"Invalid `email` field. {exc.messages[0]}")
        ) from None


def _find(external_id: str | None, address: str | None) -> Recipient | None:
    by_id = selectors.recipient_by_external_id(external_id) if external_id else None
    by_address = selectors.recipient_by_email(address) if address else None
    if by_id is not None:
        if by_address is not None and by_address.pk != by_id.pk:
            raise ApiRefused(
                errors.validation_error(
                    f"The external id `{external_id}` and the address `{address}` belong to "
                    "two different recipients."
                )
            )
        if address is not None and address != by_id.email:
            raise ApiRefused(
                errors.validation_error(
                    f"Invalid `email` field. The recipient with the external id `{external_id}` "
                    "has another address, and an address cannot be changed: delete that "
                    "recipient and create the new one."
                )
            )
        return Recipient.objects.select_for_update().get(pk=by_id.pk)
    if by_address is not None:
        if external_id is not None and by_address.external_id not in (None, external_id):
            raise ApiRefused(
                errors.validation_error(
                    f"Invalid `external_id` field. The recipient with the address `{address}` "
                    f"has another external id, `{by_address.external_id}`."
                )
            )
        return Recipient.objects.select_for_update().get(pk=by_address.pk)
    return None


def _lists_to_join(recipient: Recipient | None, lists: list[List]) -> list[List]:
    """The lists the recipient has no subscription to yet: those a request would change. A
    list the person left stays left: leaving was their word, and a sync job repeating an old
    request must not undo it (rejoining is `resubscribe` with the list named)."""
    if recipient is None or not lists:
        return lists
    known = set(
        Subscription.objects.filter(recipient=recipient, list__in=lists).values_list(
            "list_id", flat=True
        )
    )
    return [lst for lst in lists if lst.pk not in known]


def _create(
    payload: RecipientInput, address: str | None, suppression: Suppression | None
) -> Recipient:
    if address is None:
        raise ApiRefused(
            errors.error(
                errors.MISSING_REQUIRED_FIELD,
                f"Missing `email` field: no recipient has the external id "
                f"`{payload.external_id}`, and creating one needs its address.",
            )
        )
    if suppression is not None and suppression.reason == Suppression.Reason.DELETED:
        raise ApiRefused(
            errors.validation_error(
                "This address belonged to a recipient who was deleted, and stays suppressed; "
                "staff can lift the suppression in the admin (with a reason) if the person "
                "comes back."
            )
        )
    fields: dict[str, Any] = {
        "email": address,
        "first_name": payload.first_name or "",
        "last_name": payload.last_name or "",
        "external_id": payload.external_id,
        "attributes": payload.attributes,
    }
    recipient, _ = services.recipient_get_or_create(**fields)
    return recipient
