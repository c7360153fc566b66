"""Checks on what an entry point hands us, before anything is stored.

Every rule raises django.core.exceptions.ValidationError keyed by field, so the admin form,
the command and the API all show the same message for the same mistake. What Resend itself
requires (the recipient cap, tag and header-name characters, no line breaks) is decided by
Resend's shared rules in `queueing.resend`; this module words it for people and adds mailhub's
own rules (addresses via Django's validator, allowed sender domains, reserved tags).
"""

from collections.abc import Iterable
from email.utils import parseaddr
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from queueing.addresses import is_plain_address
from queueing.resend.limits import MAX_RECIPIENTS, MAX_TAG_LENGTH
from queueing.resend.rules import has_line_break, is_header_name, is_tag_part

MAX_SUBJECT_LENGTH = 998  # RFC 5322 line length limit.
MAX_HEADER_NAME_LENGTH = 256  # mailhub's own cap, on top of Resend's rule for the characters.
RESERVED_TAG_NAMES = frozenset({"mailhub_message", "mailhub_campaign"})


# Longer values are parsed each time, so a hostile request cannot fill the cache with them.
CACHED_ADDRESS_LENGTH = 320
NOT_AN_ADDRESS = (
    "{value!r} is not a valid address: use email@example.com or Name <email@example.com>."
)


def normalise_address(value: str, field: str) -> str:
    """Return `value` as `email@domain` or `Name <email@domain>`, or raise ValidationError."""
    if not isinstance(value, str):
        raise ValidationError({field: f"{value!r} is not an email address."})
    value = value.strip()
    if not value:
        raise ValidationError({field: "An email address is empty."})
    if has_line_break(value):
        raise ValidationError({field: f"{value!r} contains a line break."})
    if len(value) <= CACHED_ADDRESS_LENGTH:
        normalised = _normalised_cached(value)
    else:
        normalised = _normalised(value)
    if normalised is None:
        raise ValidationError({field: NOT_AN_ADDRESS.format(value=value)})
    return normalised


def _normalised(value: str) -> str | None:
    """The address in `value` in mailhub's form, or None if it is not one."""
    # Most addresses are plain (`local@domain`): parseaddr would hand them back as they are.
    name, address = ("", value) if is_plain_address(value) else parseaddr(value)
    if not address or "@" not in address:
        return None
    try:
        validate_email(address)
    except ValidationError:
        return None
    local, _, domain = address.rpartition("@")
    address = f"{local}@{domain.lower()}"
    return f"{name} <{address}>" if name else address


# Parsing is most of a message's validation, and a batch or a campaign repeats its sender on
# every message: the answers for recent values are kept (bounded, and pure: no settings).
_normalised_cached = lru_cache(maxsize=4096)(_normalised)


def address_domain(value: str) -> str:
    if len(value) <= CACHED_ADDRESS_LENGTH:
        return _address_domain_cached(value)
    return parseaddr(value)[1].rpartition("@")[2].lower()


@lru_cache(maxsize=1024)
def _address_domain_cached(value: str) -> str:
    return parseaddr(value)[1].rpartition("@")[2].lower()


def normalise_addresses(
    values: str | Iterable[str] | None, field: str, *, required: bool = False
) -> list[str]:
    if values is None:
        values = []
    elif isinstance(values, str):
        values = [values]
    result = [normalise_address(v, field) for v in values if isinstance(v, str) and v.strip()]
    bad = [v for v in values if not isinstance(v, str)]
    if bad:
        raise ValidationError({field: f"{bad[0]!r} is not an email address."})
    if required and not result:
        raise ValidationError({field: "At least one recipient is required."})
    if len(result) > MAX_RECIPIENTS:
        raise ValidationError(
            {field: f"{len(result)} addresses given; Resend accepts at most {MAX_RECIPIENTS}."}
        )
    return result


def validate_sender(value: str) -> str:
    address = normalise_address(value, "from_email")
    allowed = settings.MAILHUB_ALLOWED_SENDER_DOMAINS
    domain = address_domain(address)
    if allowed and domain not in allowed:
        raise ValidationError(
            {
                "from_email": f"Sender domain {domain!r} is not allowed; use one of: "
                f"{', '.join(allowed)} (MAILHUB_ALLOWED_SENDER_DOMAINS)."
            }
        )
    return address


def validate_subject(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError({"subject": "The subject is empty."})
    if has_line_break(value):
        raise ValidationError({"subject": "The subject contains a line break (CR or LF)."})
    if len(value) > MAX_SUBJECT_LENGTH:
        raise ValidationError(
            {
                "subject": f"The subject is {len(value)} characters; the limit is {MAX_SUBJECT_LENGTH}."
            }
        )
    return value.strip()


def validate_body(html: Any, text: Any) -> tuple[str, str]:
    html = html or ""
    text = text or ""
    if not isinstance(html, str) or not isinstance(text, str):
        raise ValidationError({"html": "html and text must be strings."})
    if not html.strip() and not text.strip():
        raise ValidationError({"html": "The message has no body: give html, text or both."})
    return html, text


def validate_headers(value: Any) -> dict[str, str]:
    if not value:
        return {}
    if not isinstance(value, dict):
        raise ValidationError({"headers": "Headers must be an object of name → value."})
    headers: dict[str, str] = {}
    for name, header_value in value.items():
        if not is_header_name(name) or len(name) > MAX_HEADER_NAME_LENGTH:
            raise ValidationError({"headers": f"Header name {name!r} is not a valid header name."})
        if not isinstance(header_value, str):
            raise ValidationError({"headers": f"Header {name!r} must have a string value."})
        if has_line_break(header_value):
            raise ValidationError({"headers": f"Header {name!r} contains a line break (CR or LF)."})
        headers[name] = header_value
    return headers


def validate_tags(value: Any) -> list[dict[str, str]]:
    if not value:
        return []
    if isinstance(value, dict):
        value = [{"name": k, "value": v} for k, v in value.items()]
    if not isinstance(value, list):
        raise ValidationError({"tags": "Tags must be a list of {name, value}."})
    tags = []
    for tag in value:
        if not isinstance(tag, dict) or not isinstance(tag.get("name"), str):
            raise ValidationError({"tags": f"Tag {tag!r} must be an object with name and value."})
        name, tag_value = tag["name"], tag.get("value", "")
        if not isinstance(tag_value, str):
            raise ValidationError({"tags": f"Tag {name!r} must have a string value."})
        for part in (name, tag_value):
            if not is_tag_part(part):
                raise ValidationError(
                    {
                        "tags": f"Tag {name!r}: {part!r} may only contain ASCII letters, digits, "
                        f"_ and - (1 to {MAX_TAG_LENGTH} characters)."
                    }
                )
        if name in RESERVED_TAG_NAMES:
            raise ValidationError({"tags": f"Tag name {name!r} is reserved for mailhub."})
        tags.append({"name": name, "value": tag_value})
    return tags


def describe_error(exc: ValidationError) -> str:
    """One line naming each bad field and what is wrong with it."""
    if hasattr(exc, "error_dict"):
        return " ".join(
            f"{field}: {' '.join(m for e in errors for m in e.messages)}"
            for field, errors in exc.error_dict.items()
        )
    return " ".join(exc.messages)
