"""The HTTP API's request and answer shapes: the schemas that validate requests are the ones
the OpenAPI description (/api/openapi.json) is generated from, so the two cannot drift.

A send request is checked first by Resend's own rules (`queueing.resend.rules`, the sandbox's
validator), so the API refuses exactly what Resend refuses, with Resend's name and message;
the pydantic fields below then fix the types the view receives. `priority` is mailhub's
extension (not Resend's) and is taken out before Resend's rules look at the request.

A batch's items never fail the batch at parse time: each item keeps its own refusal
(`BatchEmail.refusal`), so a permissive batch can accept the valid ones and list the others by
index, and a strict one refuses with the first.
"""

from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    RootModel,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from queueing.models import Priority
from queueing.resend import errors, rules
from queueing.resend.errors import ResendError
from queueing.resend.limits import MAX_BATCH_SIZE

RESEND_ERROR = "resend_error"
EXTENSION_FIELDS = frozenset({"priority"})

Addresses = str | list[str]


def resend_refusal(error: ResendError) -> PydanticCustomError:
    """A pydantic error that carries Resend's answer (read back by mailhub/api.py)."""
    return PydanticCustomError(
        RESEND_ERROR,
        "{message}",
        {"message": error.message, "status": error.status, "name": error.name},
    )


def _first_error(exc: ValidationError) -> ResendError:
    """A pydantic failure (after Resend's rules passed) in Resend's words."""
    first = exc.errors(include_url=False)[0]
    ctx = first.get("ctx") or {}
    if first.get("type") == RESEND_ERROR:
        return ResendError(int(ctx["status"]), str(ctx["name"]), str(ctx["message"]))
    where = ".".join(str(p) for p in first.get("loc", ()))
    return errors.validation_error(f"Invalid `{where}` field. {first.get('msg', '')}".strip())


class Tag(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    value: str | None = None


class Attachment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    content: str | list[int] | None = Field(
        None, description="Base64, or a list of byte values (the Python SDK's form)."
    )
    filename: str | None = None
    path: str | None = Field(
        None, description="Refused by mailhub: it does not fetch attachments by URL."
    )
    content_type: str | None = None
    content_id: str | None = None
    inline_content_id: str | None = None


class TemplateInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(description="A mailhub template's slug or numeric id.")
    variables: dict[str, str | int | float] | None = None


class _Email(BaseModel):
    """The fields every send request has (Resend's SendEmailRequest, plus `priority`)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    IN_BATCH: ClassVar[bool] = False

    from_: str = Field(alias="from", description="`email@example.com` or `Name <email@…>`.")
    to: Addresses = Field(description="One address or a list of 1 to 50.")
    subject: str
    cc: Addresses | None = None
    bcc: Addresses | None = None
    reply_to: Addresses | None = None
    html: str | None = None
    text: str | None = None
    template: TemplateInput | None = Field(
        None, description="A mailhub template instead of html/text."
    )
    headers: dict[str, str] | None = None
    tags: list[Tag] | None = None
    topic_id: str | None = Field(None, description="Refused by mailhub: it has no topics.")
    priority: Literal["transactional", "bulk"] | None = Field(
        None,
        description="mailhub's extension, not Resend's: the queue it waits in "
        "(transactional, the default, goes before bulk).",
    )

    @classmethod
    def resend_error(cls, data: Any) -> ResendError | None:
        if isinstance(data, dict):
            data = {k: v for k, v in data.items() if k not in EXTENSION_FIELDS}
        return rules.email_error(data, in_batch=cls.IN_BATCH)


# Shown in the OpenAPI description (and tried first by schemathesis, tests/api/).
EXAMPLE_EMAIL = {
    "from": "Billing <billing@example.com>",
    "to": ["ada@example.org"],
    "subject": "Your invoice",
    "html": "<p>Hello Ada</p>",
    "tags": [{"name": "kind", "value": "invoice"}],
}


class SendEmail(_Email):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{**EXAMPLE_EMAIL, "scheduled_at": "in 1 hour"}]}
    )
    scheduled_at: str | None = Field(
        None,
        description="ISO 8601 with a time zone, or a plain form such as `in 1 hour` or "
        "`tomorrow at 9am` (see docs/API.md).",
    )
    attachments: list[Attachment] | None = None

    @model_validator(mode="before")
    @classmethod
    def _resend_rules(cls, data: Any) -> Any:
        error = cls.resend_error(data)
        if error is not None:
            raise resend_refusal(error)
        return data


class BatchEmail(_Email):
    """An email of /emails/batch (no `scheduled_at`, no `attachments`)."""

    IN_BATCH: ClassVar[bool] = True
    _refusal: ResendError | None = PrivateAttr(None)

    @property
    def refusal(self) -> ResendError | None:
        return self._refusal

    @model_validator(mode="wrap")
    @classmethod
    def _resend_rules(cls, data: Any, handler: Any) -> Any:
        error = cls.resend_error(data)
        if error is None:
            try:
                return handler(data)
            except ValidationError as exc:
                error = _first_error(exc)
        refused = cls.model_construct()
        refused._refusal = error
        return refused


class SendBatch(RootModel[list[BatchEmail]]):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [[EXAMPLE_EMAIL, {**EXAMPLE_EMAIL, "to": "bob@example.org"}]]
        }
    )
    root: list[BatchEmail] = Field(min_length=1, max_length=MAX_BATCH_SIZE)

    @model_validator(mode="before")
    @classmethod
    def _envelope(cls, data: Any) -> Any:
        error = rules.batch_error(data)
        if error is not None:
            raise resend_refusal(error)
        return data


class UpdateEmail(BaseModel):
    """PATCH /emails/{id}: only `scheduled_at`. (The Python SDK also sends the id.)"""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"scheduled_at": "tomorrow at 9am"}]}
    )
    scheduled_at: str = Field(description="The new time: ISO 8601 with a zone, or a plain form.")
    id: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _resend_rules(cls, data: Any) -> Any:
        # The id in the body is compared with the path's by the view.
        email_id = data.get("id") if isinstance(data, dict) else None
        error = rules.update_error(data, email_id if isinstance(email_id, str) else "")
        if error is not None:
            raise resend_refusal(error)
        return data


# --- answers ---


class EmailId(BaseModel):
    id: str


class EmailObjectId(BaseModel):
    object: Literal["email"] = "email"
    id: str


class BatchItemError(BaseModel):
    index: int
    message: str


class BatchAnswer(BaseModel):
    data: list[EmailId]
    errors: list[BatchItemError] | None = Field(
        None, description="Permissive mode only: the refused emails, by index."
    )


class EmailTag(BaseModel):
    name: str
    value: str


class EmailObject(BaseModel):
    object: Literal["email"] = "email"
    id: str
    to: list[str]
    from_: str = Field(alias="from")
    created_at: datetime
    subject: str
    html: str | None
    text: str | None
    cc: list[str]
    bcc: list[str]
    reply_to: list[str]
    last_event: str = Field(description="Resend's word for the status; see docs/API.md.")
    scheduled_at: datetime | None
    tags: list[EmailTag]
    priority: Literal["transactional", "bulk"] = Field(description="mailhub's extension.")


class EmailList(BaseModel):
    object: Literal["list"] = "list"
    has_more: bool
    data: list[EmailObject]


class ErrorBody(BaseModel):
    statusCode: int
    name: str
    message: str


def validate_priority(value: str | None) -> str:
    return value or Priority.TRANSACTIONAL
