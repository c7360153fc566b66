"""The form an erased person's address keeps: a keyed hash, so mail to it is still refused
but the address itself is no longer held (manage.py forget_person).

The hash (HMAC-SHA256 of the canonical address) is stored in Suppression.email as
"forgotten:<hex>". That column's unique index serves both lookups, clear and hashed: the
address filter asks for an address and its hash in one `IN (…)`. "forgotten:" cannot begin an
address mailhub stores (no `@`, and a colon is refused outside quotes, which are refused too).

New hashes are made with MAILHUB_FORGET_KEY, or a key derived from SECRET_KEY when that is
empty. Every other key a hash may have been made with is still checked: MAILHUB_FORGET_KEY_FALLBACKS
and the keys derived from SECRET_KEY and SECRET_KEY_FALLBACKS (hashes made before
MAILHUB_FORGET_KEY was set). A key that stops being checked silently lifts the suppressions made
under it, so a key is never dropped, only kept as a fallback (docs/OPERATIONS.md)."""

import hashlib
import hmac

from django.conf import settings

PREFIX = "forgotten:"


def _keys() -> list[bytes]:
    """The key new hashes are made with first, then every key older hashes may use."""
    own = [settings.MAILHUB_FORGET_KEY, *settings.MAILHUB_FORGET_KEY_FALLBACKS]
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    # A key of its own for this one use, derived from the secret (never the secret itself).
    derived = [
        hmac.new(s.encode(), b"mailhub.forget_person", hashlib.sha256).digest() for s in secrets
    ]
    keys = [k.encode() for k in own if k] + derived
    return list(dict.fromkeys(keys))


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
