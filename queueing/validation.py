"""Checks on what an entry point hands us, before anything is stored.

Every rule raises django.core.exceptions.ValidationError keyed by field, so the admin form,
the command and the API all show the same message for the same mistake. What Resend itself
requires (the recipient cap, tag and header-name characters, no line breaks) is decided by
Resend's shared rules in `queueing.resend`; this module words it for people and adds mailhub's
own rules (addresses parsed by `queueing.addresses`, allowed sender domains, reserved tags).
"""

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError

from queueing.addresses import (
    AddressError,
    Mailbox,
    bare_address,
    parse_address,
    parse_address_list,
)
from queueing.resend.limits import MAX_EMAIL_BYTES, MAX_RECIPIENTS, MAX_TAG_LENGTH
from queueing.resend.rules import (
    ADDRESS_HINT,
    address_of,
    has_line_break,
    is_header_name,
    is_tag_part,
)

MAX_SUBJECT_LENGTH = 998  # RFC 5322 line length limit.
MAX_HEADER_NAME_LENGTH = 256  # mailhub's own cap, on top of Resend's rule for the characters.
RESERVED_TAG_NAMES = frozenset({"mailhub_message", "mailhub_campaign"})
NUL = "\x00"
_SURROGATE = re.compile("[\ud800-\udfff]")


def refuse_nul(field: str, what: str, *values: object) -> None:
    """No NUL character and no lone surrogate: no email carries one, and neither can be
    stored (PostgreSQL refuses NUL in text and jsonb; a surrogate cannot be encoded as
    UTF-8), so either would fail the insert rather than the request."""
    for value in values:
        if not isinstance(value, str):
            continue
        if NUL in value:
            raise ValidationError({field: f"{what} contains a NUL character (\\x00)."})
        if _SURROGATE.search(value):
            raise ValidationError(
                {field: f"{what} contains a lone UTF-16 surrogate, which is not text."}
            )


# Values up to this length are parsed once per process (an API batch repeats its senders);
# longer ones each time, so a hostile request cannot fill the cache with them.
CACHED_ADDRESS_LENGTH = 320


def normalise_address(value: object, field: str) -> str:
    """Return `value` as `email@domain` or `Name <email@domain>` (the name quoted where it
    needs to be), or raise ValidationError naming the whole input."""
    try:
        if isinstance(value, str) and len(value) <= CACHED_ADDRESS_LENGTH:
            return _written_back(value)
        return str(parse_address(value))
    except AddressError as exc:
        raise ValidationError({field: str(exc)}) from None


@lru_cache(maxsize=4096)
def _written_back(value: str) -> str:
    """The parsed address written back (only successes are cached: an error raises)."""
    return str(parse_address(value))


def parse_mailbox(value: object, field: str) -> Mailbox:
    """`value` parsed as exactly one address (queueing.addresses), or ValidationError."""
    try:
        return parse_address(value)
    except AddressError as exc:
        raise ValidationError({field: str(exc)}) from None


def address_domain(value: str) -> str:
    """The domain of a stored or normalised address, in lower case ("" if it holds none)."""
    return bare_address(value).rpartition("@")[2]


def normalise_addresses(
    values: str | Iterable[str] | None, field: str, *, required: bool = False
) -> list[str]:
    """Each item one address (a string is one item). An item holding several addresses is
    refused, naming them: splitting lists is for the entry points people type into."""
    if values is None:
        values = []
    elif isinstance(values, str):
        values = [values]
    values = list(values)
    bad = [v for v in values if not isinstance(v, str)]
    if bad:
        raise ValidationError({field: f"{bad[0]!r} is not an email address."})
    result = [normalise_address(v, field) for v in values if v.strip()]
    if required and not result:
        raise ValidationError({field: "At least one recipient is required."})
    if len(result) > MAX_RECIPIENTS:
        raise ValidationError(
            {field: f"{len(result)} addresses given; Resend accepts at most {MAX_RECIPIENTS}."}
        )
    return result


def split_address_list(value: str | None, field: str) -> list[str]:
    """What a person typed in one field of a form: addresses separated by commas or line
    breaks (see `address_list`)."""
    result: list[str] = []
    for line in (value or "").splitlines():
        if line.strip():
            result.extend(address_list(line, field))
    return result


def address_list(value: str, field: str) -> list[str]:
    """One value holding a comma-separated list (a `--to`), a comma inside quotes being part
    of a name. Every address is returned, normalised, or ValidationError naming the whole
    value; none is dropped."""
    try:
        mailboxes = parse_address_list(value, limit=MAX_RECIPIENTS)
    except AddressError as exc:
        raise ValidationError({field: str(exc)}) from None
    return [str(m) for m in mailboxes]


def validate_sender(value: str) -> str:
    """One address whose domain (of the parsed address, never of the name) is allowed."""
    mailbox = parse_mailbox(value, "from_email")
    if address_of(str(mailbox)) is None:
        raise ValidationError(
            {"from_email": f"{value!r} is a form of sender Resend refuses. {ADDRESS_HINT}"}
        )
    allowed = settings.MAILHUB_ALLOWED_SENDER_DOMAINS
    domain = mailbox.address.rpartition("@")[2].lower()
    if allowed and domain not in allowed:
        raise ValidationError(
            {
                "from_email": f"Sender domain {domain!r} is not allowed; use one of: "
                f"{', '.join(allowed)} (MAILHUB_ALLOWED_SENDER_DOMAINS)."
            }
        )
    return str(mailbox)


def check_time_in_range(value: datetime, field: str) -> None:
    """An aware time that Python (and so the database and RQ) can place in UTC: year 1 or
    9999 with an offset cannot, and would be a traceback later instead of an error now."""
    try:
        value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValidationError({field: f"The time {value.isoformat()} is out of range."}) from None


def validate_subject(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError({"subject": "The subject is empty."})
    if has_line_break(value):
        raise ValidationError({"subject": "The subject contains a line break (CR or LF)."})
    refuse_nul("subject", "The subject", value)
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
    refuse_nul("html", "The html", html)
    refuse_nul("text", "The text", text)
    return html, text


def max_message_bytes() -> int:
    """The largest message mailhub accepts: MAILHUB_MAX_MESSAGE_BYTES, never above Resend's."""
    return min(settings.MAILHUB_MAX_MESSAGE_BYTES, MAX_EMAIL_BYTES)


def encoded_size(size: int) -> int:
    """Bytes of `size` bytes of content once base64-encoded, as Resend counts attachments."""
    return 4 * ((size + 2) // 3)


def validate_size(html: str, text: str, attachment_sizes: Iterable[int]) -> None:
    """Refuse a message larger than max_message_bytes(): html and text as UTF-8, attachments
    after base64 (what Resend counts against its 40 MB)."""
    limit = max_message_bytes()
    # A character is at most 4 bytes of UTF-8: encode only when the count could matter.
    bodies = len(html) + len(text)
    if bodies * 4 > limit:
        bodies = len(html.encode("utf-8", "surrogatepass")) + len(
            text.encode("utf-8", "surrogatepass")
        )
    total = bodies + sum(encoded_size(n) for n in attachment_sizes)
    if total > limit:
        raise ValidationError(
            {
                "html": f"The message is {total:,} bytes (html and text, attachments after "
                f"base64); the limit is {limit:,} bytes (MAILHUB_MAX_MESSAGE_BYTES, at most "
                f"Resend's {MAX_EMAIL_BYTES:,})."
            }
        )


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
        refuse_nul("headers", f"Header {name!r}", header_value)
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
