"""The recipients endpoints' request and answer shapes (they validate, and they are the OpenAPI
description, as queueing.api_schemas are for emails).

Every refusal is in Resend's words and names the field: an unknown field is
``Unknown field `colour`.``; a wrong type ``Invalid `attributes` field. …``. Sizes are
bounded here, before anything is read or written: names as the model's columns, the external
id as its column, attributes as JSON (MAX_ATTRIBUTES_BYTES), lists per request (MAX_LISTS).
A NUL character is refused in every string (PostgreSQL cannot store it in text or jsonb).
"""

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from queueing.api_schemas import resend_refusal
from queueing.resend import errors
from recipients.models import Recipient
from recipients.normalise import MAX_EMAIL_LENGTH

MAX_NAME_LENGTH = Recipient._meta.get_field("first_name").max_length
MAX_EXTERNAL_ID_LENGTH = Recipient._meta.get_field("external_id").max_length
# Attributes are for personalisation (a plan, a city, a language), not documents: 16 KiB of
# JSON is generous, and keeps every recipient row small for fan-out and export.
MAX_ATTRIBUTES_BYTES = 16 * 1024
MAX_LISTS = 50


def _refuse(message: str) -> Any:
    return resend_refusal(errors.validation_error(message))


class _Strict(BaseModel):
    """Unknown fields are refused by name (before pydantic's own, wordier message)."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _unknown_fields(cls, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = [key for key in data if key not in cls.model_fields]
            if unknown:
                raise _refuse(f"Unknown field `{unknown[0]}`.")
        return data

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any, info: Any) -> Any:
        if isinstance(value, str) and "\x00" in value:
            raise _refuse(f"Invalid `{info.field_name}` field. It contains a NUL character.")
        return value


Lists = list[str] | None


def _lists_field(description: str) -> Any:
    return Field(None, min_length=1, max_length=MAX_LISTS, description=description)


class RecipientInput(_Strict):
    """POST /recipients: create, or update the recipient found by `external_id` or `email`."""

    email: str | None = Field(
        None,
        max_length=MAX_EMAIL_LENGTH,
        description="The address; needed to create. It cannot be changed once stored.",
    )
    external_id: str | None = Field(
        None,
        min_length=1,
        max_length=MAX_EXTERNAL_ID_LENGTH,
        description="The id the calling service has for this person; unique. Looked up first.",
    )
    first_name: str | None = Field(None, max_length=MAX_NAME_LENGTH)
    last_name: str | None = Field(None, max_length=MAX_NAME_LENGTH)
    attributes: dict[str, Any] | None = Field(
        None,
        description=f"A JSON object, at most {MAX_ATTRIBUTES_BYTES} bytes as JSON. Replaces "
        "the stored attributes when given.",
    )
    lists: Lists = _lists_field(
        "List slugs to subscribe to (added to the others). A double opt-in list leaves the "
        "subscription pending and emails a confirmation."
    )

    @field_validator("external_id")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise _refuse("Invalid `external_id` field. It is empty.")
        return value.strip() if value is not None else None

    @field_validator("attributes")
    @classmethod
    def _bounded(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return None
        try:
            encoded = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        except ValueError:  # NaN or Infinity: Python's parser takes them, JSON has no such thing
            raise _refuse("Invalid `attributes` field. NaN and Infinity are not JSON.") from None
        size = len(encoded.encode())
        if size > MAX_ATTRIBUTES_BYTES:
            raise _refuse(
                f"Invalid `attributes` field. It is {size} bytes as JSON; the limit is "
                f"{MAX_ATTRIBUTES_BYTES}."
            )
        if "\\u0000" in json.dumps(value):
            raise _refuse("Invalid `attributes` field. It contains a NUL character.")
        return value

    @model_validator(mode="after")
    def _identified(self) -> "RecipientInput":
        if self.email is None and self.external_id is None:
            raise resend_refusal(
                errors.error(
                    errors.MISSING_REQUIRED_FIELD,
                    "Missing `email` field: give `email`, `external_id`, or both.",
                )
            )
        return self


class ListsInput(_Strict):
    """POST /recipients/{recipient}/unsubscribe and /resubscribe."""

    lists: Lists = _lists_field(
        "List slugs. Left out: every list at once (see docs/API.md for what that means)."
    )

    @field_validator("lists", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # Only a body without `lists` means "everything": a null that a client's bug sent
        # must not unsubscribe someone from all marketing email.
        if value is None:
            raise _refuse("Invalid `lists` field. Give list slugs, or leave `lists` out.")
        return value


# --- answers ---


class SubscriptionOut(BaseModel):
    list: str = Field(description="The list's slug.")
    status: Literal["pending", "subscribed", "unsubscribed"]
    source: str
    receives_campaigns: bool = Field(
        description="Subscribed, and confirmed where the list is double opt-in."
    )
    created_at: datetime
    subscribed_at: datetime | None
    confirmed_at: datetime | None
    unsubscribed_at: datetime | None
    confirmation_sent_at: datetime | None


class SuppressionOut(BaseModel):
    reason: Literal[
        "hard_bounce",
        "complaint",
        "unsubscribe",
        "manual",
        "deleted",
        "soft_bounces",
        "provider_suppressed",
    ]
    scope: Literal["all", "marketing"] = Field(
        description="`all`: no mail at all; `marketing`: transactional mail still goes."
    )
    created_at: datetime


class RecipientObject(BaseModel):
    object: Literal["recipient"] = "recipient"
    id: int
    email: str
    external_id: str | None
    first_name: str
    last_name: str
    attributes: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    subscriptions: list[SubscriptionOut]
    suppression: SuppressionOut | None = Field(
        description="The suppression on the address, if any."
    )


class RecipientDeleted(BaseModel):
    object: Literal["recipient"] = "recipient"
    id: int
    deleted: Literal[True] = True
