"""Checks a send request the way Resend does, with messages in Resend's style.

Every check raises `ApiError` on the first problem, because Resend also answers with one
message. The batch endpoint calls `check_email` per item and adds the item's index itself.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from sandbox import errors
from sandbox.errors import ApiError

MAX_RECIPIENTS = 50
MAX_BATCH = 100
MAX_IDEMPOTENCY_KEY = 256

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
NOT_IN_BATCH = ("attachments", "scheduled_at")

_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_DOMAIN = r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
_BARE = re.compile(rf"({_LOCAL}@{_DOMAIN})")
# `Name <email@example.com>`; the name may be quoted and may be empty.
_NAMED = re.compile(rf'\s*(?:"[^"\r\n]*"|[^<>"\r\n]*?)\s*<({_LOCAL}@{_DOMAIN})>\s*')
_TAG = re.compile(r"[A-Za-z0-9_-]{1,256}")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_ADDRESS_HINT = "The email address needs to follow the `email@example.com` or `Name <email@example.com>` format."


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise errors.invalid_json() from None


def address_of(value: str) -> str | None:
    """The bare address in `email@example.com` or `Name <email@example.com>`; None if invalid."""
    if "\r" in value or "\n" in value:
        return None
    match = _BARE.fullmatch(value) or _NAMED.fullmatch(value)
    return match.group(1) if match else None


def addresses(value: Any) -> list[str]:
    """A to/cc/bcc/reply_to value as a list (no validation); used for reading stored emails."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


def check_idempotency_key(key: str | None) -> None:
    if key is not None and not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY:
        raise errors.invalid_idempotency_key()


def check_email(item: Any, *, in_batch: bool, full: bool = True) -> None:
    """Raise ApiError if `item` is not a valid SendEmailRequest.

    With `full=False` (config validate=False) only the shape the sandbox needs to store the
    email is checked: a JSON object.
    """
    if not isinstance(item, dict):
        raise errors.validation_error("The email must be a JSON object.")
    if not full:
        return
    unknown = [name for name in item if name not in SEND_FIELDS]
    if unknown:
        raise errors.validation_error(
            f"Unknown field `{unknown[0]}`. It is not part of the send email request."
        )
    if in_batch:
        for name in NOT_IN_BATCH:
            if name in item:
                raise errors.validation_error(
                    f"The `{name}` field is not supported for batch emails."
                )
    for name in ("from", "to", "subject"):
        if item.get(name) is None:
            raise errors.missing_field(name)

    sender = item["from"]
    if not isinstance(sender, str) or address_of(sender) is None:
        raise errors.validation_error(f"Invalid `from` field. {_ADDRESS_HINT}")
    _check_recipients("to", item["to"], required=True)
    for name in ("cc", "bcc", "reply_to"):
        if item.get(name) is not None:
            _check_recipients(name, item[name], required=False)

    subject = item["subject"]
    if not isinstance(subject, str) or not subject.strip():
        raise errors.validation_error("Invalid `subject` field. It must be a non-empty string.")
    if "\r" in subject or "\n" in subject:
        raise errors.validation_error("Invalid `subject` field. It must not contain line breaks.")

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
            raise errors.validation_error(
                "Invalid `scheduled_at` field. Use an ISO 8601 date (2024-08-05T11:52:01.858Z) "
                "or natural language (in 1 hour)."
            )
    if item.get("topic_id") is not None and not isinstance(item["topic_id"], str):
        raise errors.validation_error("Invalid `topic_id` field. It must be a string.")


def check_batch(payload: Any) -> list[Any]:
    """The batch envelope: a JSON array of 1-100 emails (items are checked separately)."""
    if not isinstance(payload, list):
        raise errors.validation_error("The request body must be a JSON array of emails.")
    if not 1 <= len(payload) <= MAX_BATCH:
        raise errors.validation_error(
            f"A batch must contain between 1 and {MAX_BATCH} emails; this one has {len(payload)}."
        )
    return payload


def check_batch_mode(value: str | None) -> str:
    mode = (value or "strict").strip().lower()
    if mode not in ("strict", "permissive"):
        raise errors.validation_error(
            "Invalid `x-batch-validation` header. It must be `strict` or `permissive`."
        )
    return mode


def check_update(payload: Any, email_id: str) -> str:
    """PATCH /emails/{id}: returns the new scheduled_at."""
    if not isinstance(payload, dict):
        raise errors.validation_error("The request body must be a JSON object.")
    # The Python SDK sends the id in the body as well; it must match the path if present.
    unknown = [name for name in payload if name not in ("scheduled_at", "id")]
    if unknown:
        raise errors.validation_error(
            f"Unknown field `{unknown[0]}`. Only `scheduled_at` can be updated."
        )
    if "id" in payload and payload["id"] != email_id:
        raise errors.validation_error(
            "The `id` in the body does not match the email id in the URL."
        )
    scheduled_at = payload.get("scheduled_at")
    if scheduled_at is None:
        raise errors.missing_field("scheduled_at")
    if not isinstance(scheduled_at, str) or not scheduled_at.strip():
        raise errors.validation_error(
            "Invalid `scheduled_at` field. It must be a non-empty string."
        )
    return scheduled_at


def _check_recipients(name: str, value: Any, *, required: bool) -> None:
    if isinstance(value, str):
        values = [value]
    elif isinstance(value, list):
        values = value
    else:
        raise errors.validation_error(
            f"Invalid `{name}` field. It must be an email address or a list of email addresses."
        )
    if required and not values:
        raise errors.validation_error(
            f"Invalid `{name}` field. It must contain at least one address."
        )
    if len(values) > MAX_RECIPIENTS:
        raise errors.validation_error(
            f"Invalid `{name}` field. It can contain at most {MAX_RECIPIENTS} addresses, "
            f"not {len(values)}."
        )
    for entry in values:
        if not isinstance(entry, str) or address_of(entry) is None:
            raise errors.validation_error(f"Invalid `{name}` field. {_ADDRESS_HINT}")


def _check_body(item: dict[str, Any]) -> None:
    for name in ("html", "text"):
        if item.get(name) is not None and not isinstance(item[name], str):
            raise errors.validation_error(f"Invalid `{name}` field. It must be a string.")
    has_body = item.get("html") is not None or item.get("text") is not None
    template = item.get("template")
    if template is None:
        if not has_body:
            raise ApiError(422, "missing_required_field", "Missing `html` or `text` field.")
        return
    if has_body:
        raise errors.validation_error(
            "Invalid `template` field. Do not include `html` or `text` when using a template."
        )
    if not isinstance(template, dict) or not isinstance(template.get("id"), str):
        raise errors.validation_error(
            "Invalid `template` field. It must be an object with an `id`."
        )
    variables = template.get("variables")
    if variables is not None and (
        not isinstance(variables, dict)
        or any(
            isinstance(v, bool) or not isinstance(v, str | int | float) for v in variables.values()
        )
    ):
        raise errors.validation_error(
            "Invalid `template.variables` field. It must map names to strings or numbers."
        )


def _check_headers(headers: Any) -> None:
    if not isinstance(headers, dict):
        raise errors.validation_error("Invalid `headers` field. It must be an object.")
    for key, value in headers.items():
        if not _HEADER_NAME.fullmatch(key):
            raise errors.validation_error(
                f"Invalid `headers` field. `{key}` is not a valid header name."
            )
        if not isinstance(value, str) or "\r" in value or "\n" in value:
            raise errors.validation_error(
                f"Invalid `headers` field. The value of `{key}` must be a string without line breaks."
            )


def _check_tags(tags: Any) -> None:
    if not isinstance(tags, list):
        raise errors.validation_error("Invalid `tags` field. It must be a list of {name, value}.")
    for tag in tags:
        if not isinstance(tag, dict) or set(tag) - {"name", "value"}:
            raise errors.validation_error(
                "Invalid `tags` field. Each tag must be an object with `name` and `value`."
            )
        for part in ("name", "value"):
            value = tag.get(part)
            if value is None and part == "value":
                continue
            if not isinstance(value, str) or not _TAG.fullmatch(value):
                raise errors.validation_error(
                    f"Invalid tag {part} {value!r}. It can only contain ASCII letters (a-z, A-Z), "
                    "numbers (0-9), underscores (_), or dashes (-), and at most 256 characters."
                )


def _check_attachments(attachments: Any) -> None:
    if not isinstance(attachments, list):
        raise errors.validation_error("Invalid `attachments` field. It must be a list.")
    for index, attachment in enumerate(attachments):
        where = f"attachments[{index}]"
        if not isinstance(attachment, dict):
            raise errors.validation_error(f"Invalid `{where}`. It must be an object.")
        unknown = [name for name in attachment if name not in ATTACHMENT_FIELDS]
        if unknown:
            raise errors.validation_error(f"Unknown field `{where}.{unknown[0]}`.")
        content, path = attachment.get("content"), attachment.get("path")
        if content is None and path is None:
            raise errors.validation_error(
                f"Invalid `{where}`. Attachment must have either a `content` or `path`."
            )
        if path is not None and (not isinstance(path, str) or not path):
            raise errors.validation_error(f"Invalid `{where}.path`. It must be a URL string.")
        if content is not None:
            if not isinstance(attachment.get("filename"), str) or not attachment["filename"]:
                raise errors.missing_field(f"{where}.filename")
            if not _valid_content(content):
                raise errors.validation_error(
                    f"Invalid `{where}.content`. It must be base64 or a list of byte values."
                )
        for name in ("filename", "content_type", "content_id", "inline_content_id"):
            if attachment.get(name) is not None and not isinstance(attachment[name], str):
                raise errors.validation_error(f"Invalid `{where}.{name}`. It must be a string.")


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
