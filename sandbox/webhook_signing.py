"""Signing webhooks the way Resend does (Svix): `whsec_` secrets and the three svix-* headers.

Written from the published scheme, not from a library, so that tests can check it with two
independent verifiers (the `svix` package and `resend.Webhooks.verify`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"


def generate_secret() -> str:
    """A fresh `whsec_` secret (24 random bytes, as Svix makes them)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_` secret; ValueError says what is wrong with it."""
    if not isinstance(secret, str) or not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"webhook_secret must start with {SECRET_PREFIX!r}")
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"webhook_secret must be {SECRET_PREFIX!r} followed by base64") from None
    if not key:
        raise ValueError(f"webhook_secret must be {SECRET_PREFIX!r} followed by base64")
    return key


def new_message_id() -> str:
    """A svix-id. Random from the OS, never from the seeded generator: a restarted seeded run
    must not send ids the receiver has already seen (it would drop them as duplicates)."""
    return "msg_" + secrets.token_urlsafe(18)


def signature(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(key: bytes, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "svix-id": message_id,
        "svix-timestamp": str(timestamp),
        "svix-signature": signature(key, message_id, timestamp, body),
    }
