"""The one canonical form of an email address, used for storage, lookups and uniqueness."""

import re

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from queueing.addresses import AddressError, parse_address

MAX_EMAIL_LENGTH = 320
# The common shape of an address, a strict subset of what Django's validate_email accepts:
# checked first because it is several times faster (imports validate every row); anything
# else is decided by validate_email itself, so the two can never disagree.
_COMMON_ADDRESS = re.compile(
    r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}"
)


def is_common_address(email: str) -> bool:
    """Whether a canonical address has the common shape (and so is valid without asking
    validate_email)."""
    return _COMMON_ADDRESS.fullmatch(email) is not None


def canonical_email(value: str) -> str:
    """Strip and lower-case the whole address (local part too): `A.B@X.org ` → `a.b@x.org`.

    Providers treat local parts case-insensitively in practice, and two rows for one inbox
    would mean two unsubscribe tokens and mail sent twice."""
    return value.strip().lower()


def normalise_email(value: object) -> str:
    """The canonical form of `value`, or ValidationError saying what is wrong with it."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("The email address is empty.", code="empty")
    email = canonical_email(value)
    if len(email) > MAX_EMAIL_LENGTH:
        raise ValidationError(
            f"The email address is {len(email)} characters; the limit is {MAX_EMAIL_LENGTH}.",
            code="too_long",
        )
    if is_common_address(email):
        return email
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError(_why_invalid(value.strip()), code="invalid") from None
    if email.startswith('"'):
        # Valid to RFC 5322, refused by Resend, and read without its quotes by the
        # suppression check: one mailbox must have one stored form.
        raise ValidationError(
            f"{value.strip()!r} has a quoted local part (before the @), which Resend does "
            "not accept.",
            code="invalid",
        )
    return email


def _why_invalid(value: str) -> str:
    """A recipient is an address alone: `Ann <ann@example.com>` is refused, but saying what
    to write instead (the name belongs in first_name / last_name)."""
    if "@" not in value:
        # Nothing to parse: every mailbox has a domain (the parser would refuse it the same
        # way, at a fifth of a millisecond per row, which a file's bad rows add up to).
        return f"{value!r} is not a valid email address."
    try:
        mailbox = parse_address(value)
    except AddressError:
        return f"{value!r} is not a valid email address."
    if mailbox.name:
        return (
            f"{value!r} holds a name and an address; give the address alone "
            f"({mailbox.address.lower()}) and the name in first_name and last_name."
        )
    return f"{value!r} is not an address alone; write it as {mailbox.address.lower()}."
