"""The email provider as the queue sees it: what it can carry, and send one or a batch.

The worker knows a provider only through this interface; which one sends is the setting
MAILHUB_PROVIDER (a dotted path to a class taking no arguments; Resend's by default). The
provider builds each request body from the stored rows itself, and must build the same bytes
at every attempt (the same key with another body is refused), and it answers with the
provider-neutral outcomes of `queueing.outcomes`, never raising for a provider's answer.
"""

import threading
from typing import Protocol, runtime_checkable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from queueing.models import Message
from queueing.outcomes import BatchOutcome, SendOutcome

SETTING = "MAILHUB_PROVIDER"


@runtime_checkable
class Provider(Protocol):
    name: str  # for people: "Resend"
    max_batch: int  # the most emails one batch request may carry
    batch_allows_attachments: bool

    def send_one(self, message: Message) -> SendOutcome:
        """Send `message` alone, under its own idempotency key."""
        ...

    def send_batch(self, messages: list[Message], *, idempotency_key: str) -> BatchOutcome:
        """Send `messages` (1 to max_batch, in this order) as one request under the key."""
        ...


_providers: dict[str, Provider] = {}
_lock = threading.Lock()  # the worker's send thread and the main thread may ask at once


def get_provider() -> Provider:
    """The configured provider; one instance per process (and per value of the setting)."""
    path = settings.MAILHUB_PROVIDER
    provider = _providers.get(path)
    if provider is None:
        with _lock:
            provider = _providers.get(path)
            if provider is None:
                provider = _providers[path] = _load(path)
    return provider


def _load(path: str) -> Provider:
    try:
        factory = import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(f"{SETTING}={path!r} cannot be imported: {exc}") from exc
    try:
        provider = factory()
    except TypeError as exc:
        raise ImproperlyConfigured(
            f"{SETTING}={path!r} must name a class that takes no arguments: {exc}"
        ) from exc
    if not isinstance(provider, Provider):
        raise ImproperlyConfigured(
            f"{SETTING}={path!r} is not an email provider: it needs name, max_batch, "
            "batch_allows_attachments, send_one and send_batch"
        )
    return provider
