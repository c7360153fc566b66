"""The form an erased person's address keeps: a keyed hash, so mail to it is still refused
but the address itself is no longer held (manage.py forget_person).

The hash (HMAC-SHA256 of the canonical address) is stored in Suppression.email as
"forgotten:<hex>". That column's unique index serves both lookups, clear and hashed: the
address filter asks for an address and its hash in one `IN (…)`. "forgotten:" cannot begin an
address mailhub stores (no `@`, and a colon is refused outside quotes, which are refused too).

The key is MAILHUB_FORGET_KEY, or one derived from SECRET_KEY when that is empty; keys in
SECRET_KEY_FALLBACKS are still checked, so rotating SECRET_KEY keeps old hashes working for as
long as the old key stays a fallback. Set MAILHUB_FORGET_KEY to keep them for good."""

import hashlib
import hmac

from django.conf import settings

PREFIX = "forgotten:"


def _keys() -> list[bytes]:
    if settings.MAILHUB_FORGET_KEY:
        return [settings.MAILHUB_FORGET_KEY.encode()]
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    # A key of its own for this one use, derived from the secret (never the secret itself).
    return [
        hmac.new(s.encode(), b"mailhub.forget_person", hashlib.sha256).digest() for s in secrets
    ]


def forgotten_label(address: str) -> str:
    """What Suppression.email holds for the canonical `address` once its person is erased."""
    return PREFIX + hmac.new(_keys()[0], address.encode(), hashlib.sha256).hexdigest()


def forgotten_labels(addresses: set[str]) -> dict[str, str]:
    """{label: address} for every key still accepted (the current one first)."""
    return {
        PREFIX + hmac.new(key, a.encode(), hashlib.sha256).hexdigest(): a
        for key in _keys()
        for a in addresses
    }


def is_forgotten_label(value: str) -> bool:
    return value.startswith(PREFIX)
