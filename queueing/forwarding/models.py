"""Webhook endpoints of API keys and the deliveries of events to them.

Imported at the end of queueing/models.py (the app's models module); models are named by
string here so this module imports nothing of queueing's and no import cycle forms.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class WebhookEndpoint(models.Model):
    """A URL an API key's service receives its messages' events at, like a Resend webhook."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    api_key = models.ForeignKey(
        "queueing.ApiKey", on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.URLField(max_length=2048)
    # Resend's event names ("email.delivered", …); empty means every email event.
    event_types = models.JSONField(default=list, blank=True)
    # "whsec_" + base64: signs every delivery. Kept as is (signing needs it), shown once.
    secret = models.CharField(max_length=100, editable=False)
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "webhook endpoint"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        state = "" if self.active else " (disabled)"
        return f"{self.url}{state}"

    def wants(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class WebhookDelivery(models.Model):
    """One event on its way to one endpoint: the body is fixed when the row is written, the
    svix-id is the same on every attempt (so the receiver can drop repeats), the signature
    and its timestamp are made at each attempt."""

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    # The stored webhook it came from (queueing's raw event table): with the endpoint, unique,
    # so an event processed again is not forwarded twice.
    raw_event_id = models.BigIntegerField()
    message = models.ForeignKey(
        "queueing.Message",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    event_type = models.CharField(max_length=64)
    msg_id = models.CharField("svix-id", max_length=40, unique=True, editable=False)
    payload = models.JSONField()  # Resend's shape: {"type", "created_at", "data": {...}}
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    # When the next attempt is due; while an attempt runs, when its claim lapses.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "webhook delivery"
        verbose_name_plural = "webhook deliveries"
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "raw_event_id"], name="webhook_delivery_once_per_event"
            )
        ]
        indexes = [
            # The sender and the reconciler: pending deliveries that are due.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="webhook_delivery_due_idx",
            ),
            # The admin's delivery log of one endpoint, newest first.
            models.Index(fields=["endpoint", "-id"], name="webhook_delivery_log_idx"),
            # Deleting messages clears this link (SET NULL): found here, not by a scan.
            models.Index(
                fields=["message"],
                condition=Q(message__isnull=False),
                name="webhook_delivery_message_idx",
            ),
            # The retention's delivery pass: where its walk over finished deliveries stops.
            models.Index(
                fields=["created_at"],
                condition=Q(status__in=["delivered", "failed"]),
                name="webhook_delivery_done_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.endpoint_id} ({self.msg_id})"
