"""Webhook endpoints: made (the secret shown once), changed, their secret rolled; and
deliveries sent again by hand. Every write of the admin and the API goes through here."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from queueing.forwarding.enqueue import request_forwarding_on_commit
from queueing.forwarding.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from queueing.forwarding.url_guard import url_problem
from queueing.models import ApiKey
from queueing.resend.webhook_signing import new_secret

# Resend's email event names: the ones an endpoint may choose (the events of messages).
EMAIL_EVENT_TYPES = (
    "email.sent",
    "email.delivered",
    "email.delivery_delayed",
    "email.bounced",
    "email.complained",
    "email.opened",
    "email.clicked",
    "email.failed",
    "email.scheduled",
    "email.suppressed",
)
MAX_ENDPOINTS_PER_KEY = 20


@dataclass(frozen=True)
class NewWebhookEndpoint:
    """An endpoint just made (or its secret just rolled): `secret` is shown this once."""

    endpoint: WebhookEndpoint
    secret: str


def validate_endpoint_settings(*, url: str, event_types: Iterable[str]) -> dict[str, Any]:
    """An endpoint's settings, cleaned; raises ValidationError keyed by field."""
    url = (url or "").strip()
    if not url:
        raise ValidationError({"url": "Give the URL the events are posted to."})
    problem = url_problem(url)
    if problem:
        raise ValidationError({"url": problem})
    wanted = sorted(set(event_types))
    unknown = [t for t in wanted if t not in EMAIL_EVENT_TYPES]
    if unknown:
        raise ValidationError(
            {
                "event_types": f"Unknown event type(s) {', '.join(unknown)}; choose among "
                f"{', '.join(EMAIL_EVENT_TYPES)} (none: all of them)."
            }
        )
    return {"url": url, "event_types": wanted}


def webhook_endpoint_create(
    *,
    api_key: ApiKey,
    url: str,
    event_types: Iterable[str] = (),
    active: bool = True,
    actor: AbstractBaseUser | None = None,
) -> NewWebhookEndpoint:
    cleaned = validate_endpoint_settings(url=url, event_types=event_types)
    if api_key.revoked_at is not None:
        raise ValidationError({"api_key": "This API key is revoked."})
    with transaction.atomic():
        # Locks the key, so two requests at once cannot pass the cap together.
        ApiKey.objects.select_for_update().filter(pk=api_key.pk).first()
        if WebhookEndpoint.objects.filter(api_key=api_key).count() >= MAX_ENDPOINTS_PER_KEY:
            raise ValidationError(
                {"api_key": f"A key may have at most {MAX_ENDPOINTS_PER_KEY} webhook endpoints."}
            )
        secret = new_secret()
        endpoint = WebhookEndpoint.objects.create(
            api_key=api_key, secret=secret, active=active, created_by=actor, **cleaned
        )
        audit_record(
            actor=actor,
            action="webhook_endpoint.create",
            target=endpoint,
            detail={"api_key": api_key.prefix, **cleaned},
        )
    return NewWebhookEndpoint(endpoint=endpoint, secret=secret)


def webhook_endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    url: str | None = None,
    event_types: Iterable[str] | None = None,
    active: bool | None = None,
    actor: AbstractBaseUser | None = None,
) -> WebhookEndpoint:
    cleaned = validate_endpoint_settings(
        url=endpoint.url if url is None else url,
        event_types=endpoint.event_types if event_types is None else event_types,
    )
    if active is not None:
        cleaned["active"] = active
    with transaction.atomic():
        for name, value in cleaned.items():
            setattr(endpoint, name, value)
        endpoint.save(update_fields=list(cleaned))
        audit_record(actor=actor, action="webhook_endpoint.update", target=endpoint, detail=cleaned)
    return endpoint


def webhook_endpoint_roll_secret(
    *, endpoint: WebhookEndpoint, actor: AbstractBaseUser | None = None
) -> NewWebhookEndpoint:
    """A new secret; deliveries from now on (retries too) are signed with it."""
    secret = new_secret()
    with transaction.atomic():
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(secret=secret)
        endpoint.secret = secret
        audit_record(actor=actor, action="webhook_endpoint.roll_secret", target=endpoint)
    return NewWebhookEndpoint(endpoint=endpoint, secret=secret)


def webhook_endpoint_delete(
    *, endpoint: WebhookEndpoint, actor: AbstractBaseUser | None = None
) -> None:
    with transaction.atomic():
        audit_record(actor=actor, action="webhook_endpoint.delete", target=endpoint)
        endpoint.delete()


def webhook_deliveries_retry(
    *, deliveries: Sequence[WebhookDelivery], actor: AbstractBaseUser | None = None
) -> int:
    """Due now, whatever their status: one more attempt each, at once. A failed delivery
    past the retry window gets that one attempt and fails again if it fails."""
    ids = [d.pk for d in deliveries]
    if not ids:
        return 0
    with transaction.atomic():
        count = WebhookDelivery.objects.filter(pk__in=ids).update(
            status=DeliveryStatus.PENDING, next_attempt_at=timezone.now(), delivered_at=None
        )
        audit_record(
            actor=actor,
            action="webhook_delivery.retry",
            target_label=f"{count} webhook deliveries",
            detail={"ids": ids[:100]},
        )
        request_forwarding_on_commit()
    return count
