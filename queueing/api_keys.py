"""API keys: made, checked and revoked here, and nowhere else.

A key is `mh_` + 8 characters of prefix + `_` + 32 random bytes (URL-safe base64). The
prefix is stored so people can tell keys apart; the whole key is stored only as its SHA-256
digest, so a copy of the database opens nothing. Checking a key is one indexed lookup by
digest. `last_used_at` is written at most once a minute per key, so a busy client does not
turn every request into an UPDATE of the same row.
"""

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone

from audit.services import NamedActor
from queueing.models import ApiKey, ApiScope

KEY_PREFIX = "mh_"
LAST_USED_PRECISION = timedelta(minutes=1)
MAX_KEY_LENGTH = 128


@dataclass(frozen=True)
class NewApiKey:
    """A key just made: `secret` is shown once and never again."""

    api_key: ApiKey
    secret: str


def digest_of(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def validate_key_settings(
    *,
    name: str,
    scopes: Iterable[str],
    allowed_from_domains: Iterable[str] = (),
    rate_limit: float | None = None,
) -> dict[str, Any]:
    """A key's settings, cleaned; raises ValidationError keyed by field (admin form too)."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Give the key a name that says who uses it."})
    scopes = sorted(set(scopes))
    unknown = [s for s in scopes if s not in ApiScope.values]
    if unknown or not scopes:
        raise ValidationError(
            {
                "scopes": f"Scopes must be some of: {', '.join(ApiScope.values)} (got {unknown or 'none'})."
            }
        )
    domains = sorted({d.strip().lower() for d in allowed_from_domains if d.strip()})
    for domain in domains:
        if "@" in domain or " " in domain or "." not in domain:
            raise ValidationError({"allowed_from_domains": f"{domain!r} is not a domain name."})
    if rate_limit is not None and not 0 < rate_limit <= 10_000:
        raise ValidationError({"rate_limit": "The rate limit is requests per second, above 0."})
    return {
        "name": name[:100],
        "scopes": scopes,
        "allowed_from_domains": domains,
        "rate_limit": rate_limit,
    }


def api_key_create(
    *,
    name: str,
    scopes: Iterable[str],
    allowed_from_domains: Iterable[str] = (),
    rate_limit: float | None = None,
    created_by=None,
) -> NewApiKey:
    cleaned = validate_key_settings(
        name=name, scopes=scopes, allowed_from_domains=allowed_from_domains, rate_limit=rate_limit
    )
    prefix = secrets.token_hex(4)
    secret = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey.objects.create(
        prefix=f"{KEY_PREFIX}{prefix}",
        digest=digest_of(secret),
        created_by=created_by,
        **cleaned,
    )
    return NewApiKey(api_key=api_key, secret=secret)


def api_key_revoke(*, api_key: ApiKey) -> None:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])


def api_key_find(secret: str) -> ApiKey | None:
    """The active key for `secret`, or None (unknown, revoked or not shaped like a key)."""
    if not secret.startswith(KEY_PREFIX) or len(secret) > MAX_KEY_LENGTH:
        return None
    try:
        # get(), not first(): the digest is unique, and first() would add the model's ORDER BY.
        api_key = ApiKey.objects.get(digest=digest_of(secret), revoked_at__isnull=True)
    except ApiKey.DoesNotExist:
        return None
    _touch(api_key)
    return api_key


def _touch(api_key: ApiKey) -> None:
    now = timezone.now()
    if api_key.last_used_at and now - api_key.last_used_at < LAST_USED_PRECISION:
        return
    # Conditional, so many workers seeing the same stale time write it once between them.
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_PRECISION)
    ApiKey.objects.filter(stale, pk=api_key.pk).update(last_used_at=now)
    api_key.last_used_at = now


def api_key_actor(api_key: ApiKey) -> NamedActor:
    """The key as the actor of what it does: named in the audit log and on timelines."""
    return NamedActor(f"API key {api_key.name} [{api_key.prefix}…]")
