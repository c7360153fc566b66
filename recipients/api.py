"""The HTTP API's recipients endpoints (scope `recipients`; wired at /api by mailhub/api.py).

Thin, like queueing.api: the schemas validate (recipients.api_schemas), the writes go through
recipients.services (recipients.api_upsert decides which recipient a create-or-update means),
the reads through recipients.selectors, and every refusal is an ApiRefused in Resend's shape.

A recipient is named in the path by its id (`/recipients/42`), its address
(`/recipients/ada@example.org`) or its external id (`/recipients/external_id:u-42`).
Recipients are shared by the whole fleet: any key with the scope sees all of them.
"""

from typing import Any

from django.db import transaction
from django.http import HttpRequest
from ninja import Router, Status

from queueing.api_auth import ApiKeyAuth
from queueing.api_errors import ApiRefused
from queueing.api_schemas import ErrorBody
from queueing.models import ApiKey, ApiScope
from queueing.resend import errors
from recipients import selectors, services
from recipients.api_schemas import ListsInput, RecipientDeleted, RecipientInput, RecipientObject
from recipients.api_upsert import lists_of, recipient_upsert, suppression_refusal
from recipients.models import Recipient, Source, Suppression

router = Router(auth=ApiKeyAuth(ApiScope.RECIPIENTS), tags=["Recipients"])

EXTERNAL_ID_PREFIX = "external_id:"
# A database id has at most 18 digits (a signed 64-bit integer); longer is no recipient.
MAX_ID_DIGITS = 18


def _errors(*codes: int) -> dict[int, type[ErrorBody]]:
    return dict.fromkeys((400, 401, 403, 422, 429, *codes), ErrorBody)


@router.post(
    "/recipients",
    response={200: RecipientObject, 201: RecipientObject, **_errors(409)},
    summary="Create or update a recipient",
)
def upsert_recipient(request: HttpRequest, payload: RecipientInput) -> Status:
    upserted = recipient_upsert(payload)
    return Status(201 if upserted.created else 200, recipient_object(upserted.recipient))


@router.get(
    "/recipients/{recipient}",
    response={200: RecipientObject, **_errors(404)},
    summary="Retrieve a recipient, with its subscriptions and suppression",
)
def get_recipient(request: HttpRequest, recipient: str) -> dict[str, Any]:
    return recipient_object(_recipient(recipient))


@router.post(
    "/recipients/{recipient}/unsubscribe",
    response={200: RecipientObject, **_errors(404)},
    summary="Unsubscribe from lists, or from all marketing email",
)
def unsubscribe(request: HttpRequest, recipient: str, payload: ListsInput) -> dict[str, Any]:
    lists = lists_of(payload.lists)
    detail = f"through the API key {_key_label(request.auth)}"
    with transaction.atomic():
        person = _recipient(recipient, lock=True)
        if payload.lists is None:
            services.recipient_unsubscribe_all(recipient=person, source=Source.API, detail=detail)
        for mailing_list in lists:
            subscription = selectors.subscription_of(person, mailing_list)
            if subscription is not None:
                services.subscription_unsubscribe(
                    subscription=subscription, source=Source.API, detail=detail
                )
    return recipient_object(person)


@router.post(
    "/recipients/{recipient}/resubscribe",
    response={200: RecipientObject, **_errors(404)},
    summary="Resubscribe to lists, or undo an unsubscribe from all marketing email",
)
def resubscribe(request: HttpRequest, recipient: str, payload: ListsInput) -> dict[str, Any]:
    lists = lists_of(payload.lists)
    with transaction.atomic():
        person = _recipient(recipient, lock=True)
        suppression = selectors.suppression_for(person.email)
        own_unsubscribe = suppression is not None and (
            (suppression.reason, suppression.scope)
            == (Suppression.Reason.UNSUBSCRIBE, Suppression.Scope.MARKETING)
        )
        if suppression is not None and (lists or not own_unsubscribe):
            raise suppression_refusal(suppression)
        if payload.lists is None:
            services.recipient_resubscribe_all(recipient=person, source=Source.API)
        for mailing_list in lists:
            services.subscription_create(recipient=person, list=mailing_list, source=Source.API)
    return recipient_object(person)


@router.delete(
    "/recipients/{recipient}",
    response={200: RecipientDeleted, **_errors(404)},
    summary="Delete a recipient (the address stays suppressed, the consent history stays)",
)
def delete_recipient(request: HttpRequest, recipient: str) -> dict[str, Any]:
    with transaction.atomic():
        person = _recipient(recipient, lock=True)
        pk = person.pk
        services.recipient_delete(
            recipient=person,
            source=Source.API,
            detail=f"through the API key {_key_label(request.auth)}",
        )
    return {"object": "recipient", "id": pk, "deleted": True}


def _recipient(key: str, *, lock: bool = False) -> Recipient:
    """The recipient the path names; 404 if none, 422 if the path names nothing."""
    if key.isascii() and key.isdigit():
        found = selectors.recipient_by_id(int(key)) if len(key) <= MAX_ID_DIGITS else None
    elif key.startswith(EXTERNAL_ID_PREFIX):
        found = selectors.recipient_by_external_id(key.removeprefix(EXTERNAL_ID_PREFIX))
    elif "@" in key:
        found = selectors.recipient_by_email(key)
    else:
        raise ApiRefused(
            errors.validation_error(
                "Name the recipient by its id, its email address, or "
                f"`{EXTERNAL_ID_PREFIX}` followed by its external id."
            )
        )
    if found is None:
        raise ApiRefused(errors.not_found("Recipient not found."))
    if lock:  # the row, held until the change commits: two changes at once take turns
        found = Recipient.objects.select_for_update().get(pk=found.pk)
    return found


def _key_label(api_key: ApiKey) -> str:
    return f"{api_key.name} [{api_key.prefix}…]"


def recipient_object(recipient: Recipient) -> dict[str, Any]:
    suppression = selectors.suppression_for(recipient.email)
    return {
        "object": "recipient",
        "id": recipient.pk,
        "email": recipient.email,
        "external_id": recipient.external_id,
        "first_name": recipient.first_name,
        "last_name": recipient.last_name,
        "attributes": recipient.attributes,
        "created_at": recipient.created_at,
        "updated_at": recipient.updated_at,
        "subscriptions": [
            {
                "list": sub.list.slug,
                "status": sub.status,
                "source": sub.source,
                "receives_campaigns": sub.receives_campaigns,
                "created_at": sub.created_at,
                "subscribed_at": sub.subscribed_at,
                "confirmed_at": sub.confirmed_at,
                "unsubscribed_at": sub.unsubscribed_at,
                "confirmation_sent_at": sub.confirmation_sent_at,
            }
            for sub in selectors.recipient_subscriptions(recipient)
        ],
        "suppression": None
        if suppression is None
        else {
            "reason": suppression.reason,
            "scope": suppression.scope,
            "created_at": suppression.created_at,
        },
    }
