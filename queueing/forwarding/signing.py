"""Svix's webhook signature, as Resend signs its own webhooks (and as `resend.Webhooks.verify`
and the `svix` package check them): headers `svix-id`, `svix-timestamp` and
`svix-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, keyed with the
base64-decoded part of a `whsec_…` secret."""

import base64
import hashlib
import hmac
import secrets
import uuid

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 24  # as Svix makes them


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def new_msg_id() -> str:
    """A svix-like message id: the same on every attempt of one delivery."""
    return f"msg_{uuid.uuid4().hex}"


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "svix-id": msg_id,
        "svix-timestamp": str(timestamp),
        "svix-signature": signature(secret, msg_id, timestamp, body),
    }
