"""Resend's rules for a send request (/emails, /emails/batch, and PATCH /emails/{id}): which
fields exist, their shapes, and Resend's error (name and message) for the first thing wrong.

One concern in one file, so each rule is written once: the sandbox answers with these errors,
mailhub's HTTP API can answer with them, and `queueing.validation` applies the predicates it
shares with Resend (header names, tags, line breaks) under its own messages for people. Resend
reports one problem at a time, so every check returns the first error it finds, or None. The
numbers come from `limits`. No Django.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any, Literal

from queueing.resend import errors
from queueing.resend.errors import ResendError
from queueing.resend.limits import (
    BATCH_ALLOWS_ATTACHMENTS,
    MAX_BATCH_SIZE,
    MAX_RECIPIENTS,
    MAX_TAG_LENGTH,
)

SEND_FIELDS = frozenset(
    {
        "from",
        "to",
        "subject",
        "bcc",
        "cc",
        "reply_to",
        "html",
        "text",
        "template",
        "headers",
        "scheduled_at",
        "attachments",
        "tags",
        "topic_id",
    }
)
ATTACHMENT_FIELDS = frozenset(
    {"content", "filename", "path", "content_type", "content_id", "inline_content_id"}
)
# Fields a member of /emails/batch may not have.
NOT_IN_BATCH = (*(() if BATCH_ALLOWS_ATTACHMENTS else ("attachments",)), "scheduled_at")

# The x-batch-validation header: `strict` refuses the whole batch for one bad email,
# `permissive` accepts the good ones and lists the bad ones by index.
BATCH_VALIDATION_HEADER = "x-batch-validation"
BatchMode = Literal["strict", "permissive"]

_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_DOMAIN = r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
_BARE = re.compile(rf"({_LOCAL}@{_DOMAIN})")
# `Name <email@example.com>`; the name may be quoted (with backslash escapes, RFC 5322
# quoted-string) and may be empty.
_NAMED = re.compile(rf'\s*(?:"(?:[^"\\\r\n]|\\[^\r\n])*"|[^<>"\r\n]*?)\s*<({_LOCAL}@{_DOMAIN})>\s*')
_TAG = re.compile(rf"[A-Za-z0-9_-]{{1,{MAX_TAG_LENGTH}}}")
# An HTTP token (RFC 9110), the strictest reading of a header name.
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
ADDRESS_HINT = "The email address needs to follow the `email@example.com` or `Name <email@example.com>` format."


class _Refused(Exception):
    """Carries the first error out of nested checks; never leaves this module."""

    def __init__(self, error: ResendError) -> None:
        super().__init__(error.message)
        self.error = error


# --- predicates, also for checks that speak to people (queueing.validation) ---


def address_of(value: str) -> str | None:
    """The bare address in `email@example.com` or `Name <email@example.com>`; None if invalid."""
    if has_line_break(value):
        return None
    match = _BARE.fullmatch(value) or _NAMED.fullmatch(value)
    return match.group(1) if match else None


def has_line_break(value: str) -> bool:
    return "\r" in value or "\n" in value


def is_header_name(name: object) -> bool:
    return isinstance(name, str) and _HEADER_NAME.fullmatch(name) is not None


def is_tag_part(value: object) -> bool:
    """A tag's name or value: ASCII letters, digits, `_` and `-`, 1 to MAX_TAG_LENGTH of them."""
    return isinstance(value, str) and _TAG.fullmatch(value) is not None


# --- checks that answer in Resend's words ---


def email_shape_error(item: Any) -> ResendError | None:
    """Only the shape every email needs: a JSON object (all a non-validating sandbox checks)."""
    if not isinstance(item, dict):
        return errors.validation_error("The email must be a JSON object.")
    return None


def email_error(item: Any, *, in_batch: bool) -> ResendError | None:
    """The first reason `item` is not a valid SendEmailRequest (as a member of a batch if
    `in_batch`), or None."""
    try:
        _check_email(item, in_batch=in_batch)
    except _Refused as refused:
        return refused.error
    return None


def batch_error(payload: Any) -> ResendError | None:
    """The batch envelope: a JSON array of 1 to MAX_BATCH_SIZE emails (each checked apart)."""
    if not isinstance(payload, list):
        return errors.validation_error("The request body must be a JSON array of emails.")
    if not 1 <= len(payload) <= MAX_BATCH_SIZE:
        return errors.validation_error(
            f"A batch must contain between 1 and {MAX_BATCH_SIZE} emails; this one has {len(payload)}."
        )
    return None


def batch_item_error(index: int, error: ResendError) -> ResendError:
    """How a strict batch refuses itself for its email at `index`."""
    return error.with_message(f"Email at index {index}: {error.message}")


def batch_mode(header: str | None) -> BatchMode | None:
    """The x-batch-validation header's mode (strict when absent); None if it is not one."""
    mode = (header or "strict").strip().lower()
    if mode == "strict" or mode == "permissive":
        return mode
    return None


def invalid_batch_mode() -> ResendError:
    return errors.validation_error(
        f"Invalid `{BATCH_VALIDATION_HEADER}` header. It must be `strict` or `permissive`."
    )


def update_error(payload: Any, email_id: str) -> ResendError | None:
    """PATCH /emails/{id}: only `scheduled_at` (a non-empty string) may change."""
    if not isinstance(payload, dict):
        return errors.validation_error("The request body must be a JSON object.")
    # The Python SDK sends the id in the body as well; it must match the path if present.
    unknown = [name for name in payload if name not in ("scheduled_at", "id")]
    if unknown:
        return errors.validation_error(
            f"Unknown field `{unknown[0]}`. Only `scheduled_at` can be updated."
        )
    if "id" in payload and payload["id"] != email_id:
        return errors.validation_error(
            "The `id` in the body does not match the email id in the URL."
        )
    scheduled_at = payload.get("scheduled_at")
    if scheduled_at is None:
        return errors.missing_field("scheduled_at")
    if not isinstance(scheduled_at, str) or not scheduled_at.strip():
        return errors.validation_error(
            "Invalid `scheduled_at` field. It must be a non-empty string."
        )
    return None


# --- the send request, field by field ---


def _refuse(message: str) -> _Refused:
    return _Refused(errors.validation_error(message))


def _check_email(item: Any, *, in_batch: bool) -> None:
    if (shape := email_shape_error(item)) is not None:
        raise _Refused(shape)
    unknown = [name for name in item if name not in SEND_FIELDS]
    if unknown:
        raise _refuse(f"Unknown field `{unknown[0]}`. It is not part of the send email request.")
    if in_batch:
        for name in NOT_IN_BATCH:
            if name in item:
                raise _refuse(f"The `{name}` field is not supported for batch emails.")
    for name in ("from", "to", "subject"):
        if item.get(name) is None:
            raise _Refused(errors.missing_field(name))

    sender = item["from"]
    if not isinstance(sender, str) or address_of(sender) is None:
        # Resend names this one apart from other fields: it is the sender, not the email.
        raise _Refused(
            errors.error(errors.INVALID_FROM_ADDRESS, f"Invalid `from` field. {ADDRESS_HINT}")
        )
    _check_recipients("to", item["to"], required=True)
    for name in ("cc", "bcc", "reply_to"):
        if item.get(name) is not None:
            _check_recipients(name, item[name], required=False)

    subject = item["subject"]
    if not isinstance(subject, str) or not subject.strip():
        raise _refuse("Invalid `subject` field. It must be a non-empty string.")
    if has_line_break(subject):
        raise _refuse("Invalid `subject` field. It must not contain line breaks.")

    _check_body(item)
    if item.get("headers") is not None:
        _check_headers(item["headers"])
    if item.get("tags") is not None:
        _check_tags(item["tags"])
    if item.get("attachments") is not None:
        _check_attachments(item["attachments"])
    if item.get("scheduled_at") is not None:
        scheduled_at = item["scheduled_at"]
        if not isinstance(scheduled_at, str) or not scheduled_at.strip():
            raise _refuse(
                "Invalid `scheduled_at` field. Use an ISO 8601 date (2024-08-05T11:52:01.858Z) "
                "or natural language (in 1 hour)."
            )
    if item.get("topic_id") is not None and not isinstance(item["topic_id"], str):
        raise _refuse("Invalid `topic_id` field. It must be a string.")


def _check_recipients(name: str, value: Any, *, required: bool) -> None:
    if isinstance(value, str):
        values = [value]
    elif isinstance(value, list):
        values = value
    else:
        raise _refuse(
            f"Invalid `{name}` field. It must be an email address or a list of email addresses."
        )
    if required and not values:
        raise _refuse(f"Invalid `{name}` field. It must contain at least one address.")
    if len(values) > MAX_RECIPIENTS:
        raise _refuse(
            f"Invalid `{name}` field. It can contain at most {MAX_RECIPIENTS} addresses, "
            f"not {len(values)}."
        )
    for entry in values:
        if not isinstance(entry, str) or address_of(entry) is None:
            raise _refuse(f"Invalid `{name}` field. {ADDRESS_HINT}")


def _check_body(item: dict[str, Any]) -> None:
    for name in ("html", "text"):
        if item.get(name) is not None and not isinstance(item[name], str):
            raise _refuse(f"Invalid `{name}` field. It must be a string.")
    has_body = item.get("html") is not None or item.get("text") is not None
    template = item.get("template")
    if template is None:
        if not has_body:
            raise _Refused(
                errors.error(errors.MISSING_REQUIRED_FIELD, "Missing `html` or `text` field.")
            )
        return
    if has_body:
        raise _refuse(
            "Invalid `template` field. Do not include `html` or `text` when using a template."
        )
    if not isinstance(template, dict) or not isinstance(template.get("id"), str):
        raise _refuse("Invalid `template` field. It must be an object with an `id`.")
    variables = template.get("variables")
    if variables is not None and (
        not isinstance(variables, dict)
        or any(
            isinstance(v, bool) or not isinstance(v, str | int | float) for v in variables.values()
        )
    ):
        raise _refuse(
            "Invalid `template.variables` field. It must map names to strings or numbers."
        )


def _check_headers(headers: Any) -> None:
    if not isinstance(headers, dict):
        raise _refuse("Invalid `headers` field. It must be an object.")
    for key, value in headers.items():
        if not is_header_name(key):
            raise _refuse(f"Invalid `headers` field. `{key}` is not a valid header name.")
        if not isinstance(value, str) or has_line_break(value):
            raise _refuse(
                f"Invalid `headers` field. The value of `{key}` must be a string without line breaks."
            )


def _check_tags(tags: Any) -> None:
    if not isinstance(tags, list):
        raise _refuse("Invalid `tags` field. It must be a list of {name, value}.")
    for tag in tags:
        if not isinstance(tag, dict) or set(tag) - {"name", "value"}:
            raise _refuse(
                "Invalid `tags` field. Each tag must be an object with `name` and `value`."
            )
        for part in ("name", "value"):
            value = tag.get(part)
            if value is None and part == "value":
                continue
            if not is_tag_part(value):
                raise _refuse(
                    f"Invalid tag {part} {value!r}. It can only contain ASCII letters (a-z, A-Z), "
                    f"numbers (0-9), underscores (_), or dashes (-), and at most {MAX_TAG_LENGTH} "
                    "characters."
                )


def _check_attachments(attachments: Any) -> None:
    if not isinstance(attachments, list):
        raise _refuse("Invalid `attachments` field. It must be a list.")
    for index, attachment in enumerate(attachments):
        where = f"attachments[{index}]"
        if not isinstance(attachment, dict):
            raise _refuse(f"Invalid `{where}`. It must be an object.")
        unknown = [name for name in attachment if name not in ATTACHMENT_FIELDS]
        if unknown:
            raise _refuse(f"Unknown field `{where}.{unknown[0]}`.")
        content, path = attachment.get("content"), attachment.get("path")
        if content is None and path is None:
            raise _refuse(f"Invalid `{where}`. Attachment must have either a `content` or `path`.")
        if path is not None and (not isinstance(path, str) or not path):
            raise _refuse(f"Invalid `{where}.path`. It must be a URL string.")
        if content is not None:
            if not isinstance(attachment.get("filename"), str) or not attachment["filename"]:
                raise _Refused(errors.missing_field(f"{where}.filename"))
            if not _valid_content(content):
                raise _refuse(
                    f"Invalid `{where}.content`. It must be base64 or a list of byte values."
                )
        for name in ("filename", "content_type", "content_id", "inline_content_id"):
            if attachment.get(name) is not None and not isinstance(attachment[name], str):
                raise _refuse(f"Invalid `{where}.{name}`. It must be a string.")


def _valid_content(content: Any) -> bool:
    if isinstance(content, str):
        try:
            base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError):
            return False
        return True
    # The Python SDK documents `list(file.read())`: a list of byte values.
    return isinstance(content, list) and all(
        isinstance(b, int) and not isinstance(b, bool) and 0 <= b <= 255 for b in content
    )
