"""Secrets carried in links: the per-recipient unsubscribe token and signed confirmations.

The unsubscribe token is pure randomness stored on the recipient (not derived from the id or
the address), so it reveals nothing, cannot be computed by anyone, and stays valid for as long
as the recipient exists: links in old emails keep working. Confirmation links are signed
with SECRET_KEY and expire.
"""

import base64
import os
import secrets
from datetime import timedelta

from django.core import signing

from recipients.exceptions import ConfirmationLinkExpired, ConfirmationLinkInvalid

UNSUBSCRIBE_TOKEN_BYTES = 32  # 256 bits: 43 URL-safe characters
UNSUBSCRIBE_TOKEN_MAX_LENGTH = 64
CONFIRMATION_SALT = "recipients.subscription-confirmation"
CONFIRMATION_MAX_AGE = timedelta(days=14)


def new_unsubscribe_token() -> str:
    return secrets.token_urlsafe(UNSUBSCRIBE_TOKEN_BYTES)


def new_unsubscribe_tokens(count: int) -> list[str]:
    """`count` tokens like new_unsubscribe_token's, from one read of the OS's random source
    (imports make 100,000 at a time)."""
    data = os.urandom(UNSUBSCRIBE_TOKEN_BYTES * count)
    encode = base64.urlsafe_b64encode
    n = UNSUBSCRIBE_TOKEN_BYTES
    return [encode(data[i : i + n]).rstrip(b"=").decode("ascii") for i in range(0, n * count, n)]


def looks_like_unsubscribe_token(value: str) -> bool:
    """Cheap shape check before touching the database with an arbitrary string."""
    return 20 <= len(value) <= UNSUBSCRIBE_TOKEN_MAX_LENGTH and all(
        c.isascii() and (c.isalnum() or c in "-_") for c in value
    )


def confirmation_token(subscription_id: int) -> str:
    return signing.dumps({"s": subscription_id}, salt=CONFIRMATION_SALT, compress=False)


def read_confirmation_token(token: str) -> int:
    """The subscription id a confirmation token was made for; raises if forged or expired."""
    try:
        data = signing.loads(
            token, salt=CONFIRMATION_SALT, max_age=CONFIRMATION_MAX_AGE.total_seconds()
        )
    except signing.SignatureExpired:
        raise ConfirmationLinkExpired from None
    except signing.BadSignature:
        raise ConfirmationLinkInvalid from None
    if not isinstance(data, dict) or not isinstance(data.get("s"), int):
        raise ConfirmationLinkInvalid
    return data["s"]
