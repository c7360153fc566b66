"""The HTTP API's email endpoints, Resend-compatible (wired at /api by mailhub/api.py).

Thin: the schemas validate (Resend's rules first), queueing.api_input turns a request into
message_create's fields, the services write, queueing.selectors read, and every refusal is an
ApiRefused carrying Resend's error. A key sees only the messages it queued.
"""

from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils import timezone
from ninja import Header, Query, Router
from pydantic import BaseModel, Field, field_validator

from queueing import api_input, selectors, services
from queueing.api_auth import ApiKeyAuth
from queueing.api_errors import ApiRefused
from queueing.api_idempotency import run_idempotent
from queueing.api_keys import api_key_actor
from queueing.api_output import email_object
from queueing.api_schemas import (
    BatchAnswer,
    EmailId,
    EmailList,
    EmailObject,
    EmailObjectId,
    ErrorBody,
    SendBatch,
    SendEmail,
    UpdateEmail,
    resend_refusal,
)
from queueing.models import ApiScope, Message, MessageStatus
from queueing.resend import errors, idempotency, rules
from queueing.resend.limits import MAX_IDEMPOTENCY_KEY_LENGTH
from queueing.selectors import DEFAULT_PAGE, MAX_PAGE

router = Router(auth=ApiKeyAuth(ApiScope.SEND), tags=["Emails"])


def _errors(*codes: int) -> dict[int, type[ErrorBody]]:
    """Resend's error answers an operation may give (its body: `ErrorBody`)."""
    return dict.fromkeys((400, 401, 403, 422, 429, *codes), ErrorBody)


# What an operation that reads a body may also answer (mailhub/api_middleware.py): a body
# over MAILHUB_API_MAX_BODY_BYTES, and one that is not `application/json`.
BODY_ERRORS = (413, 415)


class IdempotencyHeader(BaseModel):
    idempotency_key: str | None = Field(
        None,
        alias="Idempotency-Key",
        description="1 to 256 characters. The same key and the same body within 24 hours "
        "answer the first answer again, and queue nothing new.",
        json_schema_extra={"minLength": 1, "maxLength": MAX_IDEMPOTENCY_KEY_LENGTH},
    )

    @field_validator("idempotency_key", mode="before")
    @classmethod
    def _resend_rule(cls, value: Any) -> Any:
        if (error := idempotency.key_error(value)) is not None:
            raise resend_refusal(error)
        return value


class BatchHeaders(IdempotencyHeader):
    batch_validation: str | None = Field(
        None, alias="x-batch-validation", description="`strict` (default) or `permissive`."
    )


class ListQuery(BaseModel):
    limit: int = Field(DEFAULT_PAGE, ge=1, le=MAX_PAGE)
    after: str | None = Field(None, description="An email id: the page after it (older).")
    before: str | None = Field(None, description="An email id: the page before it (newer).")


@router.post(
    "/emails", response={200: EmailId, **_errors(409, *BODY_ERRORS)}, summary="Send an email"
)
def send_email(
    request: HttpRequest, payload: SendEmail, headers: Header[IdempotencyHeader]
) -> dict[str, Any]:
    api_key = request.auth

    def operation() -> tuple[int, Any]:
        fields = api_input.message_fields(payload, api_key, timezone.now())
        try:
            message = services.message_create(**fields)
        except ValidationError as exc:
            raise api_input.refusal_of(exc) from None
        return 200, {"id": str(message.uuid)}

    (_, body), _ = run_idempotent(request, api_key, operation)
    return body


@router.post(
    "/emails/batch",
    response={200: BatchAnswer, **_errors(409, *BODY_ERRORS)},
    exclude_none=True,  # `errors` only in permissive mode, as Resend answers
    summary="Send up to 100 emails",
)
def send_batch(
    request: HttpRequest, payload: SendBatch, headers: Header[BatchHeaders]
) -> dict[str, Any]:
    api_key = request.auth
    mode = rules.batch_mode(headers.batch_validation)
    if mode is None:
        raise ApiRefused(rules.invalid_batch_mode())
    emails = payload.root

    def operation() -> tuple[int, Any]:
        now = timezone.now()
        fields: dict[int, dict[str, Any]] = {}
        refused: dict[int, str] = {}
        for index, email in enumerate(emails):
            try:
                if email.refusal is not None:
                    raise ApiRefused(email.refusal)
                fields[index] = api_input.message_fields(email, api_key, now)
            except ApiRefused as exc:
                if mode == "strict":
                    raise ApiRefused(rules.batch_item_error(index, exc.error)) from None
                refused[index] = exc.error.message
        indexes = list(fields)
        if mode == "strict":
            try:
                messages = services.messages_create_many([fields[i] for i in indexes])
            except ValidationError as exc:
                if len(indexes) == 1:
                    raise api_input.refusal_of(exc, prefix="Email at index 0: ") from None
                raise api_input.refusal_of(exc) from None
        else:
            created, invalid = services.messages_create_each([fields[i] for i in indexes])
            for position, exc in invalid.items():
                refused[indexes[position]] = api_input.refusal_of(exc).error.message
            messages = created
        body: dict[str, Any] = {"data": [{"id": str(m.uuid)} for m in messages]}
        if mode == "permissive":
            body["errors"] = [{"index": i, "message": refused[i]} for i in sorted(refused)]
        return 200, body

    (_, body), _ = run_idempotent(request, api_key, operation)
    return body


@router.get("/emails", response={200: EmailList, **_errors()}, by_alias=True, summary="List emails")
def list_emails(request: HttpRequest, query: Query[ListQuery]) -> dict[str, Any]:
    if query.after and query.before:
        raise ApiRefused(errors.validation_error("Give `after` or `before`, not both."))
    page = selectors.api_messages_page(
        api_key=request.auth, limit=query.limit, after=query.after, before=query.before
    )
    if page is None:
        raise ApiRefused(errors.validation_error("The cursor is not one of this key's emails."))
    return {
        "object": "list",
        "has_more": page.has_more,
        "data": [email_object(m) for m in page.messages],
    }


@router.get(
    "/emails/{email_id}",
    response={200: EmailObject, **_errors(404)},
    by_alias=True,
    summary="Retrieve an email",
)
def get_email(request: HttpRequest, email_id: str) -> dict[str, Any]:
    return email_object(_own_message(request, email_id))


@router.patch(
    "/emails/{email_id}",
    response={200: EmailObjectId, **_errors(404, *BODY_ERRORS)},
    summary="Reschedule a scheduled email",
)
def update_email(request: HttpRequest, email_id: str, payload: UpdateEmail) -> dict[str, Any]:
    if payload.id is not None and payload.id != email_id:
        raise ApiRefused(
            errors.validation_error("The `id` in the body does not match the email id in the URL.")
        )
    message = _own_message(request, email_id)
    scheduled_at = api_input.scheduled_at_of(payload.scheduled_at, timezone.now())
    if message.status != MessageStatus.SCHEDULED:
        raise ApiRefused(_not_scheduled(message, "rescheduled"))
    try:
        moved = services.message_reschedule(message=message, scheduled_at=scheduled_at)
    except ValidationError as exc:
        raise api_input.refusal_of(exc) from None
    if not moved:  # it left "scheduled" since it was read
        message.refresh_from_db()
        raise ApiRefused(_not_scheduled(message, "rescheduled"))
    return {"object": "email", "id": email_id}


@router.post(
    "/emails/{email_id}/cancel",
    response={200: EmailObjectId, **_errors(404, *BODY_ERRORS)},
    summary="Cancel an email mailhub has not sent yet",
)
def cancel_email(request: HttpRequest, email_id: str) -> dict[str, Any]:
    message = _own_message(request, email_id)
    if not services.message_cancel(
        message=message, reason="cancelled through the API", actor=api_key_actor(request.auth)
    ):
        message.refresh_from_db()
        raise ApiRefused(_cannot_cancel(message))
    return {"object": "email", "id": email_id}


def _own_message(request: HttpRequest, email_id: str) -> Message:
    message = selectors.api_message(api_key=request.auth, email_id=email_id)
    if message is None:
        raise ApiRefused(errors.not_found("Email not found."))
    return message


def _not_scheduled(message: Message, verb: str) -> errors.ResendError:
    return errors.validation_error(
        f"This email cannot be {verb}: only a scheduled email can, and it is `{message.status}`."
    )


def _cannot_cancel(message: Message) -> errors.ResendError:
    if message.status == MessageStatus.SENDING:
        why = "a worker is sending it to the provider right now"
    elif message.batch_id is not None:
        why = "it is part of a batch already handed to the provider, which sends it whole"
    else:
        why = f"it is already `{message.status}`"
    return errors.validation_error(f"This email cannot be canceled: {why}.")
