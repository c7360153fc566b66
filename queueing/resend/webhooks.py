"""Verifying Resend's webhooks (signed the Svix way) with the `resend` SDK's own verifier.

Django-free: the caller passes the raw body, the request's headers and the secrets. Every
secret is tried in turn, so a secret can be rotated without refusing events signed with the
old one meanwhile. The SDK checks the 5 minutes' tolerance of `svix-timestamp` and accepts any
of the space-separated `v1,<signature>` entries of `svix-signature`.
"""

import functools
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import resend

from queueing.resend.webhook_signing import secret_key

HEADERS = ("svix-id", "svix-timestamp", "svix-signature")
TOLERANCE_SECONDS = 300  # the SDK's own window; named here for the stale/forged distinction


class WebhookRefused(Exception):
    """Not a webhook mailhub may act on: `status` is the HTTP answer, `reason` the log line."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class VerifiedWebhook:
    svix_id: str
    event: dict[str, Any]  # the parsed body: {"type", "created_at", "data": {...}}
    text: str = ""  # the body as signed: `event` is its JSON


def verify_webhook(
    body: bytes, headers: Mapping[str, str], secrets: Sequence[str]
) -> VerifiedWebhook:
    """The verified event, or WebhookRefused: 400 for missing headers or a body that is not a
    JSON object in UTF-8, 401 for a stale timestamp or a signature no secret matches."""
    values = {name: (headers.get(name) or "").strip() for name in HEADERS}
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise WebhookRefused(400, f"missing header(s): {', '.join(missing)}")
    try:
        text = body.decode("utf-8")
        parsed = json.loads(text)
    except (UnicodeDecodeError, ValueError):
        raise WebhookRefused(400, "the body is not JSON in UTF-8") from None
    if not isinstance(parsed, dict):
        raise WebhookRefused(400, "the body is not a JSON object")
    if _stale(values["svix-timestamp"]):
        raise WebhookRefused(
            401, f"svix-timestamp {values['svix-timestamp'][:20]!r} outside the 5 minutes' window"
        )
    usable = [s.strip() for s in secrets if secret_problem(s.strip()) is None]
    if not usable:
        raise WebhookRefused(401, "no webhook secret is configured (RESEND_WEBHOOK_SECRETS)")
    for secret in usable:
        try:
            resend.Webhooks.verify(
                {
                    "payload": text,
                    "headers": {
                        "id": values["svix-id"],
                        "timestamp": values["svix-timestamp"],
                        "signature": values["svix-signature"],
                    },
                    "webhook_secret": secret,
                }
            )
        except ValueError:
            continue
        return VerifiedWebhook(svix_id=values["svix-id"], event=parsed, text=text)
    raise WebhookRefused(
        401, f"no configured secret matches the signature of {values['svix-id']!r}"
    )


MIN_SECRET_BYTES = 16


@functools.lru_cache(maxsize=64)  # asked for every secret of every webhook; a pure function
def secret_problem(secret: str) -> str | None:
    """Why `secret` cannot sign webhooks safely (None: it can): a `whsec_` prefix and at
    least MIN_SECRET_BYTES of strict base64 after it. An empty key would let anyone sign."""
    try:
        key = secret_key(secret)
    except ValueError as exc:
        return str(exc)
    if len(key) < MIN_SECRET_BYTES:
        return f"holds {len(key)} bytes of key; at least {MIN_SECRET_BYTES} are needed"
    return None


def _stale(timestamp: str) -> bool:
    """The SDK refuses these too; checked first only to log "stale" rather than "forged"."""
    try:
        return abs(time.time() - int(timestamp)) > TOLERANCE_SECONDS
    except ValueError:
        return True
