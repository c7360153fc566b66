"""Resend's webhook signature (the Svix scheme), written once for every side that signs:
mailhub forwarding events to API clients, the sandbox playing Resend, the benchmarks.

A secret is `whsec_` + base64 of the HMAC key. A webhook carries `svix-id`, `svix-timestamp`
and `svix-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`. Written from the
published scheme, not from a library, so tests check it with two independent verifiers (the
`svix` package and `resend.Webhooks.verify`, which mailhub's own door uses). No Django.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 24  # as Svix makes them


def new_secret() -> str:
    """A fresh `whsec_` secret."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_` secret; ValueError says what is wrong with it."""
    if not isinstance(secret, str) or not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"must start with {SECRET_PREFIX!r}")
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"must be {SECRET_PREFIX!r} followed by base64") from None
    if not key:
        raise ValueError(f"must be {SECRET_PREFIX!r} followed by base64")
    return key


def new_message_id() -> str:
    """A svix-id: random from the OS (never from a seeded generator, so a restarted run never
    repeats ids a receiver has seen and would drop as duplicates); the same on every attempt
    of one delivery."""
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
